"""Two primaries, each with its replicas: the forum's and the analytics database.

Every decision is made per primary: a write on one pins and positions only that one, an
open atomic() block counts only for its own primary's models, and a replica lost in one
cluster changes nothing for the other. The replicas hold each commit back.
"""

import pytest
from django.db import router, transaction
from django.utils import timezone

from analytics.models import Event
from forum.models import Tag
from lab.middleware import STRATEGY_COOKIE
from routers import RequestState, conf, mark_write, read_alias, request_scope, usable_replicas
from tests.helpers import unreachable

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]

FORUM_REPLICAS = {"replica", "replica_2"}
ANALYTICS_REPLICAS = {"analytics_replica", "analytics_replica_2"}


def test_each_model_is_written_on_its_apps_primary():
    assert router.db_for_write(Event) == "analytics"
    assert router.db_for_write(Tag) == "default"


def test_each_app_migrates_on_its_own_primary_only():
    assert router.allow_migrate("analytics", "analytics") is True
    assert router.allow_migrate("default", "analytics") is False
    assert router.allow_migrate("analytics", "forum") is False
    assert router.allow_migrate("analytics_replica", "analytics") is False


def test_a_write_sets_only_its_own_primarys_cookies(client, tag_name):
    response = client.post(f"/event/create/{tag_name}")

    assert {"routers_pin_analytics", "routers_lsn_analytics"} <= set(response.cookies)
    assert conf.PIN_COOKIE not in response.cookies
    assert conf.LSN_COOKIE not in response.cookies


def test_a_write_on_analytics_is_read_back_and_the_forum_stays_on_its_replicas(
    client, lagging_replicas, tag_name
):
    client.post(f"/event/create/{tag_name}")

    follow = client.get(f"/event/{tag_name}")
    tag_alias, event_alias = client.get(f"/both/{tag_name}").content.decode().split()

    assert follow.status_code == 200, f"read from {follow.content.decode()}"
    assert follow.content.decode() == "analytics"  # its replicas are 3 s behind
    assert tag_alias in FORUM_REPLICAS
    assert event_alias == "analytics"


def test_naive_loses_the_analytics_write(client, lagging_replicas, tag_name):
    client.cookies[STRATEGY_COOKIE] = "naive"
    client.post(f"/event/create/{tag_name}")

    follow = client.get(f"/event/{tag_name}")

    assert follow.status_code == 404
    assert follow.content.decode() in ANALYTICS_REPLICAS


def test_an_atomic_block_counts_only_for_its_own_primarys_models():
    with request_scope(RequestState(strategy="causal")), transaction.atomic(using="default"):
        assert read_alias(Tag) == "default"
        assert read_alias(Event) in ANALYTICS_REPLICAS
    with request_scope(RequestState(strategy="causal")), transaction.atomic(using="analytics"):
        Event.objects.create(kind="lab", title="in-block", occurred_at=timezone.now())
        assert read_alias(Event) == "analytics"
        assert Event.objects.filter(title="in-block").exists()
        assert read_alias(Tag) in FORUM_REPLICAS
        transaction.set_rollback(True, using="analytics")


@pytest.fixture
def dead_analytics_replicas():
    with unreachable(*ANALYTICS_REPLICAS):
        yield


def test_a_cluster_without_replicas_leaves_the_other_on_its_own(dead_analytics_replicas, tag_name):
    with request_scope(RequestState(strategy="causal")):
        # Rows of this test's own name: a replica may still hold another test's rows.
        assert not Event.objects.filter(title=tag_name).exists()
        assert not Tag.objects.filter(name=tag_name).exists()
        assert read_alias(Event) == "analytics"
        assert read_alias(Tag) in FORUM_REPLICAS
    assert set(usable_replicas("default")) == FORUM_REPLICAS
    assert usable_replicas("analytics") == []


@pytest.fixture
def analytics_down():
    with unreachable("analytics"):
        yield


def test_another_primary_down_turns_no_forum_error_into_the_read_only_page(client, analytics_down):
    client.raise_request_exception = False

    response = client.post("/time-out")

    assert response.status_code == 500  # the forum's own error, not "the primary is down"


def test_healthz_says_degraded_while_only_another_primary_is_down(client, analytics_down):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["clusters"][0]["primary"]["up"] is False


def test_mark_write_refuses_an_alias_that_is_no_primary():
    with pytest.raises(ValueError, match="analytics_replica"):
        mark_write("analytics_replica")
