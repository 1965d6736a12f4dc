"""Lesson 9: a replica picked per query mixes two lags on one page; one per request does not."""

import pytest
from django.contrib.auth.models import Group

from routers import RequestState, request_scope

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def uneven_replicas(stack):
    """replica applies at once, replica_2 holds writes back for a minute."""
    stack.set_lag("0", "replica")
    stack.set_lag("1min", "replica_2")
    yield stack
    stack.set_lag("1s")


def render_page(strategy: str) -> tuple[int, list[str]]:
    """A page that shows a count and then the list it counted, as templates do."""
    with request_scope(RequestState(strategy=strategy)):
        count = Group.objects.filter(name="new").count()
        names = list(Group.objects.filter(name="new").values_list("name", flat=True))
    return count, names


def test_it_shows_an_inconsistent_page_per_query_and_a_consistent_one_per_request(
    uneven_replicas,
):
    Group.objects.create(name="new")
    uneven_replicas.wait_for_replay("replica")

    naive_pages = [render_page("naive") for _ in range(4)]
    causal_pages = [render_page("causal") for _ in range(4)]

    # Per query, a page's count and its list come from replicas at different lag.
    assert any(count != len(names) for count, names in naive_pages)
    # Per request, each page is coherent (whichever replica served it).
    assert all(count == len(names) for count, names in causal_pages)
