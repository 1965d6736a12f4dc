"""Outside any request scope, the running code's own writes route its reads."""

import asyncio
import threading

import pytest
from django.db import connections, transaction

from forum.models import Tag
from routers import mark_write, read_alias, unit_of_work
from routers.context import unscoped_state
from tests.helpers import wait_for_replay, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def test_causal_reads_the_primary_until_a_replica_has_the_write(causal, tag_name):
    Tag.objects.create(name=tag_name)
    assert read_alias(Tag) == "default"

    wait_for_replay()
    # Not tied to the primary: each read chooses afresh, and every replica has it now.
    assert {read_alias(Tag) for _ in range(4)} == {"replica", "replica_2"}
    assert Tag.objects.filter(name=tag_name).exists()


def test_sticky_reads_the_primary_only_while_the_write_is_young(settings, tag_name):
    settings.ROUTERS_STRATEGY = "sticky"
    settings.ROUTERS_STICKY_SECONDS = 3
    Tag.objects.create(name=tag_name)
    assert read_alias(Tag) == "default"

    wait_until(lambda: read_alias(Tag) != "default", what="the pin to end", timeout=10)


def test_a_write_not_yet_committed_keeps_reads_on_the_primary(causal, tag_name):
    primary = connections["default"]
    primary.set_autocommit(False)
    try:
        Tag.objects.create(name=tag_name)
        assert read_alias(Tag) == "default"
        assert unscoped_state().cluster().min_lsn is None  # no position before the commit
        primary.commit()
    finally:
        primary.set_autocommit(True)

    assert read_alias(Tag) == "default"
    assert unscoped_state().cluster().min_lsn is not None


def test_inside_atomic_the_position_waits_for_the_commit(causal, tag_name):
    with transaction.atomic():
        Tag.objects.create(name=tag_name)
    after_commit = unscoped_state().cluster().min_lsn
    read_alias(Tag)

    assert after_commit is None
    assert unscoped_state().cluster().min_lsn is not None


def test_a_unit_of_work_forgets_its_writes(causal, tag_name):
    with unit_of_work():
        Tag.objects.create(name=tag_name)
        assert read_alias(Tag) == "default"

    assert read_alias(Tag).startswith("replica")


def test_mark_write_outside_a_request_routes_the_reads_after_it(causal):
    mark_write()

    assert read_alias(Tag) == "default"


def test_a_thread_has_writes_of_its_own(causal, tag_name):
    Tag.objects.create(name=tag_name)
    seen = []

    def read() -> None:
        seen.append(read_alias(Tag))
        connections.close_all()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()

    assert seen[0].startswith("replica")
    assert read_alias(Tag) == "default"


def write_in_a_task(name: str) -> None:
    async def write() -> None:
        Tag.objects.create(name=name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # a sync ORM call on the loop
        asyncio.run(write())  # in a task, with a copy of this context


def test_an_asyncio_task_shares_the_record_its_parent_had(causal, tag_name):
    read_alias(Tag)  # the parent has a record before it creates the task

    write_in_a_task(tag_name)

    assert read_alias(Tag) == "default"


def test_an_asyncio_task_of_a_parent_without_a_record_keeps_its_own(causal, tag_name):
    write_in_a_task(tag_name)

    assert read_alias(Tag).startswith("replica")
