"""routers.tasks: a task carries its enqueuer's writes and reads them back.

Against the real stack, replicas holding commits back for 3 s. What runs on the worker
runs on the project's own worker process (`task_worker`, under causal); the decisions a
task's wrapper makes before its function runs are also called here, in this process
(`Task.call`, as the worker calls it), where the test can break what it meets.
"""

import logging
import time
import uuid
from datetime import timedelta

import pytest
from django.core import checks
from django.db import transaction
from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from forum.models import Tag
from routers import (
    RequestState,
    conf,
    enqueue_on_commit,
    enqueue_with_writes,
    request_scope,
    task_scope,
)
from routers.positions import Position, primary_position
from routers.tokens import Write, dumps, loads, writes_known
from tests.helpers import finished_task, unreachable
from tests.routers.tasks import (
    read_tags,
    read_tags_delayed,
    read_tags_delayed_with_context,
    read_then_fail,
    write_a_tag_then_enqueue,
)
from tests.tasks_framework import IMMEDIATE_BACKEND, task

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def causal(settings):
    """Tasks called in this process route as the worker does."""
    settings.ROUTERS_STRATEGY = "causal"


@pytest.fixture
def name() -> str:
    """A tag name of the test's own: a replica may still hold an earlier test's rows
    (their deletes replay late too)."""
    return f"w-{uuid.uuid4().hex[:12]}"


def written(*names: str) -> str:
    """Create tags `names` in a routing scope of their own; the token of its writes."""
    with request_scope(RequestState()) as state:
        for name in names:
            Tag.objects.create(name=name)
        return dumps(writes_known(state))


def stored_kwargs(result_id: str) -> dict:
    return DBTaskResult.objects.get(id=result_id).args_kwargs["kwargs"]


def enqueued(**kwargs) -> list[DBTaskResult]:
    return [
        row
        for row in DBTaskResult.objects.filter(task_path=read_tags.module_path)
        if row.args_kwargs["kwargs"].get("names") == kwargs["names"]
    ]


# --- On the worker ------------------------------------------------------------------


@pytest.mark.usefixtures("task_worker")
def test_a_task_reads_its_enqueuers_write_and_one_that_carries_nothing_does_not(
    lagging_replicas, name
):
    token = written(name)
    carried = read_tags.enqueue(names=[name], routers_writes=token)
    plain = read_tags.enqueue(names=[name])

    assert finished_task(read_tags, carried.id).return_value == {
        "found": [name],
        "alias": "default",
    }
    nothing = finished_task(read_tags, plain.id).return_value
    assert nothing["found"] == []
    assert nothing["alias"] in ("replica", "replica_2")


@pytest.mark.usefixtures("task_worker")
@pytest.mark.parametrize("carry", [True, False])
def test_a_task_passes_its_own_writes_on_to_the_task_it_enqueues(lagging_replicas, carry, name):
    token = written(f"{name}-request")
    names = [f"{name}-request", f"{name}-task"]

    first = write_a_tag_then_enqueue.enqueue(
        name=f"{name}-task", then=names, carry=carry, routers_writes=token
    )
    second = finished_task(write_a_tag_then_enqueue, first.id).return_value
    read = finished_task(read_tags, second).return_value

    if carry:  # the request's write and the first task's, both carried on
        assert read == {"found": sorted(names), "alias": "default"}
    else:  # neither
        assert read["found"] == []


@pytest.mark.usefixtures("task_worker")
@pytest.mark.parametrize(
    "token", ["", "garbled", "default=1@0/0@1", "x" * 10_000, 42, ["not", "a", "token"]]
)
def test_a_task_given_a_bad_token_runs_as_if_it_carried_nothing(lagging_replicas, token, name):
    Tag.objects.create(name=name)

    result = finished_task(read_tags, read_tags.enqueue(names=[name], routers_writes=token).id)

    assert result.status == "SUCCESSFUL"
    assert result.return_value["found"] == []


@pytest.mark.usefixtures("task_worker")
def test_a_delayed_task_that_takes_its_context_is_retried_without_it(lagging_replicas, name):
    token = written(name)

    first = read_tags_delayed_with_context.enqueue(names=[name], routers_writes=token)
    retry = finished_task(read_tags_delayed_with_context, first.id).return_value
    result = finished_task(read_tags_delayed_with_context, retry[conf.TASK_RETRIED_AS], 30)

    assert result.return_value == {"found": [name], "attempt": 1}


# --- Enqueued after the commit ---------------------------------------------------------


def test_a_task_enqueued_inside_atomic_is_enqueued_after_the_commit_with_its_position():
    with request_scope(RequestState()), transaction.atomic():
        Tag.objects.create(name="w-atomic")
        before_commit = primary_position()
        enqueue_on_commit(read_tags, names=["w-atomic"])
        assert enqueued(names=["w-atomic"]) == []

    (row,) = enqueued(names=["w-atomic"])
    (write,) = loads(row.args_kwargs["kwargs"][conf.TASK_WRITES_KEYWORD])
    assert write.primary == "default"
    assert write.position.lsn > before_commit.lsn  # past the commit record


def test_a_task_enqueued_in_a_block_that_rolls_back_is_never_enqueued():
    def write_enqueue_and_fail() -> None:
        with transaction.atomic():
            Tag.objects.create(name="w-rolled-back")
            enqueue_on_commit(read_tags, names=["w-rolled-back"])
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        write_enqueue_and_fail()

    assert enqueued(names=["w-rolled-back"]) == []


def test_a_task_enqueued_inside_blocks_on_two_primaries_waits_for_both():
    with transaction.atomic(using="default"):
        with transaction.atomic(using="analytics"):
            enqueue_on_commit(read_tags, names=["w-two"])
        assert enqueued(names=["w-two"]) == []  # analytics committed, default not yet
    assert len(enqueued(names=["w-two"])) == 1


def test_enqueue_with_writes_refuses_an_open_block():
    with transaction.atomic(), pytest.raises(transaction.TransactionManagementError):
        enqueue_with_writes(read_tags, names=["w-refused"])


def test_a_task_enqueued_outside_any_scope_or_after_no_write_carries_nothing():
    outside = enqueue_with_writes(read_tags, names=["w-outside"])
    with request_scope(RequestState()):
        unwritten = enqueue_with_writes(read_tags, names=["w-unwritten"])

    assert conf.TASK_WRITES_KEYWORD not in stored_kwargs(outside.id)
    assert conf.TASK_WRITES_KEYWORD not in stored_kwargs(unwritten.id)


def test_a_task_enqueued_by_a_script_after_its_write_carries_it():
    Tag.objects.create(name="w-script")
    enqueued_after = enqueue_with_writes(read_tags, names=["w-script"])

    (write,) = loads(stored_kwargs(enqueued_after.id)[conf.TASK_WRITES_KEYWORD])
    assert write.primary == "default"
    assert write.position is not None


def enqueue_only(request):
    """A view whose only write is the task's row in the queue."""
    enqueue_on_commit(read_tags, names=["w-view"])
    return HttpResponse("queued")


urlpatterns = [path("enqueue", enqueue_only)]


def test_the_queued_row_is_a_write_the_client_is_given_a_position_for(client, settings):
    settings.ROUTERS_STRATEGY = "causal"
    settings.ROOT_URLCONF = __name__

    response = client.post("/enqueue")

    assert len(enqueued(names=["w-view"])) == 1
    assert conf.PIN_COOKIE in response.cookies
    assert conf.LSN_COOKIE in response.cookies


@pytest.mark.usefixtures("causal")
def test_on_djangos_immediate_backend_a_task_runs_in_a_scope_of_its_own_inside_the_request(
    settings, lagging_replicas, name
):
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE_BACKEND}}

    with request_scope(RequestState()) as state:
        enqueue_with_writes(write_a_tag_then_enqueue, name=name, then=[], carry=False)
        assert state.primaries_written() == {"default"}  # the task's write, handed back
    with request_scope(RequestState()):
        Tag.objects.create(name=f"{name}-request")
        read = enqueue_with_writes(read_tags, names=[f"{name}-request"]).return_value
    assert read == {"found": [f"{name}-request"], "alias": "default"}


# --- The wrapper's decisions, called here ------------------------------------------------


@pytest.mark.usefixtures("causal")
def test_a_forged_or_another_clusters_token_carries_nothing(lagging_replicas, name):
    Tag.objects.create(name=name)
    position = primary_position()
    elsewhere = dumps([Write("default", time.time(), Position(position.lsn, 1234567))])
    forged = written(f"{name}-signed").replace("default=", "default=9", 1)  # not as signed

    for token in (elsewhere, forged, forged[:-3] + "abc"):
        read = read_tags.call(names=[name], routers_writes=token)
        assert read["found"] == [], token


@pytest.mark.usefixtures("causal")
def test_a_delayed_task_behind_every_replica_is_enqueued_again_once_later(lagging_replicas, name):
    token = written(name)

    started = timezone.now()
    first = read_tags_delayed.call(names=[name], routers_writes=token)
    retry = DBTaskResult.objects.get(id=first[conf.TASK_RETRIED_AS])

    retry_kwargs = retry.args_kwargs["kwargs"]
    assert retry_kwargs == {
        "names": [name],
        conf.TASK_WRITES_KEYWORD: token,
        conf.TASK_RETRIED_KEYWORD: True,
    }
    later = timedelta(seconds=conf.sticky_seconds())
    assert started + later <= retry.run_after <= timezone.now() + later
    # The retry runs, caught up or not: on the primary while no replica has the write.
    assert read_tags_delayed.call(**retry_kwargs) == {"found": [name], "alias": "default"}


@pytest.mark.usefixtures("causal")
def test_a_delayed_task_runs_at_once_when_a_replica_has_the_write_or_none_answers(
    lagging_replicas, name
):
    token = written(name)
    with unreachable("replica", "replica_2"):
        read = read_tags_delayed.call(names=[name], routers_writes=token)
    assert read == {"found": [name], "alias": "default"}

    lagging_replicas.wait_for_replay()
    read = read_tags_delayed.call(names=[name], routers_writes=token)
    assert read["found"] == [name]
    assert read["alias"] in ("replica", "replica_2")


def test_it_refuses_what_it_cannot_carry_writes_to():
    plain = task(unscoped)

    for enqueue in (enqueue_on_commit, enqueue_with_writes):
        with pytest.raises(TypeError, match="decorate its function with @task_scope"):
            enqueue(plain, name="x")
    with pytest.raises(TypeError, match="under @task"):
        task_scope(read_tags)
    with pytest.raises(TypeError, match="under @task"):
        task_scope(an_async_task)
    with pytest.raises(ValueError, match="use one of sticky, delayed"):
        task_scope(mode="eventually")


def unscoped(*, name: str) -> None: ...


async def an_async_task() -> None: ...


# --- The setting ---------------------------------------------------------------------


def routers_checks() -> list[str]:
    return [m.id for m in checks.run_checks() if m.id and m.id.startswith("routers.")]


def test_the_checks_name_an_unknown_mode_and_a_delayed_mode_no_backend_can_delay(settings):
    assert routers_checks() == []

    settings.ROUTERS_TASK_MODE = "eventually"
    assert "routers.E014" in routers_checks()

    settings.ROUTERS_TASK_MODE = "delayed"
    assert routers_checks() == []  # django-tasks-db runs a task later
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE_BACKEND}}
    assert "routers.E015" in routers_checks()


@pytest.mark.usefixtures("causal")
def test_each_run_of_a_task_logs_where_its_reads_went_and_why(lagging_replicas, name, caplog):
    caplog.set_level(logging.INFO, logger="routers.decisions")
    token = written(name)

    read_tags.call(names=[name], routers_writes=token)
    read_tags_delayed.call(names=[name], routers_writes=token)

    ran, retried = [r for r in caplog.records if r.name == "routers.decisions"]
    assert ran.routing["task"] == read_tags.module_path
    assert ran.routing["outcome"] == "done"
    ((decision),) = ran.routing["primaries"]["default"]["decisions"]
    assert (decision["alias"], decision["reason"]) == ("default", "not_replayed")
    assert ran.routing["primaries"]["default"]["statements"] == {"default": 1}
    assert ran.getMessage().startswith(f"task {read_tags.module_path} done causal: default ->")
    assert retried.routing["outcome"] == "enqueued again"


@pytest.mark.usefixtures("causal")
def test_a_task_that_fails_still_logs_where_its_reads_went(name, caplog):
    caplog.set_level(logging.INFO, logger="routers.decisions")

    with pytest.raises(RuntimeError, match="the task's own error"):
        read_then_fail.call(names=[name])

    (failed,) = [r.routing for r in caplog.records if r.name == "routers.decisions"]
    assert (failed["task"], failed["outcome"]) == (read_then_fail.module_path, "failed")
    assert sum(failed["primaries"]["default"]["statements"].values()) == 1
