"""Lesson 16's requests, served under ATOMIC_REQUESTS (run it with
--settings=lab.atomic_requests_settings); what they did, as JSON on stdout."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from lab.cluster import ControlError
from lab.lessons.atomic_requests import runs


class Command(BaseCommand):
    help = "Serve lesson 16's requests with ATOMIC_REQUESTS on; print what they ran, as JSON."
    # It warns of ATOMIC_REQUESTS (routers.W012): that is what it is run for.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            found = runs()
        except (ControlError, DatabaseError) as error:  # a node down, say
            raise CommandError(str(error).splitlines()[0]) from error
        self.stdout.write(json.dumps(found))
