"""/healthz: every node up or down, with lag, as JSON; 503 when the primary is down."""

import time

import pytest
from django.contrib.auth.models import Group

from routers import forget
from tests.helpers import REACHABLE_POSITION_SQL, fetch, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def test_it_reports_each_node_and_the_lag_of_a_held_back_write(client, lagging_replicas):
    Group.objects.create(name="pending")

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["primary"]["up"] is True
    assert [r["alias"] for r in body["replicas"]] == ["replica", "replica_2"]
    for replica in body["replicas"]:
        assert replica["up"] is True
        assert replica["lag_bytes"] > 0
        assert replica["apply_delay"] == "3s"


def test_it_reports_no_lag_once_replayed(client, stack):
    stack.wait_for_replay()

    def lags():
        return [r["lag_bytes"] for r in client.get("/healthz").json()["replicas"]]

    wait_until(lambda: lags() == [0, 0], what="healthz to report zero lag")


def test_it_answers_503_json_when_the_primary_is_down(client, stack):
    stack.stop("default")
    try:
        response = client.get("/healthz")
    finally:
        stack.start("default")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "primary down"
    assert body["primary"]["up"] is False
    assert all(replica["up"] for replica in body["replicas"])
    wait_until(lambda: client.get("/healthz").status_code == 200, what="the primary to return")


def test_it_ages_only_what_the_replica_lacks_not_its_last_apply(client, stack, lagging_replicas):
    # A quiet spell first: every replica holds nothing back, and the last commit it
    # applied is over two seconds old. Both at once: a commit nobody here made (an
    # autoanalyze of the rows earlier tests wrote) may be on its way behind the delay.
    def quiet(alias: str) -> bool:
        written_so_far = fetch("default", REACHABLE_POSITION_SQL)
        return bool(
            fetch(
                alias,
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
                " AND now() - pg_last_xact_replay_timestamp() > interval '2 s'",
                (written_so_far,),
            )
        )

    wait_until(lambda: quiet("replica") and quiet("replica_2"), what="a quiet spell")
    written = time.monotonic()
    Group.objects.create(name="after-a-quiet-spell")

    replicas = client.get("/healthz").json()["replicas"]
    asked = time.monotonic()

    for replica in replicas:
        assert replica["lag_bytes"] > 0  # the write is held back (3 s)...
        # ...and it is as old as the write, not as the last commit the replica applied.
        assert 0 < replica["lag_seconds"] <= asked - written + 0.5
    stack.wait_for_replay()
    wait_until(
        lambda: [r["lag_seconds"] for r in client.get("/healthz").json()["replicas"]] == [0, 0],
        what="zero seconds once replayed",
    )


def test_it_says_which_replicas_serve_reads(client, stack, lagging_replicas, settings):
    settings.ROUTERS_MAX_LAG_SECONDS = 1
    stack.set_lag("0", "replica_2")
    Group.objects.create(name="older-than-the-bound")
    stack.wait_for_replay("replica_2")

    def in_rotation():
        return {r["alias"]: r["in_rotation"] for r in client.get("/healthz").json()["replicas"]}

    # replica holds the write back 3 s: past the 1 s bound for the rest of that time.
    wait_until(lambda: in_rotation() == {"replica": False, "replica_2": True}, what="the bound")
    wait_until(lambda: in_rotation() == {"replica": True, "replica_2": True}, what="the replay")


@pytest.fixture
def no_walinspect(stack):
    """The app's role may not read the WAL (the grant is optional): the replicas'
    own estimates are all there is."""
    grant = "EXECUTE ON FUNCTION pg_get_wal_records_info(pg_lsn, pg_lsn)"
    stack.run("psql", "primary", "-q", "-c", f"REVOKE {grant} FROM forum")
    forget()
    yield
    stack.run("psql", "primary", "-q", "-c", f"GRANT {grant} TO forum")
    forget()


def test_it_answers_while_a_restarted_replica_has_applied_nothing_yet(
    client, settings, stack, no_walinspect
):
    settings.ROUTERS_STRATEGY = "causal"
    stack.run("psql", "primary", "-q", "-c", "CHECKPOINT")
    stack.wait_for_replay()
    stack.run("psql", "replica1", "-q", "-c", "CHECKPOINT")  # nothing left to replay on start
    stack.stop("replica")
    stack.start("replica")
    stack.set_lag("10s", "replica")
    try:
        Group.objects.create(name="held-back-on-a-fresh-start")  # nothing applied yet
        health = client.get("/healthz")
        page = client.get("/")
    finally:
        stack.set_lag("1s")

    assert health.status_code == 200
    assert {r["alias"]: r["lag_seconds"] for r in health.json()["replicas"]}["replica"] is None
    assert page.status_code == 200


def test_it_bounds_a_replica_cut_off_from_the_primary_without_walinspect(
    client, settings, stack, no_walinspect
):
    settings.ROUTERS_MAX_LAG_SECONDS = 1
    original = stack.run("psql", "replica1", "-Atc", "SHOW primary_conninfo").strip()
    stack.run(
        "psql",
        "replica1",
        "-q",
        "-c",
        "ALTER SYSTEM SET primary_conninfo = 'port=1'",
        "-c",
        "SELECT pg_reload_conf()",
    )
    try:
        wait_until(
            lambda: fetch("replica", "SELECT count(*) FROM pg_stat_wal_receiver") == 0,
            what="replica's WAL receiver to stop",
        )
        Group.objects.create(name="never-received")

        def replica():
            body = client.get("/healthz").json()
            return next(r for r in body["replicas"] if r["alias"] == "replica")

        # It has applied all it received, yet it is behind: not 0 s, and out of rotation.
        cut_off = wait_until(
            lambda: (r := replica())["lag_bytes"] and not r["in_rotation"] and r, what="the bound"
        )
        assert cut_off["lag_seconds"] > 1
    finally:
        set_conninfo = (
            f"ALTER SYSTEM SET primary_conninfo = '{original.replace(chr(39), chr(39) * 2)}'"
        )
        stack.run("psql", "replica1", "-q", "-c", set_conninfo, "-c", "SELECT pg_reload_conf()")
        stack.wait_for_replay()
