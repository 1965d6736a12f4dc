"""Router decisions on an event loop, where Django refuses every query: none runs one.

No database here (pytest-django refuses it too): a decision that probed would fail.
"""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from forum.models import Tag
from routers import (
    CausalRouter,
    ClusterState,
    NodeHealth,
    RequestState,
    StickyRouter,
    request_scope,
    use_primary,
)

ROUTERS = [StickyRouter(), CausalRouter()]


def on_event_loop(function: Callable[[], Any]) -> Any:
    """`function()`, called where an async view runs: in a coroutine on a running loop."""

    async def call() -> Any:
        return function()

    return asyncio.run(call())


def read(router):
    return router.db_for_read(Tag)


# A request's state, made afresh for each test: the decision changes it.
SITUATIONS: dict[str, Callable[[], RequestState]] = {
    "a first read": RequestState,
    "a pinned client": lambda: RequestState(clusters={"default": ClusterState(pinned=True)}),
    "a client with a position": lambda: RequestState(clusters={"default": ClusterState(min_lsn=9)}),
    "after a write": lambda: RequestState(clusters={"default": ClusterState(wrote=True)}),
    "a POST": lambda: RequestState(intends_to_write=True),
}


@pytest.mark.parametrize("router", ROUTERS, ids=lambda router: router.strategy)
@pytest.mark.parametrize("situation", SITUATIONS.values(), ids=SITUATIONS.keys())
def test_it_routes_to_the_primary_without_a_query(router, situation):
    with request_scope(situation()):
        assert on_event_loop(lambda: read(router)) == "default"


@pytest.mark.parametrize("router", ROUTERS, ids=lambda router: router.strategy)
def test_it_routes_to_the_primary_outside_a_request_without_a_query(router):
    assert on_event_loop(lambda: read(router)) == "default"


@pytest.mark.parametrize("router", ROUTERS, ids=lambda router: router.strategy)
def test_it_routes_to_the_primary_inside_use_primary_without_a_query(router):
    with request_scope(), use_primary():
        assert on_event_loop(lambda: read(router)) == "default"


@pytest.fixture
def healthy(stub):
    """Outside the loop, every node up and caught up."""
    stub("usable_replicas", lambda primary=None, max_lag_seconds=None: ["replica", "replica_2"])
    stub("connects", lambda alias: True)
    stub("health", lambda alias: NodeHealth(alias, True, 1000, 0.0))
    stub("replayed", lambda alias, lsn, wait: True)


@pytest.mark.parametrize("router", ROUTERS, ids=lambda router: router.strategy)
def test_it_keeps_the_request_on_the_primary_once_the_loop_chose_it(router, healthy):
    with request_scope():
        on_event_loop(lambda: read(router))

        # Its rows are read in a thread, where a replica could be checked: not now.
        assert read(router) == "default"


@pytest.mark.parametrize("router", ROUTERS, ids=lambda router: router.strategy)
def test_it_keeps_a_replica_chosen_before_without_a_query(router, healthy, stub):
    with request_scope():
        chosen = read(router)
        stub("connects", lambda alias: pytest.fail("probed on the loop"))

        assert chosen in ("replica", "replica_2")
        assert on_event_loop(lambda: read(router)) == chosen


@pytest.mark.parametrize("router", ROUTERS, ids=lambda router: router.strategy)
def test_it_decides_as_anywhere_where_django_allows_queries_on_the_loop(
    router, healthy, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # as a notebook or Playwright

    with request_scope():
        assert on_event_loop(lambda: read(router)) in ("replica", "replica_2")
