"""Tasks for test_tasks.py: module-level, so the worker process finds them too."""

from typing import Any

from forum.models import Tag
from routers import enqueue_with_writes, read_alias, task_scope
from tests.tasks_framework import TaskContext, task


@task()
@task_scope
def read_tags(*, names: list[str]) -> dict[str, Any]:
    """Which of `names` the task's read finds, and on which alias."""
    found = Tag.objects.filter(name__in=names).values_list("name", flat=True)
    return {"found": sorted(found), "alias": read_alias(Tag)}


@task()
@task_scope(mode="delayed")
def read_tags_delayed(*, names: list[str]) -> dict[str, Any]:
    found = Tag.objects.filter(name__in=names).values_list("name", flat=True)
    return {"found": sorted(found), "alias": read_alias(Tag)}


@task(takes_context=True)
@task_scope(mode="delayed")
def read_tags_delayed_with_context(context: TaskContext, *, names: list[str]) -> dict[str, Any]:
    found = Tag.objects.filter(name__in=names).values_list("name", flat=True)
    return {"found": sorted(found), "attempt": context.attempt}


@task()
@task_scope
def write_a_tag_then_enqueue(*, name: str, then: list[str], carry: bool) -> str:
    """Write tag `name`, then enqueue `read_tags` for `then`, carrying this task's writes
    or nothing; the id of the task it enqueued."""
    Tag.objects.create(name=name)
    if carry:
        return str(enqueue_with_writes(read_tags, names=then).id)
    return str(read_tags.enqueue(names=then).id)


@task()
@task_scope
def read_then_fail(*, names: list[str]) -> None:
    list(Tag.objects.filter(name__in=names))
    raise RuntimeError("the task's own error")
