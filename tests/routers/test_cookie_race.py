"""A slow response must not wipe the position a newer write just gave the client.

The browser keeps the Set-Cookie of whichever response arrives last. A slow page
(a long poll, a tab still loading) that started before a write and ends after it
must leave the write's cookie alone. Real threads, a real lagging replica.
"""

import threading

import pytest
from django.test import Client

from routers import conf
from tests.helpers import wait_until
from tests.routers import urls

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]


def test_it_keeps_a_newer_lsn_cookie_through_a_slow_response(client, stack, tag_name):
    # An old write, replayed everywhere: a request carrying its cookie could drop it.
    client.post(f"/create/{tag_name}-old")
    stack.wait_for_replay()
    slow_tab = Client()
    slow_tab.cookies = client.cookies.__class__(client.cookies)
    urls.slow_started.clear()
    urls.slow_release.clear()
    slow_response = {}
    poll = threading.Thread(target=lambda: slow_response.update(page=slow_tab.get("/slow")))
    poll.start()
    try:
        wait_until(urls.slow_started.is_set, what="the slow page to start")
        client.post(f"/create/{tag_name}")  # the write, while the slow page is in flight
    finally:
        urls.slow_release.set()
        poll.join(timeout=20)
    # The slow response arrives last: the browser applies its cookies last.
    client.cookies.update(slow_response["page"].cookies)

    follow = client.get(f"/tag/{tag_name}")

    assert follow.status_code == 200, f"read from {follow.content.decode()}"


def test_it_never_deletes_the_lsn_cookie(client, stack, tag_name):
    client.post(f"/create/{tag_name}")
    stack.wait_for_replay()

    response = client.get(f"/tag/{tag_name}")

    assert response.status_code == 200
    assert conf.LSN_COOKIE not in response.cookies
