"""The position a write leaves its client: past the write's commit, and one the replicas
reach soon after the commit, whatever else the primary's WAL holds."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection, transaction

from forum.models import Tag
from routers import read_alias
from tests.helpers import Stack, connect, fetch, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def prompt_replicas(stack: Stack) -> Iterator[Stack]:
    """Replicas that apply each commit at once; back to the stack's 1 s afterwards."""
    stack.set_lag("0")
    yield stack
    stack.set_lag("1s")


@contextmanager
def another_transaction_writing(name: str) -> Iterator[None]:
    """Another session's transaction, left open after writing a row: WAL after the
    write's commit that the primary flushes only when something else makes it (a
    commit, a filled page, the background writer's snapshot of the running
    transactions, 15 s apart), so sends to no standby until then."""
    other = connect("default")
    try:
        other.execute(f"INSERT INTO {Tag._meta.db_table} (name) VALUES (%s)", [name])
        yield
    finally:
        other.rollback()
        other.close()


def unflushed_wal() -> bool:
    return fetch("default", "SELECT pg_current_wal_flush_lsn() < pg_current_wal_insert_lsn()")


def test_causal_reads_a_replica_soon_after_a_write_with_unflushed_wal_behind_it(
    causal, prompt_replicas, tag_name
):
    Tag.objects.create(name=tag_name)
    with another_transaction_writing(f"{tag_name}-open"):
        assert unflushed_wal()

        # The position is read now (the first read after the commit). The primary's
        # insert position would be past the open transaction's WAL: no replica would
        # reach it for up to 15 s.
        wait_until(lambda: read_alias(Tag) != "default", timeout=2, what="a replica to serve")
        assert Tag.objects.filter(name=tag_name).exists()


@pytest.mark.parametrize("scope", ["LOCAL", "SESSION"])
def test_a_write_committed_asynchronously_is_on_the_replica_that_serves_it(causal, tag_name, scope):
    # After the commit a SET LOCAL is gone: the session's setting cannot tell that the
    # commit was not flushed, and the flush position may be before it.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET {scope} synchronous_commit = off")
        Tag.objects.create(name=tag_name)
    read_alias(Tag)  # the position, read now
    connection.cursor().execute("RESET synchronous_commit")

    wait_until(lambda: read_alias(Tag) != "default", what="a replica to serve")
    assert Tag.objects.filter(name=tag_name).exists()
