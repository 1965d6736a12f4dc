"""The Redis that keeps positions per member stopped, or hung, mid-run under gunicorn.

Two browsers of one member reply and read through the real forum pages while the test
stack's Redis answers, then while it is hung (SIGSTOP: the kernel still accepts
connections, nothing answers), then stopped (connections refused), and again once it is
back. Every page answers without a 5xx and without a long wait: a member's request then
does with the cookies alone, and asks Redis again a few seconds later.
"""

import re
import time
from pathlib import Path

import pytest
from django.conf import global_settings

from routers.members import CACHE_RETRY_SECONDS
from tests.factories import UserFactory
from tests.helpers import HttpBrowser, gunicorn, replicated_thread, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]

PASSWORD = "cache-down-password"
# A page's own time, with the 0.25 s socket timeout of the forum's positions cache.
BOUND_SECONDS = 2.0


class Device:
    """A browser of the member: its own cookie jar, and what each of its requests took."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.browser = HttpBrowser()
        self.answers: list[tuple[int, float]] = []

    def open(self, path: str, fields: dict[str, str] | None = None) -> tuple[str, str]:
        """The page at `path` (a POST with `fields`): where it ended up, and its text."""
        started = time.monotonic()
        if fields is None:
            status, url, page = self.browser.get(self.url + path)
        else:
            status, url, page = self.browser.post(self.url + path, fields)
        self.answers.append((status, time.monotonic() - started))
        return url.removeprefix(self.url), page

    def log_in(self) -> None:
        self.open("/login/")  # the CSRF cookie
        self.open("/login/", {"username": "cache-down", "password": PASSWORD})
        self.open("/lab/strategy", {"strategy": "causal", "next": "/"})


@pytest.fixture
def member(settings):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # gunicorn's own
    return UserFactory(username="cache-down", password=PASSWORD)


def test_a_redis_hung_or_stopped_mid_run_costs_no_page(member, stack, tmp_path: Path):
    thread = replicated_thread("Redis goes away")
    replies = iter(range(1000))

    def second_device_sees_the_first_ones_reply() -> bool:
        """The first device replies and lands on the thread's page that shows the reply
        (its own cookies carry it there); the second opens that page at once."""
        body = f"reply {next(replies)}"
        landed, page = first.open(f"/t/{thread.pk}/reply", {"body": body})
        assert body in page
        _, page = second.open(landed)
        return body in page

    with gunicorn(tmp_path) as url:
        first, second = Device(url), Device(url)
        first.log_in()
        second.log_in()
        stack.wait_for_replay()
        # From here on the replicas hold each reply back for 3 s, and the answers count
        # (a login hashes the password: slow, and no part of the subject).
        with stack.lagging("3s"):
            first.answers.clear()
            second.answers.clear()
            assert second_device_sees_the_first_ones_reply()

            during = {}
            for outage, redis_down in (
                ("hung", stack.redis_hung),
                ("stopped", stack.redis_stopped),
            ):
                with redis_down():
                    during[outage] = [second_device_sees_the_first_ones_reply() for _ in range(3)]
                # Asked again CACHE_RETRY_SECONDS after it failed, in the server's process.
                wait_until(
                    second_device_sees_the_first_ones_reply,
                    timeout=CACHE_RETRY_SECONDS + 10,
                    interval=0.5,
                    what=f"positions per member back after Redis {outage}",
                )
        log = (tmp_path / "gunicorn.log").read_text()

    answers = first.answers + second.answers
    assert [status for status, _ in answers if status >= 500] == []
    assert max(seconds for _, seconds in answers) < BOUND_SECONDS, answers
    # Cookies only meanwhile: the second device read its replica, without the reply.
    assert during == {"hung": [False, False, False], "stopped": [False, False, False]}
    assert re.search(r"cache 'positions' failed \(TimeoutError", log)
    assert re.search(r"cache 'positions' failed \(ConnectionError", log)
