"""Copy the forum's pending activity events to the analytics database (forum/outbox.py)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from forum.outbox import relay, relay_all


class Command(BaseCommand):
    help = "Relay pending activity events from the forum's outbox to the analytics database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "ids", nargs="*", type=int, help="only these outbox rows (lesson 7 relays its own)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        relayed = relay(options["ids"]) if options["ids"] else relay_all()
        self.stdout.write(f"relayed {relayed} event{'s' if relayed != 1 else ''}")
