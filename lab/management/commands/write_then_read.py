"""Lesson 14's script: write a tag, then read it back, as code outside a request does."""

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from forum.models import Tag
from lab.trace import traced
from routers import primary_lsn


class Command(BaseCommand):
    help = (
        "Create the tag NAME, then read it back READS times; prints what each read found"
        " and where it ran (JSON). Routed with ROUTERS_STRATEGY (FORUM_ROUTING)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--reads", type=int, default=4)

    def handle(self, *args: Any, **options: Any) -> None:
        Tag.objects.create(name=options["name"])
        committed_at, lsn = time.monotonic(), primary_lsn()
        reads = []
        for _ in range(options["reads"]):
            read_at = time.monotonic()
            with traced() as statements:
                found = Tag.objects.filter(name=options["name"]).exists()
            reads.append({"alias": statements[-1].alias, "found": found, "at": read_at})
        self.stdout.write(json.dumps({"committed_at": committed_at, "lsn": lsn, "reads": reads}))
