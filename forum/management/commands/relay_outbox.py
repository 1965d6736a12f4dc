"""Copy the forum's pending activity events to the analytics database (forum/outbox.py)."""

from typing import Any

from django.core.management.base import BaseCommand

from forum.outbox import relay_all


class Command(BaseCommand):
    help = "Relay pending activity events from the forum's outbox to the analytics database."

    def handle(self, *args: Any, **options: Any) -> None:
        relayed = relay_all()
        self.stdout.write(f"relayed {relayed} event{'s' if relayed != 1 else ''}")
