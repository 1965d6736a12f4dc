"""The forum with its primary down: reads go on from the replicas, writes get a clear 503,
and a client's own last write is "on its way", never a 404 (lesson 8's last section)."""

import pytest
from django.http import HttpResponse

from forum.models import Post
from routers import conf
from tests.factories import UserFactory
from tests.helpers import replicated_thread, served_by, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def primary_down(client, stack, settings):
    """A logged-in member on a thread, then the primary stops (and comes back after)."""
    settings.ROUTERS_STRATEGY = "causal"
    client.force_login(UserFactory(username="member"))
    thread = replicated_thread("Still readable")
    stack.stop("default")
    yield thread
    stack.start("default")
    wait_until(lambda: client.get("/healthz").status_code == 200, what="the primary to return")


def test_it_keeps_serving_pages_from_the_replicas(client, primary_down):
    thread_page = client.get(primary_down.get_absolute_url())
    board_list = client.get("/")

    assert thread_page.status_code == 200
    assert b"Opening post" in thread_page.content
    assert b"member" in thread_page.content  # still logged in: the session is on the replicas
    # One replica for the whole page.
    assert served_by(thread_page) in ({"replica"}, {"replica_2"})
    assert board_list.status_code == 200


def test_it_reads_a_pinned_client_from_a_replica(client, primary_down, settings):
    settings.ROUTERS_STRATEGY = "sticky"
    pinned = HttpResponse()
    pinned.set_signed_cookie(conf.PIN_COOKIE, "1", salt=conf.PIN_COOKIE)
    client.cookies[conf.PIN_COOKIE] = pinned.cookies[conf.PIN_COOKIE].value

    response = client.get("/")

    assert response.wsgi_request.COOKIES[conf.PIN_COOKIE]  # sent, so pinned to the primary...
    assert response.status_code == 200  # ...which is down: a replica serves instead
    assert served_by(response) <= {"replica", "replica_2"}


def test_it_answers_a_write_with_a_read_only_page_that_keeps_the_text(client, primary_down):
    response = client.post(
        f"/t/{primary_down.pk}/reply", {"body": "Typed while the primary was down"}
    )

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    content = response.content.decode()
    assert "read-only mode" in content
    assert "Typed while the primary was down" in content
    assert "Traceback" not in content


def test_it_writes_nothing_half_way(client, primary_down, stack):
    client.post(f"/t/{primary_down.pk}/reply", {"body": "Never saved"})
    stack.start("default")

    assert not Post.objects.using("default").filter(body="Never saved").exists()
    assert client.post(f"/t/{primary_down.pk}/reply", {"body": "Saved now"}).status_code == 302


def test_it_serves_a_visitor_whose_session_is_unknown_while_the_primary_is_down(
    client, primary_down
):
    # The lesson-12 check asks the primary about the unknown session: it must not 500.
    client.cookies.clear()  # a browser, not the member: logging out would write
    client.cookies["sessionid"] = "no-such-session-key-anywhere"

    response = client.get("/")

    assert response.status_code == 200
    assert b'id="login-lost"' not in response.content


@pytest.fixture
def unreplayed_reply(client, settings, stack):
    """A member's reply, acknowledged; the replicas apply it 10 s later; the primary stops."""
    settings.ROUTERS_STRATEGY = "causal"
    client.force_login(UserFactory(username="member"))
    thread = replicated_thread("Saved at the last moment")
    stack.set_lag("10s")  # ample time to see the reply missing, even on a slow machine
    reply = client.post(f"/t/{thread.pk}/reply", {"body": "Written just in time"})
    stack.stop("default")  # the replicas have received the reply, not yet applied it
    yield thread, reply.url
    stack.start("default")
    stack.set_lag("1s")


def test_it_says_a_post_saved_just_before_the_primary_went_down_is_coming_then_shows_it(
    client, unreplayed_reply
):
    """Never a 404 for the client's own write: a replica that has it, or a "saved" page."""
    _, post_url = unreplayed_reply
    waiting = client.get(post_url)
    assert waiting.status_code == 503
    assert 'id="not-visible-yet"' in waiting.content.decode()
    assert waiting["Retry-After"] == "2"

    def shown() -> bool:
        page = client.get(post_url, follow=True)
        return page.status_code == 200 and b"Written just in time" in page.content

    wait_until(shown, timeout=30, what="a replica to replay the reply")


def test_it_answers_a_write_with_the_read_only_page_while_its_last_write_is_on_the_way(
    client, unreplayed_reply
):
    thread, _ = unreplayed_reply

    response = client.post(f"/t/{thread.pk}/reply", {"body": "Typed while it was down"})

    assert response.status_code == 503
    assert 'id="read-only"' in response.content.decode()
    assert "Typed while it was down" in response.content.decode()


def test_it_never_500s_on_a_missing_page_while_its_last_write_is_on_the_way(
    client, unreplayed_reply
):
    client.raise_request_exception = False  # as a browser sees it

    response = client.get("/no/such/page/")

    assert response.status_code in (404, 503)
