"""Lesson 18: the same member on a second device reads what the first one just wrote.

Two browsers (two cookie jars) log in as one member through the real login page, under
gunicorn, against the test stack's real Redis. Device A replies to a thread; device B
opens the thread at once. The replicas hold the reply back for 3 s, so B's read
reaches them before it: stale under causal with cookies only, fresh with the
position kept per member.
"""

import html
import re

import pytest
from django.conf import global_settings

from lab.lessons.second_device import CAUSAL_PER_MEMBER, COOKIES_ONLY, STICKY_PER_MEMBER
from tests.factories import UserFactory
from tests.helpers import HttpBrowser, gunicorn, replica_aliases, replicated_thread, served_with

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]

PASSWORD = "second-device-password"


@pytest.fixture
def member(settings):
    # gunicorn runs with the real hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    return UserFactory(username="two-devices", password=PASSWORD)


class Device:
    """One browser of the member, on a server: its own cookie jar."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.browser = HttpBrowser()

    def get(self, path: str) -> tuple[int, str, str]:
        return self.browser.get(self.url + path)

    def post(self, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
        return self.browser.post(self.url + path, fields)

    def log_in(self, strategy: str) -> None:
        self.get("/login/")  # the CSRF cookie
        status, url, _ = self.post("/login/", {"username": "two-devices", "password": PASSWORD})
        assert (status, url) == (200, self.url + "/")
        self.post("/lab/strategy", {"strategy": strategy, "next": "/"})


def devices(url: str, stack, strategy: str = "causal") -> tuple[Device, Device]:
    """Two devices logged in as the member, their logins on every replica (each reads
    its session from a replica, as a device logged in long ago does)."""
    first, second = Device(url), Device(url)
    first.log_in(strategy)
    second.log_in(strategy)
    stack.wait_for_replay()
    return first, second


def reply_then_open_elsewhere(first: Device, second: Device, thread, body: str) -> str:
    """Device A replies (and lands on its reply); device B opens the thread at once."""
    status, _, page = first.post(f"/t/{thread.pk}/reply", {"body": body})
    assert status == 200
    assert body in page  # A's own cookies carry its write to A
    status, _, page = second.get(thread.get_absolute_url())
    assert status == 200
    return page


def test_the_second_device_misses_the_reply_with_cookies_only(member, stack, tmp_path):
    thread = replicated_thread("Two devices, cookies only")
    with gunicorn(tmp_path, **served_with(ROUTERS_MEMBER_POSITIONS_CACHE=None)) as url:
        first, second = devices(url, stack)

        with stack.lagging("3s"):
            page = reply_then_open_elsewhere(first, second, thread, "posted on the laptop")

    assert "posted on the laptop" not in page
    # The footer names the replica that served the posts, without the reply.
    assert set(re.findall(r'data-alias="([^"]+)"', page)) & set(replica_aliases())


@pytest.mark.parametrize("strategy", ["causal", "sticky"])
def test_the_second_device_shows_the_reply_with_a_position_per_member(
    member, stack, tmp_path, strategy
):
    thread = replicated_thread(f"Two devices, {strategy}")
    with gunicorn(tmp_path) as url:
        first, second = devices(url, stack, strategy)

        with stack.lagging("3s"):
            page = reply_then_open_elsewhere(first, second, thread, f"posted under {strategy}")

    assert f"posted under {strategy}" in page


def outcomes(response) -> dict[str, tuple[str, str]]:
    """Each row of the lab's run: (correct, what happened)."""
    rows = re.findall(
        r'<tr data-strategy="([^"]+)" data-correct="(yes|no)">\s*<td>[^<]*</td>\s*'
        r"<td[^>]*>.*?</td>\s*<td>([^<]*)</td>",
        response.content.decode(),
        re.S,
    )
    return {html.unescape(row): (correct, html.unescape(said)) for row, correct, said in rows}


def test_the_lab_runs_it_on_the_stack(client, lagging_replicas):
    response = client.post("/lab/second-device/")

    found = outcomes(response)
    assert {row: correct for row, (correct, _) in found.items()} == {
        COOKIES_ONLY: "no",
        CAUSAL_PER_MEMBER: "yes",
        STICKY_PER_MEMBER: "yes",
    }
    assert found[COOKIES_ONLY][1].startswith("404: device B read on replica")
    assert "moved B's next read to default" in found[CAUSAL_PER_MEMBER][1]
    # Device B's statements: its session and user on a replica, then the tag on the primary.
    assert re.search(
        r"SELECT on (replica\w*); SELECT on \1; SELECT on default\.$",
        traces(response)[CAUSAL_PER_MEMBER],
    )


def traces(response) -> dict[str, str]:
    """Each row's drawn trace, by its caption: every statement and its node, in order."""
    found = re.findall(
        r'<figure class="trace card" data-strategy="([^"]+)">\s*'
        r"<figcaption><strong>[^<]*</strong>: ([^<]*)</figcaption>",
        response.content.decode(),
    )
    return {html.unescape(row): html.unescape(caption) for row, caption in found}


def test_the_lab_runs_it_on_one_replica_as_on_the_default_demo(client, settings, lagging_replicas):
    settings.ROUTERS_CLUSTERS = {"default": ["replica"], "analytics": ["analytics_replica"]}

    found = outcomes(client.post("/lab/second-device/"))

    assert {row: correct for row, (correct, _) in found.items()} == {
        COOKIES_ONLY: "no",
        CAUSAL_PER_MEMBER: "yes",
        STICKY_PER_MEMBER: "yes",
    }


def test_the_lab_says_when_positions_per_member_are_off(client, settings):
    settings.ROUTERS_MEMBER_POSITIONS_CACHE = None

    found = outcomes(client.post("/lab/second-device/"))

    assert "positions per member are off here" in found[CAUSAL_PER_MEMBER][1]
    assert "positions per member are off here" in found[STICKY_PER_MEMBER][1]
    assert found[COOKIES_ONLY][0] == "no"


def test_the_lab_says_when_the_cache_does_not_answer(client, stack):
    with stack.redis_stopped():
        found = outcomes(client.post("/lab/second-device/"))

    assert "did not answer" in found[CAUSAL_PER_MEMBER][1]
