"""manage.py check_task_queue: fails when a task due to run has waited too long.

The compose worker's health check: a worker that runs keeps the queue moving, so a task
due for longer than --max-wait seconds means a worker stuck, too slow, or missing.
"""

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max


class Command(BaseCommand):
    help = "Fail when a task due to run has waited longer than --max-wait seconds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--max-wait", type=float, default=60.0)

    def handle(self, *args: Any, max_wait: float, **options: Any) -> None:
        due_before = timezone.now() - timedelta(seconds=max_wait)
        # Due since it was enqueued, or since its run_after (a task put off, lesson 15).
        waiting = DBTaskResult.objects.ready().filter(
            Q(run_after=get_date_max(), enqueued_at__lt=due_before) | Q(run_after__lt=due_before)
        )
        if waiting.exists():
            raise CommandError(f"a task has been due for more than {max_wait:g} s")
        self.stdout.write("the task queue moves")
