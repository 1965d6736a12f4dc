"""Causal read-your-writes through a pooler in transaction mode (PgBouncer).

The replica alias reaches both test standbys through the stack's PgBouncer: one applies
at once, the other holds commits back 3 s. The pooler gives each transaction whichever
server connection is free, and other clients take the one that just ran the replay
check (`/tag-contended/` plays such a client). Without being told the alias is pooled,
the routers check one server and read another; told, they keep the check and the reads
in one transaction, so on one server.
"""

import os

import dj_database_url
import psycopg
import pytest
from django.db import connections

from routers import forget
from tests.helpers import NODES, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]

ATTEMPTS = 40


@pytest.fixture
def pooled_replica(stack, settings):
    """The "replica" alias through the pooler's entry for every standby. Yields a
    function that sets one standby's apply delay (named by its own alias)."""
    pooled = dj_database_url.parse(os.environ["POOLED_REPLICAS_URL"])
    replica = connections["replica"]
    original = dict(replica.settings_dict)
    own = {"replica": original, "replica_2": connections["replica_2"].settings_dict}

    def set_delay(delay: str, alias: str) -> None:
        stack.run("lag", delay, NODES[alias])
        server = own[alias]
        with psycopg.connect(
            host=server["HOST"],
            port=server["PORT"],
            dbname=server["NAME"],
            user=server["USER"],
            password=server["PASSWORD"],
        ) as direct:
            wait_until(
                lambda: direct.execute("SHOW recovery_min_apply_delay").fetchone()[0] == delay,
                what=f"{alias} to reload its apply delay",
            )

    replica.close()
    replica.settings_dict.update({key: pooled[key] for key in ("HOST", "PORT", "NAME")})
    settings.ROUTERS_CLUSTERS = {**settings.ROUTERS_CLUSTERS, "default": ["replica"]}
    yield set_delay
    replica.close()
    replica.settings_dict.clear()
    replica.settings_dict.update(original)
    forget()
    stack.set_lag("1s")


def stale_reads(client, set_delay, tag_name) -> tuple[int, set[str]]:
    """Write, then read through the busy pooler: (404s, aliases read).

    Which standby a request's first transaction meets depends on the pooler's queue of
    idle server connections, which may settle into a pattern. So half the attempts run
    with the first standby slow and half with the second: either way, each standby is
    the fast one for some of them.
    """
    missed, served = 0, set()
    for slow, fast in (("replica_2", "replica"), ("replica", "replica_2")):
        set_delay("3s", slow)
        set_delay("0", fast)
        for attempt in range(ATTEMPTS // 2):
            name = f"{tag_name[:20]}-{slow[-1]}{attempt}"
            client.post(f"/create/{name}")
            response = client.get(f"/tag-contended/{name}")
            missed += response.status_code == 404
            served.add(response.content.decode())
    return missed, served


def test_a_check_on_one_pooled_server_does_not_vouch_for_the_next(
    client, pooled_replica, tag_name, settings
):
    settings.ROUTERS_POOLED_REPLICAS = []

    missed, _ = stale_reads(client, pooled_replica, tag_name)

    assert missed > 0


def test_told_the_alias_is_pooled_it_checks_and_reads_on_one_server(
    client, pooled_replica, tag_name, settings
):
    settings.ROUTERS_POOLED_REPLICAS = ["replica"]

    missed, served = stale_reads(client, pooled_replica, tag_name)

    assert missed == 0
    assert "replica" in served  # not by sending every read to the primary


def test_a_request_ends_its_pooled_transaction_and_keeps_the_connection(
    client, pooled_replica, tag_name, settings
):
    settings.ROUTERS_POOLED_REPLICAS = ["replica"]
    client.post(f"/create/{tag_name}")

    client.get(f"/tag/{tag_name}")

    replica = connections["replica"]
    assert replica.connection is not None  # kept, not closed by Django afterwards
    assert replica.get_autocommit() is True


def test_under_atomic_requests_it_checks_inside_the_requests_transaction(
    client, pooled_replica, tag_name, settings, monkeypatch
):
    # Django opens the view's transaction on the pooled alias itself: a replay check
    # run in autocommit before it would be a transaction of its own, on any server.
    settings.ROUTERS_POOLED_REPLICAS = ["replica"]
    monkeypatch.setitem(connections["replica"].settings_dict, "ATOMIC_REQUESTS", True)

    missed, served = stale_reads(client, pooled_replica, tag_name)

    assert missed == 0
    assert "replica" in served
