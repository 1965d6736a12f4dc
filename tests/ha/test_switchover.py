"""A planned switchover (POST /switchover): Patroni restarts the old primary as a standby,
which ends every connection to it. An open connection of the app's is dropped, not
written through, and the next one reaches the new leader, even with the demoted node
first in its host list."""

import uuid

import pytest
from django.db import OperationalError

from tests.ha.cluster import HaCluster
from tests.helpers import wait_until

pytestmark = pytest.mark.ha


def test_it_drops_a_connection_to_the_demoted_primary(ha: HaCluster) -> None:
    old = ha.wait_for_leader()
    new = next(m["name"] for m in ha.members() if m["role"] == "sync_standby")
    other = next(node for node in ("node1", "node2", "node3") if node not in (old, new))
    # The new leader last: every other node refuses a read-write session first.
    hosts = ",".join(f"127.0.0.1:{ha.pg_port(node)}" for node in (old, other, new))
    connection = ha.django(
        f"postgres://forum:forum@{hosts}/{ha.env['APP_DB']}?target_session_attrs=read-write"
    )
    body = f"through-the-old-connection-{uuid.uuid4()}"
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT inet_server_port()")
            assert cursor.fetchone() == (ha.pg_port(old),)

        reply = ha.request(old, "/switchover", {"leader": old, "candidate": new}, timeout=30)
        assert "Successfully switched over" in reply
        assert ha.wait_for_leader(other_than=old) == new

        with pytest.raises(OperationalError), connection.cursor() as cursor:
            cursor.execute("INSERT INTO ha_probe (body) VALUES (%s)", [body])
        # Back as a standby, it answers again: a new connection tries it first.
        wait_until(lambda: old in ha.streaming(new), timeout=30, what="the old primary to follow")
        # What Django does as the next request starts (CONN_HEALTH_CHECKS).
        connection.close_if_unusable_or_obsolete()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT inet_server_port(), pg_is_in_recovery(),"
                " (SELECT count(*) FROM ha_probe WHERE body = %s)",
                [body],
            )
            assert cursor.fetchone() == (ha.pg_port(new), False, 0)
    finally:
        connection.close()
