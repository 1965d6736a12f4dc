"""`aiterator()` in an async view, under gunicorn's ASGI worker.

Django's `QuerySet.aiterator()` asks the routers for its alias on the event loop,
where Django refuses every query (`SynchronousOnlyOperation`, which is no database
error); its rows are then read in a thread. The routers' first decision in a request
used to probe a replica right there: a 500 under sticky and causal. On the loop they
now decide without a query: the request reads the primary, and a choice already made
in a thread stands.
"""

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest

from forum.models import Tag
from routers import conf
from tests.helpers import Stack, gunicorn, replica_aliases, served_with, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]

STRATEGIES = ["sticky", "causal"]


@pytest.fixture(scope="module")
def asgi_url(django_db_setup, tmp_path_factory) -> Iterator[str]:
    """The project with the views of tests/routers/urls.py, under gunicorn's ASGI worker."""
    with gunicorn(
        tmp_path_factory.mktemp("asgi"),
        asgi=True,
        **served_with(ROOT_URLCONF="tests.routers.urls"),
    ) as url:
        yield url


class Browser:
    """A client of the server that keeps its cookies, with a strategy picked in the lab."""

    def __init__(self, url: str, strategy: str) -> None:
        self.url = url
        self.cookies = {"lab_strategy": strategy}

    def open(self, path: str, method: str = "GET") -> tuple[int, str]:
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        request = urllib.request.Request(self.url + path, method=method, headers={"Cookie": cookie})
        try:
            response = urllib.request.urlopen(request, timeout=10)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return response.status, response.read().decode()

    def tags(self, path: str = "/async/tags", method: str = "GET") -> dict[str, list[str]]:
        """The tags' names an async view read with aiterator(), and the aliases it read."""
        status, body = self.open(path, method)
        assert status == 200, body
        result: dict[str, list[str]] = json.loads(body)
        return result


@pytest.fixture(params=STRATEGIES)
def browser(request, asgi_url) -> Browser:
    return Browser(asgi_url, request.param)


def test_it_serves_a_get(browser):
    tags = browser.tags()

    assert len(tags["aliases"]) == 1  # one node for the page


def test_it_serves_a_post_from_the_primary(browser, tag_name):
    Tag.objects.create(name=tag_name)

    tags = browser.tags(method="POST")

    assert tag_name in tags["names"], tags  # a request that may write reads the primary
    assert tags["aliases"] == [conf.primary()]


def test_it_reads_the_clients_own_write(browser, tag_name, lagging_replicas):
    in_the_same_request = browser.tags(f"/async/create/{tag_name}", method="POST")

    in_the_next_one = browser.tags()

    assert tag_name in in_the_same_request["names"]
    assert tag_name in in_the_next_one["names"]
    assert len(in_the_next_one["aliases"]) == 1


def test_it_reads_the_clients_own_write_in_a_streamed_body(browser, tag_name, lagging_replicas):
    browser.open(f"/async/create/{tag_name}", "POST")

    status, body = browser.open("/async/stream-tags")

    assert status == 200
    start, rows, aliases, end = body.split(":")
    assert (start, end) == ("streamed", "end")  # every row streamed
    assert tag_name in rows.split(",")
    assert len(aliases.split(",")) == 1  # from one node


def test_it_keeps_a_replica_chosen_in_a_thread(browser):
    aliases = browser.tags("/async/tags-after-a-read")["aliases"]

    assert len(aliases) == 1
    assert aliases[0] in replica_aliases()


@pytest.fixture
def primary_down(asgi_url, stack: Stack) -> Iterator[None]:
    """The primary stopped; then back, and the server reading it again (its "down" is
    cached for ROUTERS_HEALTH_TTL)."""
    stack.stop("default")
    yield
    stack.start("default")

    def reads_primary() -> bool:
        status, body = Browser(asgi_url, "causal").open("/async/tags", "POST")
        return status == 200 and json.loads(body)["aliases"] == [conf.primary()]

    wait_until(reads_primary, what="the server to read the primary again")


def test_it_serves_a_get_from_a_replica_while_the_primary_is_down(browser, primary_down):
    tags = browser.tags()

    assert len(tags["aliases"]) == 1
    assert tags["aliases"][0] in replica_aliases()
