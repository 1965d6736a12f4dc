"""Sticky's pin lasts its seconds whatever the app servers' clocks say.

Two real app servers on one stack: the one the client writes on has a clock 3 s behind
(libfaketime), the one it reads from next keeps the right time. The pin lasts 5 s; the
replicas apply every commit 10 s late, yet are only as far behind as the client's own
write, so sticky keeps them in rotation for a client it no longer pins. A browser counts
the pin's Max-Age from when it received the response; the read 2.5 s later, by a client
that honours Max-Age as browsers do (http.cookiejar), must still be pinned, and see the
write.
"""

import glob
import time

import pytest
from django.conf import global_settings
from django.core import signing

from forum.models import Post
from routers import conf
from tests.factories import UserFactory
from tests.helpers import HttpBrowser, fetch, gunicorn, replica_aliases, replicated_thread

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]

WRITER_CLOCK_BEHIND = 3  # seconds
READ_AFTER = 2.5  # seconds after the write's response


def libfaketime() -> str:
    """Debian's libfaketime (scripts/ensure-test-tools.sh installs it)."""
    found = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    if not found:
        pytest.fail("libfaketime is missing: run scripts/ensure-test-tools.sh")
    return found[0]


@pytest.fixture
def writer_and_reader(tmp_path):
    """The writer, its clock behind, and the reader: sticky, a 5 s pin; their URLs."""
    env = {"FORUM_ROUTING": "sticky", "ROUTERS_STICKY_SECONDS": "5"}
    (tmp_path / "writer").mkdir()
    (tmp_path / "reader").mkdir()
    behind = {"LD_PRELOAD": libfaketime(), "FAKETIME": f"-{WRITER_CLOCK_BEHIND}s"}
    with (
        gunicorn(tmp_path / "writer", **env, **behind) as writer,
        gunicorn(tmp_path / "reader", **env) as reader,
    ):
        yield writer, reader


def test_a_pin_signed_by_a_clock_behind_still_pins_the_writer_on_another_server(
    writer_and_reader, stack, settings
):
    writer, reader = writer_and_reader
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # gunicorn's hashers
    UserFactory(username="skewed", password="skewed-password")
    thread = replicated_thread("Written on a server whose clock is behind")
    browser = HttpBrowser()
    browser.get(f"{writer}/login/")
    browser.post(f"{writer}/login/", {"username": "skewed", "password": "skewed-password"})
    stack.wait_for_replay()  # the session, so that only the reply is missing below
    stack.set_lag("10s")
    try:
        replied, _, _ = browser.post(
            f"{writer}/t/{thread.pk}/reply", {"body": "Pinned across servers"}
        )
        answered = time.monotonic()
        pin = browser.cookie(conf.PIN_COOKIE)
        signed_at = signing.b62_decode(pin.split(":")[-2])
        # The wait is the scenario (a read 2.5 s after the write), not a synchronisation.
        time.sleep(max(0.0, answered + READ_AFTER - time.monotonic()))
        status, _, page = browser.get(f"{reader}/t/{thread.pk}/")
        read_after = time.monotonic() - answered
        sql = "SELECT count(*) FROM forum_post WHERE body = %s"
        on_replicas = [fetch(alias, sql, ("Pinned across servers",)) for alias in replica_aliases()]
    finally:
        stack.set_lag("1s")

    # The writer's clock really was behind: its pin looked old at once.
    assert time.time() - signed_at > WRITER_CLOCK_BEHIND + READ_AFTER - 1
    # The read came while every replica still lacked the reply, within the pin's 5 s.
    assert on_replicas == [0] * len(on_replicas)
    assert read_after < 5
    assert (replied, status) == (200, 200)
    assert "Pinned across servers" in page
    assert Post.objects.filter(body="Pinned across servers").exists()
