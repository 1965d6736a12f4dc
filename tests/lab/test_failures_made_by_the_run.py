"""Lessons 8, 9 and 10 show their failure on the default demo (one replica, a pooler):
the run makes it happen itself, within a bound, and leaves the cluster as it found it.

One replica is the routers' view of the stack here: ROUTERS_CLUSTERS names one standby
per primary, as `make demo` configures them (the test stack runs two)."""

import re

import pytest

from lab.cluster import set_replay_paused
from lab.lessons.transaction_pooling import (
    CHECK_THEN_READ,
    CLIENT_SIDE,
    ONE_TRANSACTION,
    SERVER_SIDE_CURSOR,
)
from routers import forget
from tests.helpers import fetch, free_port

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def verdicts(response) -> dict[str, str]:
    """What each row compares: its verdict's word."""
    rows = re.findall(
        r'<tr data-strategy="([^"]+)" data-correct="(?:yes|no)">\s*<td>[^<]*</td>\s*'
        r'<td class="verdict [a-z]+" data-verdict="([^"]+)">',
        response.content.decode(),
    )
    return dict(rows)


@pytest.fixture
def one_replica(settings, stack, live_db):
    """The routers see one standby per primary, as on `make demo`."""
    settings.ROUTERS_CLUSTERS = {"default": ["replica"], "analytics": ["analytics_replica"]}
    forget()
    stack.wait_for_replay()
    return "replica"


@pytest.fixture
def controls(settings, stack, live_db):
    """The cluster controls on (make demo); every replica replaying again afterwards."""
    settings.LAB_CLUSTER_CONTROLS = True
    # Three times the stack's 1 s apply delay: only the paused replica falls past it.
    settings.ROUTERS_MAX_LAG_SECONDS = 3
    yield
    for alias in ("replica", "replica_2"):
        set_replay_paused(alias, False)
    stack.wait_for_replay()


def replaying(alias: str) -> bool:
    return fetch(alias, "SELECT pg_get_wal_replay_pause_state()") == "not paused"


@pytest.mark.usefixtures("controls")
def test_lesson_8_pauses_the_one_replica_for_its_run_and_resumes_it(client, one_replica):
    response = client.post("/lab/dead-or-lagging-replica/")

    assert verdicts(response) == {"naive": "stale", "sticky": "fresh", "causal": "fresh"}
    page = response.content.decode()
    assert "replica did not have the new tag" in page
    assert re.search(r"read the new tag from default \(replica skipped, [\d.]+ s behind\)", page)
    assert replaying(one_replica)


@pytest.mark.usefixtures("controls")
def test_lesson_8_with_two_replicas_reads_the_one_not_held_back(client):
    response = client.post("/lab/dead-or-lagging-replica/")

    assert verdicts(response) == {"naive": "stale", "sticky": "fresh", "causal": "fresh"}
    assert "read the new tag from replica_2" in response.content.decode()
    assert replaying("replica")


@pytest.mark.usefixtures("controls")
def test_lesson_8_leaves_a_replica_paused_before_it_paused(client, one_replica):
    set_replay_paused(one_replica, True)

    verdict = verdicts(client.post("/lab/dead-or-lagging-replica/"))

    assert verdict["naive"] == "stale"
    assert not replaying(one_replica)


def test_lesson_8_without_the_controls_runs_on_the_cluster_as_it_is(client, one_replica):
    page = client.get("/lab/dead-or-lagging-replica/").content.decode()
    assert "the cluster controls are off on this server" in page

    response = client.post("/lab/dead-or-lagging-replica/")

    assert verdicts(response) == {"naive": "fresh", "sticky": "fresh", "causal": "fresh"}


@pytest.mark.usefixtures("controls")
def test_lesson_9_mixes_the_replica_and_the_primary_under_naive(client, one_replica):
    response = client.post("/lab/replica-per-query/")

    assert verdicts(response) == {"naive": "mixed", "sticky": "coherent", "causal": "coherent"}
    page = response.content.decode()
    assert re.search(r"counted 0 on replica and listed 1 row from default", page) or re.search(
        r"counted 1 on default and listed 0 rows from replica", page
    )
    assert replaying(one_replica)


@pytest.mark.usefixtures("controls")
def test_lesson_9_with_two_replicas_holds_one_back(client):
    response = client.post("/lab/replica-per-query/")

    assert verdicts(response) == {"naive": "mixed", "sticky": "coherent", "causal": "coherent"}
    assert "one page read replica, replica_2" in response.content.decode()
    assert replaying("replica")


def test_lesson_10_checks_then_reads_behind_the_pooler_with_one_replica(client, one_replica):
    response = client.post("/lab/transaction-pooling/")

    assert verdicts(response) == {
        SERVER_SIDE_CURSOR: "error",
        CLIENT_SIDE: "no error",
        CHECK_THEN_READ: "unchecked",
        ONE_TRANSACTION: "checked",
    }
    assert "needs two standbys" not in response.content.decode()


def test_lesson_10_without_a_pooler_says_not_run_and_why(client, settings):
    refused = str(free_port())
    settings.POOLED_DATABASES = {
        entry: {**config, "PORT": refused} for entry, config in settings.POOLED_DATABASES.items()
    }

    response = client.post("/lab/transaction-pooling/")

    assert set(verdicts(response).values()) == {"not run"}
    assert response.content.decode().count(f"no pooler answers at 127.0.0.1:{refused}") == 4
