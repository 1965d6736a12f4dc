"""Lesson 16: ATOMIC_REQUESTS on the primary, served by gunicorn.

Three servers of the same project: without ATOMIC_REQUESTS (the session's), with it on
the primary under the routers, and with it under the rule the routers had before (any
atomic block means the primary: lab.lessons.atomic_requests.InAtomicBlockRouter). The
replicas hold each commit back (the stack's 1 s; 3 s where a redirect must beat them).
"""

import copy
import html
import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import global_settings
from django.db import connections

from lab.lessons.atomic_requests import (
    AFTER_A_LOCK,
    AFTER_A_WRITE,
    FIXED,
    NAIVE,
    OUTSIDE,
    InAtomicBlockRouter,
)
from routers import conf
from tests.factories import PostFactory, UserFactory
from tests.helpers import HttpBrowser, gunicorn, replicated_thread, served_with

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]

PAGE_VIEWS = 5
VIEWS = "tests.routers.atomic_requests_urls"
_names = itertools.count()


@pytest.fixture
def tag_name() -> str:
    return f"lesson16-{next(_names)}"


def atomic_requests(**changes: Any) -> dict[str, str]:
    """The environment of a server with ATOMIC_REQUESTS on the primary's alias."""
    databases = copy.deepcopy(dict(connections.settings))
    databases[conf.primary()]["ATOMIC_REQUESTS"] = True
    return served_with(DATABASES=databases, ROOT_URLCONF=VIEWS, **changes)


@pytest.fixture(scope="module")
def atomic_url(django_db_setup, tmp_path_factory) -> Iterator[str]:
    with gunicorn(tmp_path_factory.mktemp("atomic"), **atomic_requests()) as url:
        yield url


@pytest.fixture(scope="module")
def naive_url(django_db_setup, tmp_path_factory) -> Iterator[str]:
    router = f"{InAtomicBlockRouter.__module__}.{InAtomicBlockRouter.__name__}"
    env = atomic_requests(DATABASE_ROUTERS=[router])
    with gunicorn(tmp_path_factory.mktemp("atomic-naive"), **env) as url:
        yield url


@pytest.fixture
def thread(stack):
    """A thread of a few posts, on every replica."""
    opened = replicated_thread("Under ATOMIC_REQUESTS")
    for number in range(3):
        PostFactory(thread=opened, body=f"Reply {number}")
    stack.wait_for_replay()
    return opened


def browser_under(url: str, strategy: str) -> HttpBrowser:
    """A browser of `url` that picked `strategy` in the lab."""
    browser = HttpBrowser()
    browser.get(url + "/login/")  # the CSRF cookie
    browser.post(url + "/lab/strategy", {"strategy": strategy, "next": "/"})
    return browser


def replica_share(url: str, path: str) -> float:
    """The share of the statements of `PAGE_VIEWS` views of the page that ran on a replica,
    as the page's footer counts them."""
    browser = browser_under(url, "causal")
    counts = {"primary": 0, "replica": 0}
    for _ in range(PAGE_VIEWS):
        status, _, body = browser.get(url + path)
        assert status == 200
        for count, kind in re.findall(r'data-count="(\d+)" class="alias (primary|replica)"', body):
            counts[kind] += int(count)
    total = counts["primary"] + counts["replica"]
    assert total > 0
    return counts["replica"] / total


def test_a_read_only_page_keeps_its_replica_share(gunicorn_url, atomic_url, naive_url, thread):
    page = thread.get_absolute_url()

    without = replica_share(gunicorn_url, page)
    with_atomic_requests = replica_share(atomic_url, page)
    under_the_old_rule = replica_share(naive_url, page)

    assert without > 0.9
    assert abs(with_atomic_requests - without) <= 0.10
    assert under_the_old_rule == 0  # every read inside the view's block, on the primary


@pytest.mark.parametrize(("strategy", "lands"), [("naive", False), ("causal", True)])
def test_a_reply_is_read_back_after_its_redirect(
    atomic_url, thread, lagging_replicas, settings, strategy, lands
):
    # gunicorn runs with the real hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    UserFactory(username="atomic-member", password="atomic-member-password")
    browser = browser_under(atomic_url, "causal")
    fields = {"username": "atomic-member", "password": "atomic-member-password"}
    browser.post(atomic_url + "/login/", fields)
    lagging_replicas.wait_for_replay()  # the new session row, for naive's sake
    browser.post(atomic_url + "/lab/strategy", {"strategy": strategy, "next": "/"})
    reply = f"Replied under {strategy}"

    status, _, body = browser.post(atomic_url + f"/t/{thread.pk}/reply", {"body": reply})

    # naive's redirect reads a replica the reply has not reached (lag is real);
    # causal's reads a node that has it: the cookie's position covers the view's commit.
    assert (status, reply in body) == ((200, True) if lands else (404, False))


def test_a_get_that_writes_is_read_back_by_the_next_request(atomic_url, stack, tag_name):
    browser = browser_under(atomic_url, "causal")

    _, _, wrote = browser.get(atomic_url + f"/write/{tag_name}")
    _, _, read = browser.get(atomic_url + f"/tag/{tag_name}")

    assert '"before": [false, "replica' in wrote  # a replica, until the write
    assert '"after": [true, "default"]' in wrote
    assert read.startswith('{"read": [true,')


def test_select_for_update_sends_the_reads_after_it_to_the_primary(atomic_url, tag_name):
    browser = browser_under(atomic_url, "causal")

    _, _, body = browser.get(atomic_url + f"/lock/{tag_name}")

    assert '"before": [false, "replica' in body
    assert body.endswith('"after": [false, "default"]}')


def test_a_block_of_the_views_own_keeps_the_primary(atomic_url, tag_name):
    browser = browser_under(atomic_url, "causal")

    _, _, body = browser.get(atomic_url + f"/nested/{tag_name}")

    assert '"inside": [false, "default"]' in body
    assert '"after": [false, "replica' in body  # back in Django's block: a replica again


def test_the_lab_page_runs_it_with_atomic_requests_on_in_a_process_of_its_own(client, thread):
    response = client.post("/lab/atomic-requests/")

    rows = dict(re.findall(r'<tr data-strategy="([^"]+)" data-correct="(yes|no)">', response.text))
    assert {html.unescape(setup): correct for setup, correct in rows.items()} == {
        OUTSIDE: "yes",
        NAIVE: "no",  # 0 % on a replica: the old rule, shown on the default demo
        FIXED: "yes",
        AFTER_A_WRITE: "yes",
        AFTER_A_LOCK: "yes",
    }
