"""Lesson 15's tasks, run by the worker: each looks for the row its enqueuer wrote, under
causal, and says what it found, where it read and when.

Three setups of one read: enqueued carrying nothing, then carrying the enqueuer's writes
in each mode (routers/tasks.py). The causal strategy is the task's own, whatever the
worker's ROUTERS_STRATEGY: what differs between the rows is only what the task carries.
"""

import time
from typing import Any

from forum.models import Tag
from routers import RequestState, read_alias, request_scope, task_scope

from .harness import under_strategy

try:
    from django.tasks import task
except ImportError:  # Django 5.2 (Python 3.11): the django-tasks backport
    from django_tasks import task  # type: ignore[no-redef]


def look_for(name: str) -> dict[str, Any]:
    with under_strategy("causal"):
        found = Tag.objects.filter(name=name).exists()
        return {"found": found, "alias": read_alias(Tag), "at": time.time()}


@task()
def find_tag_carrying_nothing(*, name: str) -> dict[str, Any]:
    """Enqueued with plain `enqueue()`: its scope holds no write of its enqueuer."""
    with request_scope(RequestState()):
        return look_for(name)


@task()
@task_scope(mode="sticky")
def find_tag_sticky(*, name: str) -> dict[str, Any]:
    return look_for(name)


@task()
@task_scope(mode="delayed")
def find_tag_delayed(*, name: str) -> dict[str, Any]:
    return look_for(name)
