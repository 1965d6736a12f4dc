"""ATOMIC_REQUESTS on the primary: the view's own block is read like no block until the
request writes or locks rows; every other block keeps its reads on the primary.

Django wraps each view in `atomic(using="default")` (`BaseHandler.make_view_atomic`).
The routers used to send every read inside any atomic block to the primary, so every
read of every page. The views (tests/routers/atomic_requests_urls.py) answer where the
routers send a read of tags at each step, and whether it found the tag.
"""

from collections.abc import Callable

import pytest
from asgiref.sync import async_to_sync
from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from psycopg import IsolationLevel

from forum.models import Tag
from routers import conf, read_alias
from routers.lag import REPLICA_ESTIMATE_SQL
from tests.helpers import fetch, wait_for_replay, wait_until
from tests.routers.urls import lost_replica

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "atomic_requests")]


class BlockAroundTheView:
    """A middleware of the project's own that runs the rest of the request in atomic()."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with transaction.atomic():
            return self.get_response(request)


class BlockOnTheWayOut:
    """A middleware that opens atomic() after the view, and says where a read went in it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        with transaction.atomic():
            response["X-Read-In-Block"] = read_alias(Tag)
        return response


@pytest.fixture
def atomic_requests(settings, monkeypatch):
    """ATOMIC_REQUESTS on the primary's alias, where Django's handler reads it; causal."""
    monkeypatch.setitem(connections.settings[conf.primary()], "ATOMIC_REQUESTS", True)
    settings.ROUTERS_STRATEGY = "causal"
    settings.ROOT_URLCONF = "tests.routers.atomic_requests_urls"


def with_middleware(settings, middleware: type) -> None:
    """`middleware` right below RoutingMiddleware."""
    middleware_list = list(settings.MIDDLEWARE)
    at = middleware_list.index("routers.middleware.RoutingMiddleware") + 1
    middleware_list.insert(at, f"{__name__}.{middleware.__name__}")
    settings.MIDDLEWARE = middleware_list


def test_it_reads_a_read_only_page_from_a_replica(client, tag_name):
    read = client.get(f"/tag/{tag_name}").json()["read"]

    assert read == [False, read[1]]
    assert read[1] in conf.replicas()


def test_it_reads_the_primary_after_a_write_and_sees_the_uncommitted_row(client, tag_name):
    answer = client.get(f"/write/{tag_name}").json()

    assert answer["before"][1] in conf.replicas()
    assert answer["after"] == [True, "default"]  # the row exists only in the transaction


def test_it_reads_the_primary_after_select_for_update(client, tag_name):
    answer = client.get(f"/lock/{tag_name}").json()

    assert answer["before"][1] in conf.replicas()
    assert answer["after"][1] == "default"


def test_it_keeps_a_block_of_the_views_own_on_the_primary(client, tag_name):
    answer = client.get(f"/nested/{tag_name}").json()

    assert answer["inside"][1] == "default"
    assert answer["after"][1] in conf.replicas()  # back in the request's own block


def test_it_keeps_an_atomic_view_on_the_primary(client, tag_name):
    # @transaction.atomic is the view's own block, nested in the request's.
    assert client.get(f"/atomic-view/{tag_name}").json()["read"][1] == "default"


def test_it_reads_a_non_atomic_view_from_a_replica(client, tag_name):
    assert client.get(f"/non-atomic/{tag_name}").json()["read"][1] in conf.replicas()


def test_it_tells_each_primarys_block_apart(client, tag_name, monkeypatch):
    monkeypatch.setitem(connections.settings["analytics"], "ATOMIC_REQUESTS", True)

    answer = client.get(f"/event/{tag_name}").json()

    assert answer["event"] == "analytics"  # its block wrote
    assert answer["tag"] in conf.replicas()  # the forum's has not


def test_it_serves_a_page_when_a_primary_named_in_the_settings_has_no_alias(
    client, tag_name, settings
):
    # routers.E001 reports it; the pages of the other primaries do not fail over it.
    # (Only for the request: the test's cleanup deletes rows on every primary.)
    with override_settings(ROUTERS_CLUSTERS={**settings.ROUTERS_CLUSTERS, "missing": []}):
        read = client.get(f"/tag/{tag_name}").json()["read"]

    assert read[1] in conf.replicas()


def test_it_keeps_a_block_a_worker_thread_opens_on_the_primary(client, tag_name):
    # The worker's connection is its own: its first block is not the request's.
    assert client.get(f"/worker/{tag_name}").json()["inside"][1] == "default"


def test_it_keeps_a_middlewares_block_around_the_view_on_the_primary(client, tag_name, settings):
    with_middleware(settings, BlockAroundTheView)

    assert client.get(f"/tag/{tag_name}").json()["read"][1] == "default"


def test_it_keeps_a_middlewares_block_on_the_way_out_on_the_primary(client, tag_name, settings):
    with_middleware(settings, BlockOnTheWayOut)

    response = client.get(f"/tag/{tag_name}")

    assert response.json()["read"][1] in conf.replicas()
    assert response["X-Read-In-Block"] == "default"


def test_it_takes_a_block_on_the_way_out_for_the_views_after_a_view_that_read_nothing(
    client, settings
):
    # The documented limit: no read inside the view's block told it apart, so the next
    # block opened before RoutingMiddleware's response, a middleware's, is taken for it.
    with_middleware(settings, BlockOnTheWayOut)

    assert client.get("/no-query")["X-Read-In-Block"] in conf.replicas()


def test_it_keeps_a_block_in_a_streamed_body_on_the_primary(client, tag_name):
    response = client.get(f"/stream/{tag_name}")

    outside, inside = b"".join(response.streaming_content).decode().split()
    assert outside in conf.replicas()
    assert inside == "default"


def test_it_keeps_the_primary_rule_under_repeatable_read(client, tag_name, monkeypatch):
    # The view's block is then one snapshot, which its reads may count on.
    primary = connections.settings[conf.primary()]
    options = {**primary["OPTIONS"], "isolation_level": IsolationLevel.REPEATABLE_READ}
    monkeypatch.setitem(primary, "OPTIONS", options)
    connections[conf.primary()].close()

    try:
        read = client.get(f"/tag/{tag_name}").json()["read"]
    finally:
        connections[conf.primary()].close()

    assert read[1] == "default"


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_next_request_reads_the_write(client, tag_name, method):
    getattr(client, method)(f"/write/{tag_name}")

    # The cookie's position was read after the view's block committed.
    assert client.get(f"/tag/{tag_name}").json()["read"][0] is True


def test_it_reads_a_replica_under_asgi(async_client, tag_name):
    # The sync view runs in a thread of its own: so does process_view, on its connection.
    response = async_to_sync(async_client.get)(f"/tag/{tag_name}")

    assert response.json()["read"][1] in conf.replicas()


@pytest.mark.parametrize(("view", "read"), [("tag", "read"), ("nested", "after")])
def test_it_measures_a_replicas_lag_on_the_primary_inside_the_views_block(
    client, tag_name, settings, view, read
):
    # After a quiet spell a replica's own estimate (the time since it last applied a
    # commit) overstates; the primary's WAL says how old what it lacks is. It is asked
    # before the view's transaction begins, and after (a block of the view's own began
    # it, with its SAVEPOINT).
    # Past the 1 s apply delay: the commit below is younger than that until replayed,
    # however slowly the request follows it.
    settings.ROUTERS_MAX_LAG_SECONDS = 2
    # A commit every replica then applies: a replica restarted by an earlier test and
    # given nothing to apply since has no estimate at all (NULL).
    fetch("default", "SELECT txid_current()")
    wait_for_replay()
    wait_until(
        lambda: all(
            (fetch(alias, f"SELECT {REPLICA_ESTIMATE_SQL}") or 0) > 2 for alias in conf.replicas()
        ),
        what="a quiet spell longer than ROUTERS_MAX_LAG_SECONDS on every replica",
    )
    Tag.objects.create(name=f"{tag_name}-new")  # the only commit the replicas lack

    assert client.get(f"/{view}/{tag_name}").json()[read][1] in conf.replicas()


def test_with_the_primary_down_every_page_is_the_read_only_page(client, tag_name, stack):
    # What routers.W012 warns of: Django connects to the primary to open the view's block.
    stack.stop("default")
    try:
        wrapped = client.get(f"/tag/{tag_name}")
        not_wrapped = client.get(f"/non-atomic/{tag_name}")
    finally:
        stack.start("default")

    assert wrapped.status_code == 503
    assert b"read-only" in wrapped.content
    assert not_wrapped.json()["read"][1] in conf.replicas()


def test_with_atomic_requests_on_a_replica_every_page_fails_while_it_is_down(
    tag_name, stack, monkeypatch
):
    # What routers.W014 warns of: the other replica is up, yet no page can use it.
    monkeypatch.setitem(connections.settings["replica"], "ATOMIC_REQUESTS", True)
    stack.stop("replica")
    try:
        status = Client(raise_request_exception=False).get(f"/tag/{tag_name}").status_code
    finally:
        stack.start("replica")

    assert status == 500


def test_it_serves_a_get_again_on_another_replica_after_losing_its_replica(
    client, tag_name, settings
):
    # The second run is wrapped in a new block of Django's, told apart again.
    settings.ROOT_URLCONF = "tests.routers.urls"

    response = client.get(f"/lose-replica/{tag_name}")

    assert response.status_code == 404  # the tag does not exist: found no row, no 500
    assert response.content.decode() != lost_replica[tag_name]
    assert response.content.decode() in conf.replicas()


def test_it_serves_a_get_again_after_losing_the_primary_inside_the_views_block(
    client, tag_name, settings
):
    settings.ROOT_URLCONF = "tests.routers.urls"

    response = client.get(f"/lose-primary/{tag_name}")

    assert response.status_code == 404
    assert response.content.decode() == "default"  # reconnected: it is up
