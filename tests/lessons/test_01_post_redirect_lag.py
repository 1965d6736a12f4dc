"""Lesson 1: post, redirect, read from a lagging replica: the 404, and its fixes.

The replicas hold every commit back for 3 s (recovery_min_apply_delay), so the
redirect after a reply always reaches them before the reply does.
"""

import pytest
from django.conf import global_settings

from forum.models import Post
from routers import conf
from tests.factories import UserFactory
from tests.helpers import BrowserClient, HttpBrowser, replicated_thread, served_by, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def client():
    """A client that lets cookies expire as browsers do: the pin ends after its Max-Age."""
    return BrowserClient()


@pytest.fixture
def thread_and_reader(client, stack):
    """A thread and a logged-in member, both already on every replica."""
    member = UserFactory(username="member")
    client.force_login(member)
    return replicated_thread("Replication lag")


def reply(client, thread, body):
    return client.post(f"/t/{thread.pk}/reply", {"body": body}, follow=True)


def test_it_404s_under_naive_until_the_replica_replays_the_reply(
    client, settings, thread_and_reader, lagging_replicas
):
    settings.ROUTERS_STRATEGY = "naive"

    response = reply(client, thread_and_reader, "Where did my reply go?")

    assert response.status_code == 404
    assert b'id="lag-hint"' in response.content
    assert served_by(response) <= {"replica", "replica_2"}
    permalink = response.redirect_chain[-1][0]
    # The reply is safe on the primary; the replicas show it once they replay it.
    assert Post.objects.using("default").filter(body="Where did my reply go?").exists()
    wait_until(lambda: client.get(permalink).status_code == 302, what="the replicas to catch up")


@pytest.mark.parametrize("strategy", ["primary", "sticky", "causal"])
def test_it_lands_on_the_new_post_with_a_safe_strategy(
    client, settings, thread_and_reader, lagging_replicas, strategy
):
    settings.ROUTERS_STRATEGY = strategy

    response = reply(client, thread_and_reader, f"Posted under {strategy}")

    assert response.status_code == 200
    post = Post.objects.using("default").get(body=f"Posted under {strategy}")
    assert response.redirect_chain[-1][0].endswith(f"#post-{post.pk}")
    assert f"Posted under {strategy}".encode() in response.content
    # The replicas have not replayed the reply: the page can only have come from the primary.
    assert served_by(response) == {"default"}


def test_it_pins_nothing_after_a_post_that_wrote_nothing(client, settings, thread_and_reader):
    settings.ROUTERS_STRATEGY = "sticky"

    response = client.post(f"/t/{thread_and_reader.pk}/reply", {"body": "   "})

    assert response.status_code == 200
    assert conf.PIN_COOKIE not in response.cookies
    assert served_by(client.get("/")) <= {"replica", "replica_2"}


def test_it_pins_a_writer_to_the_primary_for_a_while_under_sticky(
    client, settings, thread_and_reader
):
    settings.ROUTERS_STRATEGY = "sticky"
    settings.ROUTERS_STICKY_SECONDS = 2

    reply(client, thread_and_reader, "Pin me")

    assert served_by(client.get("/")) == {"default"}
    wait_until(
        lambda: served_by(client.get("/")) <= {"replica", "replica_2"}, what="the pin to end"
    )


def test_it_returns_a_causal_reader_to_the_replicas_once_they_replayed(
    client, settings, thread_and_reader, stack
):
    settings.ROUTERS_STRATEGY = "causal"

    reply(client, thread_and_reader, "Causal")
    assert conf.LSN_COOKIE in client.cookies
    stack.wait_for_replay()

    thread_page = client.get(thread_and_reader.get_absolute_url())
    board_list = client.get("/")

    assert b"Causal" in thread_page.content
    # Posts come from a replica again (reactions always come from the primary).
    assert served_by(thread_page) & {"replica", "replica_2"}
    assert served_by(board_list) <= {"replica", "replica_2"}
    # The position stays: no response can know it is still the client's latest, so
    # none deletes it. Once replayed everywhere it sends no read to the primary.
    assert client.cookies[conf.LSN_COOKIE].value != ""


def test_it_waits_briefly_for_a_replica_just_behind(client, settings, thread_and_reader):
    settings.ROUTERS_STRATEGY = "causal"
    # The stack's apply delay is 1 s: a wait that long lets the replica catch up.
    settings.ROUTERS_CAUSAL_WAIT_MS = 5000

    response = reply(client, thread_and_reader, "Worth the wait")

    assert b"Worth the wait" in response.content
    assert served_by(response) <= {"default", "replica", "replica_2"}
    assert served_by(response) & {"replica", "replica_2"}


def test_it_shows_the_bug_and_the_fix_through_gunicorn(
    gunicorn_url, stack, lagging_replicas, settings
):
    # gunicorn runs with the real hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    UserFactory(username="http-member", password="http-member-password")
    thread = replicated_thread("Over HTTP")
    browser = HttpBrowser()

    def form_post(path, fields):
        return browser.post(gunicorn_url + path, fields)

    browser.get(gunicorn_url + "/login/")
    status, url, body = form_post(
        "/login/", {"username": "http-member", "password": "http-member-password"}
    )
    assert url == gunicorn_url + "/"
    stack.wait_for_replay()  # the new session row, for naive's sake

    form_post("/lab/strategy", {"strategy": "naive", "next": "/"})
    status, url, body = form_post(f"/t/{thread.pk}/reply", {"body": "naive over http"})
    assert status == 404
    assert 'id="lag-hint"' in body

    form_post("/lab/strategy", {"strategy": "causal", "next": "/"})
    status, url, body = form_post(f"/t/{thread.pk}/reply", {"body": "causal over http"})
    assert status == 200
    assert "causal over http" in body
    assert url.startswith(f"{gunicorn_url}/t/{thread.pk}/")
