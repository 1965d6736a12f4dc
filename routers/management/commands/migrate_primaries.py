"""`manage.py migrate_primaries`: `migrate` on every primary of ROUTERS_CLUSTERS.

`migrate` runs on one database; with several primaries, each needs its own run (the
routers' allow_migrate puts each app's tables on its own primary only). Replicas get
their schema through replication.
"""

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from routers import conf


class Command(BaseCommand):
    help = "Run migrate on every primary database the routers know (ROUTERS_CLUSTERS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")

    def handle(self, *args: Any, **options: Any) -> None:
        for primary in conf.primaries():
            if options["verbosity"] >= 1:
                self.stdout.write(f"Migrating {primary!r}")
            call_command(
                "migrate",
                database=primary,
                interactive=options["interactive"],
                verbosity=options["verbosity"],
                stdout=self.stdout,
                stderr=self.stderr,
            )
