"""Lesson 15: a request writes and enqueues a task; the task, on the worker, reads the write.

Each setup runs through the real middleware and the real worker process (`manage.py
db_worker`, started beside the web server): a POST creates a row and enqueues a task
that looks for it (lab/tasks.py), then the run waits for the worker to report.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django_tasks_db.models import DBTaskResult

from forum.models import Tag
from routers import RoutingMiddleware, conf, enqueue_with_writes

from ..tasks import find_tag_carrying_nothing, find_tag_delayed, find_tag_sticky
from ..trace import Statement, traced
from ..verdicts import ERROR, FRESH, NOT_RUN, STALE
from .base import Lesson, Outcome, lab_tag

CARRYING_NOTHING = "enqueue(): no position"
STICKY = "enqueue_with_writes(), sticky mode"
DELAYED = "enqueue_with_writes(), delayed mode"
# How long a run waits for a worker to take a task up once it is due (the demo's polls
# every 0.5 s), and then for the task to finish.
PICKUP_TIMEOUT = 5.0
RUN_TIMEOUT = 20.0


def finished(task: Any, result_id: str, due_in: float = 0.0) -> Any:
    """The task's result once a worker has finished it; None if no worker took it up
    within PICKUP_TIMEOUT of its being due (`due_in` seconds from now), or it ran past
    RUN_TIMEOUT."""
    picked_up_by = time.monotonic() + due_in + PICKUP_TIMEOUT
    while True:
        result = task.get_result(result_id)
        if result.is_finished:
            return result
        waiting = result.status == "READY"
        if time.monotonic() > (picked_up_by if waiting else picked_up_by + RUN_TIMEOUT):
            return None
        time.sleep(0.05)


@contextmanager
def lab_task_results() -> Iterator[list[str]]:
    """The ids of a run's task results, deleted from the queue's table afterwards; not
    one a worker is running still (it updates its row when the task ends, and a row gone
    by then stops it)."""
    ids: list[str] = []
    try:
        yield ids
    finally:
        DBTaskResult.objects.filter(id__in=ids).exclude(status="RUNNING").delete()


def outcome_of(
    setup: str,
    task: Any,
    result_id: str,
    written: tuple[Statement, ...],
    ran: list[str],
    began: float,
) -> Outcome:
    """What the task reported, once the worker ran it (its retry, for a delayed one),
    after the request's statements `written`: its read joins their trace."""
    ran.append(result_id)
    result = finished(task, result_id)
    retried = False
    if result is not None and result.status == "SUCCESSFUL":
        retry = (result.return_value or {}).get(conf.TASK_RETRIED_AS)
        if retry is not None:
            retried = True
            ran.append(retry)
            result = finished(task, retry, due_in=conf.sticky_seconds())
    if result is None:
        return Outcome(
            setup,
            NOT_RUN,
            f"no worker ran the task within {PICKUP_TIMEOUT:.0f} s of its being due: start "
            "one beside the web server (python manage.py db_worker)",
        )
    if result.status != "SUCCESSFUL":
        return Outcome(setup, ERROR, f"the task failed: {result.errors[-1].traceback[-200:]}")
    read: dict[str, Any] = result.return_value
    read_ms = round((read["at"] - began) * 1000, 1)
    trace = (*written, Statement(read_ms, read["alias"], "SELECT", failed=False))
    when = f"{read_ms / 1000:.1f} s after the request began"
    if retried:
        when += ", in its one retry"
    if read["found"]:
        summary = f"the task found the row on {read['alias']}, {when}"
        return Outcome(setup, FRESH, summary, trace=trace)
    summary = f"not found: {read['alias']} had not replayed the write yet, {when}"
    return Outcome(setup, STALE, summary, trace=trace)


def task_after_write(setup: str, task: Any, carry: bool) -> Outcome:
    """A POST that writes a row and enqueues `task` to look for it; what the task saw."""
    with lab_tag() as name:

        def write(request: HttpRequest) -> HttpResponse:
            Tag.objects.create(name=name)
            result = enqueue_with_writes(task, name=name) if carry else task.enqueue(name=name)
            return HttpResponse(str(result.id))

        began = time.time()
        with traced() as statements:
            response = RoutingMiddleware(write)(RequestFactory().post("/"))
        with lab_task_results() as ran:
            result_id = response.content.decode()
            return outcome_of(setup, task, result_id, tuple(statements), ran, began)


def run() -> list[Outcome]:
    return [
        task_after_write(CARRYING_NOTHING, find_tag_carrying_nothing, carry=False),
        task_after_write(STICKY, find_tag_sticky, carry=True),
        task_after_write(DELAYED, find_tag_delayed, carry=True),
    ]


LESSON = Lesson(
    number=15,
    slug="task-reads-its-request-write",
    title="The task that cannot find what its request wrote",
    problem="A view writes a row and enqueues a background task that reads it. The task runs "
    "in the worker, outside the request, with nothing of the writer's: its read goes to a "
    "[replica](../glossary.md#replica) that has not [replayed](../glossary.md#replay) the write "
    "yet.",
    fix="Carry the writer's [position](../glossary.md#lsn) with the task, enqueued after the "
    "commit, and run the task in a routing scope that holds it: a replica that has replayed "
    "it, else the [primary](../glossary.md#primary) (sticky mode), or the task once more a "
    "little later (delayed mode).",
    run=run,
    compares="Setup",
)
