"""The leader's node dies (its Patroni and its PostgreSQL killed with SIGKILL): a standby
takes over within Patroni's TTL and a few seconds, the app's multi-host DATABASE_URL
writes to it without a restart, nothing committed before is lost (synchronous mode),
and the dead node, started again, comes back as a standby of the new leader.

One kill for the module: the tests look at its outcome from different sides.
"""

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper

from tests.ha.cluster import HaCluster
from tests.helpers import wait_until

pytestmark = pytest.mark.ha

# What "a few seconds" after the TTL allows: a promotion, the next loop of each node.
GRACE_SECONDS = 5


@dataclass
class Failover:
    old: str
    new: str
    #: From the kill to the new leader's Patroni saying so, and to the app's first write.
    elected_after: float
    written_after: float
    #: The app's connection, opened on the old leader before it died.
    connection: BaseDatabaseWrapper
    #: A row committed on the old leader before it died, and one on the new leader after.
    before: str
    after: str
    #: The server the write after the failover reached.
    written_on: tuple[int, bool]


def insert(connection: BaseDatabaseWrapper, body: str) -> tuple[int, bool]:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ha_probe (body) VALUES (%s)"
            " RETURNING inet_server_port(), pg_is_in_recovery()",
            [body],
        )
        port, in_recovery = cursor.fetchone()
        return port, in_recovery


def count(connection: BaseDatabaseWrapper, body: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ha_probe WHERE body = %s", [body])
        found: int = cursor.fetchone()[0]
        return found


@pytest.fixture(scope="module")
def failover(ha_cluster: HaCluster, django_db_blocker: Any) -> Iterator[Failover]:
    with django_db_blocker.unblock():
        ha_cluster.whole()
        connection = ha_cluster.django(ha_cluster.urls()["DATABASE_URL"])
        before, after = f"before-{uuid.uuid4()}", f"after-{uuid.uuid4()}"
        insert(connection, before)
        old = ha_cluster.wait_for_leader()
        bound = ha_cluster.ttl + GRACE_SECONDS + 10

        killed = time.monotonic()
        ha_cluster.run("kill", old)
        new = ha_cluster.wait_for_leader(other_than=old, timeout=bound)
        elected_after = time.monotonic() - killed

        def written() -> tuple[int, bool] | None:
            # What Django does as each request starts (CONN_HEALTH_CHECKS): a broken
            # connection is dropped, the next query connects through the host list.
            connection.close_if_unusable_or_obsolete()
            try:
                return insert(connection, after)
            except OperationalError:
                return None

        written_on = wait_until(written, timeout=bound, interval=0.1, what="a write")
        yield Failover(
            old,
            new,
            elected_after,
            time.monotonic() - killed,
            connection,
            before,
            after,
            written_on,
        )
        connection.close()


def test_it_elects_a_new_leader_within_the_ttl(ha: HaCluster, failover: Failover) -> None:
    assert failover.new != failover.old
    assert failover.elected_after < ha.ttl + GRACE_SECONDS


def test_it_writes_to_the_new_leader_without_a_restart(ha: HaCluster, failover: Failover) -> None:
    assert failover.written_on == (ha.pg_port(failover.new), False)
    assert failover.written_after < ha.ttl + GRACE_SECONDS


def test_it_keeps_what_the_old_leader_committed(failover: Failover, ha: HaCluster) -> None:
    failover.connection.close_if_unusable_or_obsolete()

    assert count(failover.connection, failover.before) == 1


def test_it_takes_the_killed_node_back_as_a_standby(ha: HaCluster, failover: Failover) -> None:
    ha.run("start", failover.old)  # nothing to do if an earlier test's cleanup started it
    leader = ha.wait_for_leader()

    wait_until(
        lambda: failover.old in ha.streaming(leader), timeout=60, what="the old leader to stream"
    )

    def timelines() -> dict[str, int]:
        return {member["name"]: member.get("timeline", 0) for member in ha.members()}

    # Patroni reports a member's timeline on its next loop after it rejoined.
    wait_until(
        lambda: timelines()[failover.old] == timelines()[leader],
        timeout=10,
        what="the old leader on the new timeline",
    )
    # It follows the new timeline: the write made after the failover reaches it.
    sql = f"SELECT count(*) FROM ha_probe WHERE body = '{failover.after}'"
    wait_until(
        lambda: ha.superuser_query(failover.old, sql) == [("1",)],
        timeout=30,
        what="the old leader to replay the new leader's write",
    )
