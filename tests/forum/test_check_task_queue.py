"""manage.py check_task_queue, the compose worker's health check: it fails once a task
due to run has waited longer than --max-wait seconds."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.routers.tasks import read_tags

pytestmark = pytest.mark.django_db


def waiting(seconds: float, run_after: timedelta | None = None) -> DBTaskResult:
    """A task enqueued `seconds` ago (to run `run_after` after that), not yet run."""
    task = read_tags.using(run_after=timezone.now() + run_after) if run_after else read_tags
    row = DBTaskResult.objects.get(id=task.enqueue(names=[]).id)
    row.enqueued_at = timezone.now() - timedelta(seconds=seconds)
    row.save(update_fields=["enqueued_at"])
    return row


def test_it_passes_while_no_task_has_waited_long():
    waiting(5)

    call_command("check_task_queue", "--max-wait", "60")


def test_it_fails_once_a_task_has_waited_longer_than_the_bound():
    waiting(90)

    with pytest.raises(CommandError, match="due for more than 60 s"):
        call_command("check_task_queue", "--max-wait", "60")


def test_it_counts_a_task_put_off_from_when_it_is_due():
    row = waiting(90, run_after=timedelta(seconds=10))
    call_command("check_task_queue", "--max-wait", "60")

    row.run_after = timezone.now() - timedelta(seconds=61)
    row.save(update_fields=["run_after"])
    with pytest.raises(CommandError):
        call_command("check_task_queue", "--max-wait", "60")


def test_it_leaves_finished_and_running_tasks_out():
    for status in ("RUNNING", "SUCCESSFUL", "FAILED"):
        row = waiting(90)
        row.status = status
        row.save(update_fields=["status"])

    call_command("check_task_queue", "--max-wait", "60")
