"""Lesson 19's story: a failover on a pair of the run's own, in a process of its own."""

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.test import override_settings

from lab.failover_pair import PairError
from lab.lessons.failover_loses_writes import story


class Command(BaseCommand):
    help = (
        "Build a primary and a standby under ROOT (an empty directory), fail over, and "
        "print what the writes and their positions became (JSON). The servers are left "
        "for the caller to remove (lab.failover_pair.remove_servers)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("root", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        # Positions under causal, and the pair's standby as the only replica of default.
        clusters = {**settings.ROUTERS_CLUSTERS, "default": ["replica"]}
        try:
            with override_settings(ROUTERS_STRATEGY="causal", ROUTERS_CLUSTERS=clusters):
                seen = story(options["root"])
        except PairError as error:
            seen = {"not_run": str(error)}
        self.stdout.write(json.dumps(seen))
