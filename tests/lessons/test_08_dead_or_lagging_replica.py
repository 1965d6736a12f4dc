"""Lesson 8: a dead or far-behind replica is skipped; none left means the primary."""

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import OperationalError

from lab.cluster import set_replay_paused
from lab.lessons.mirror_hides_lag import flush_wal
from routers import (
    RequestState,
    conf,
    forget,
    lag_bytes,
    read_alias,
    request_scope,
    usable_replicas,
)
from tests.helpers import connect, fetch, wait_until

# Table locks a standby holds as it replays them (its startup process's), on one table
# or on any.
REPLAYED_LOCK_ON = (
    "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass"
    " AND mode = 'AccessExclusiveLock' AND granted"
)
REPLAYED_LOCKS = (
    "SELECT count(*) FROM pg_locks"
    " WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock' AND granted"
)

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def count_groups(strategy: str, prefix: str = "") -> tuple[str, int]:
    """One request's worth of reading: where it went and what it saw."""
    with request_scope(RequestState(strategy=strategy)):
        return read_alias(Group), Group.objects.filter(name__startswith=prefix).count()


def naive_count_or_error() -> int | Exception:
    try:
        return Group.objects.count()
    except OperationalError as error:
        return error


def test_it_fails_under_naive_and_reads_elsewhere_with_the_health_check(stack):
    Group.objects.create(name="still-readable")
    stack.wait_for_replay()
    stack.stop("replica")
    try:
        # naive keeps sending every other query to the dead replica.
        with request_scope(RequestState(strategy="naive")):
            first = naive_count_or_error()
            second = naive_count_or_error()
        assert OperationalError in {type(first), type(second)}

        for _ in range(4):
            assert count_groups("causal", "still-readable") == ("replica_2", 1)

        stack.stop("replica_2")
        assert count_groups("sticky", "still-readable") == ("default", 1)
    finally:
        stack.start("replica")
        stack.start("replica_2")


def test_it_comes_back_to_a_replica_that_restarts(stack):
    stack.stop("replica")
    stack.stop("replica_2")
    try:
        assert count_groups("causal")[0] == "default"
    finally:
        stack.start("replica")
        stack.start("replica_2")

    assert count_groups("causal")[0].startswith("replica")


def test_it_skips_a_replica_lagging_past_the_threshold(stack, settings):
    # Well above WAL noise (a full-page image is 8 KiB), well below 500 new rows.
    settings.ROUTERS_MAX_LAG_BYTES = 16 * 1024
    stack.set_lag("0", "replica_2")
    stack.set_lag("1min", "replica")
    try:
        # The apply delay holds back commit records only: a replica replays a
        # transaction's rows up to its commit, then waits. So a first commit stops
        # it, and the 500 rows after it are WAL it has not replayed.
        Group.objects.create(name="held-back-0")
        Group.objects.bulk_create(Group(name=f"held-back-{n}") for n in range(1, 501))
        stack.wait_for_replay("replica_2")

        seen = {count_groups("causal", "held-back-") for _ in range(4)}
    finally:
        stack.set_lag("1s")

    # replica is more than the threshold behind: never used while it is.
    assert seen == {("replica_2", 501)}


@pytest.fixture
def paused_replica(stack):
    """replica with its replay paused (as the cluster panel pauses it); resumed afterwards."""
    stack.wait_for_replay()
    set_replay_paused("replica", True)
    wait_until(lambda: fetch("replica", "SELECT pg_is_wal_replay_paused()"), what="the pause")
    try:
        yield "replica"
    finally:
        set_replay_paused("replica", False)
        stack.wait_for_replay()


def test_it_skips_a_replica_stale_past_the_time_bound_though_few_bytes_behind(
    paused_replica, settings
):
    settings.ROUTERS_MAX_LAG_SECONDS = 5
    Group.objects.create(name="waiting-0")
    forget()
    # Well within the byte bound (64 MiB): it cannot see that this replica is stale. One
    # row is a few hundred bytes, but a checkpoint's full-page images or autovacuum may
    # add some hundreds of KiB meanwhile, which the bound is also far above.
    assert lag_bytes("replica") < conf.max_lag_bytes() // 16

    # Within the bound (the write is seconds younger) it still serves reads, stale: the
    # round-robin reaches it.
    seen = {count_groups("causal", "waiting-") for _ in range(4)}
    assert ("replica", 0) in seen

    wait_until(lambda: "replica" not in usable_replicas(), what="the time bound")
    seen = {count_groups("causal", "waiting-") for _ in range(4)}
    assert seen == {("replica_2", 1)}

    set_replay_paused("replica", False)
    wait_until(
        lambda: ("replica", 1) in {count_groups("causal", "waiting-") for _ in range(2)},
        what="replica back in rotation after resuming",
    )


@pytest.fixture
def own_table(stack):
    """A table of this test's own, on every replica; dropped afterwards, and the drop
    replayed (it takes an ACCESS EXCLUSIVE lock too)."""
    name = "lesson_8_locked"
    with connect("default", autocommit=True) as primary:
        primary.execute(f"CREATE TABLE IF NOT EXISTS {name} (id int)")
    stack.wait_for_replay()
    yield name
    with connect("default", autocommit=True) as primary:
        primary.execute(f"DROP TABLE {name}")
    stack.wait_for_replay()


def reads_within(alias: str, table: str, timeout: str) -> bool:
    """Whether a read of `table` on `alias` returns within `timeout`."""
    with connect(alias, autocommit=True) as reader:
        reader.execute(f"SET statement_timeout = '{timeout}'")
        try:
            reader.execute(f"SELECT count(*) FROM {table}")
        except psycopg.errors.QueryCanceled:
            return False
    return True


def pausing_on(standby: psycopg.Connection) -> bool:
    """Whether a statement that pauses replay runs on `standby` (other than its own)."""
    running = standby.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
        " AND state = 'active' AND query LIKE '%pg_wal_replay_pause()%'"
    ).fetchone()
    return bool(running and running[0])


def test_it_pauses_a_replica_where_no_replayed_table_lock_blocks_its_reads(own_table):
    app = settings.DATABASES["default"]
    # The app's role, as the lab's controls connect: it may pause replay, and it sees
    # the lab's own statement in pg_stat_activity.
    standby = connect("replica", user=app["USER"], password=app["PASSWORD"], autocommit=True)
    locker = connect("default")
    pausing = ThreadPoolExecutor(max_workers=1)
    try:
        # Held open on the primary, the lock stays held on the replica, which releases it
        # only when it replays the transaction's end: no window to catch.
        locker.execute(f"LOCK TABLE {own_table} IN ACCESS EXCLUSIVE MODE")
        flush_wal()  # else the lock's record may wait on the primary for the next commit
        wait_until(
            lambda: fetch("replica", REPLAYED_LOCK_ON, (own_table,)),
            what="replica to replay the lock",
        )

        # A plain pause keeps the lock, and the table's reads wait for replay to resume.
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            wait_until(
                lambda: fetch("replica", "SELECT pg_get_wal_replay_pause_state()") == "paused",
                what="the plain pause",
            )
            assert fetch("replica", REPLAYED_LOCK_ON, (own_table,)) == 1
            assert not reads_within("replica", own_table, "1s")
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")

        # The lab's pause cannot return while the lock is held: it resumes and tries again.
        paused = pausing.submit(set_replay_paused, "replica", True)
        wait_until(
            lambda: paused.done() or pausing_on(standby),
            what="the lab's pause to run on the replica",
        )
        assert not paused.done(), "the lab's pause returned while replay held the lock"
        assert fetch("replica", REPLAYED_LOCK_ON, (own_table,)) == 1

        # The commit is flushed at once (the transaction wrote WAL: the lock's record).
        # The replica applies it after its apply delay (1 s on the test stack), well
        # within the lab's 10 s of tries, and then pauses clear of the lock.
        locker.commit()
        paused.result(timeout=30)  # the lab gives up, with an error, after about 10 s
        assert fetch("replica", "SELECT pg_get_wal_replay_pause_state()") == "paused"
        assert fetch("replica", REPLAYED_LOCKS) == 0
        assert reads_within("replica", own_table, "1s")
    finally:
        locker.close()  # ends the transaction if it is still open
        pausing.shutdown()
        set_replay_paused("replica", False)
        standby.close()
