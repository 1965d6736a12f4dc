"""Lesson 15: a task enqueued by a request that wrote reads the write on the real worker.

The worker is the project's own process (`manage.py db_worker`, the `task_worker`
fixture), routing under causal; the replicas hold every commit back for 3 s, so a task
the worker picks up at once always reaches them before the write does.
"""

import pytest

from lab.lessons.task_reads_its_request_write import (
    CARRYING_NOTHING,
    DELAYED,
    STICKY,
    task_after_write,
)
from lab.tasks import find_tag_carrying_nothing, find_tag_delayed, find_tag_sticky

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "task_worker")]
# A queue no worker polls: what a run meets when no worker runs.
NO_WORKERS_QUEUE = "nobody-polls-this"


def test_a_task_carrying_nothing_reads_a_replica_without_the_write(lagging_replicas):
    outcome = task_after_write(CARRYING_NOTHING, find_tag_carrying_nothing, carry=False)

    assert outcome.correct is False, outcome.summary
    assert outcome.summary.startswith("not found: replica")
    assert outcome.trace[-1].alias in ("replica", "replica_2")


def test_a_sticky_task_reads_the_write_on_the_primary(lagging_replicas):
    outcome = task_after_write(STICKY, find_tag_sticky, carry=True)

    assert outcome.correct is True, outcome.summary
    assert outcome.summary.startswith("the task found the row on default")


def test_a_delayed_task_runs_again_later_and_reads_the_write_on_a_replica(lagging_replicas):
    # The retry comes ROUTERS_STICKY_SECONDS (5) later: past the replicas' 3 s delay.
    outcome = task_after_write(DELAYED, find_tag_delayed, carry=True)

    assert outcome.correct is True, outcome.summary
    assert outcome.summary.startswith("the task found the row on replica")
    assert outcome.summary.endswith("in its one retry")


def test_a_run_no_worker_takes_up_says_not_run_and_why(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks_db.DatabaseBackend",
            "QUEUES": ["default", NO_WORKERS_QUEUE],
        }
    }
    unpolled = find_tag_sticky.using(queue_name=NO_WORKERS_QUEUE)

    outcome = task_after_write(STICKY, unpolled, carry=True)

    assert outcome.verdict.good is None
    assert outcome.summary.startswith("no worker ran the task within 5 s of its being due")
