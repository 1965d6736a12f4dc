"""Sessions with the primary down: a session that cannot be saved costs its changes,
never the page. A write gets the read-only page with what was typed; a read gets the
page, from a replica. Served by gunicorn, as a browser meets it."""

import asyncio
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from email.message import Message

import pytest
from django.conf import settings as django_settings
from django.db import connections

from forum.models import Tag
from routers import conf, forget
from tests.factories import UserFactory
from tests.helpers import gunicorn, replicated_thread, served_by, served_with, wait_for_replay

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]

SESSION_COOKIE = django_settings.SESSION_COOKIE_NAME

Serve = Callable[..., str]


@pytest.fixture
def primary_down(tmp_path, stack) -> Iterator[Serve]:
    """serve(**settings): gunicorn with these settings (and the views of
    tests/routers/urls.py), then the primary stops; the server's URL. The primary is
    started again afterwards."""
    with ExitStack() as later:

        def serve(**overrides: object) -> str:
            url = later.enter_context(
                gunicorn(
                    tmp_path,
                    FORUM_ROUTING="causal",
                    **served_with(ROOT_URLCONF="tests.routers.urls", **overrides),
                )
            )
            stack.stop("default")
            later.callback(stack.start, "default")
            return url

        yield serve


@pytest.fixture
def member_session(client) -> str:
    """A logged-in member's session key, its row on every replica."""
    client.force_login(UserFactory(username="member"))
    wait_for_replay()
    return client.cookies[SESSION_COOKIE].value


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@dataclass
class Page:
    status_code: int
    headers: Message
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode()

    def session_cookies_set(self) -> list[str]:
        cookies = self.headers.get_all("Set-Cookie", [])
        return [cookie for cookie in cookies if cookie.startswith(f"{SESSION_COOKIE}=")]


def visit(url: str, session: str | None = None, post: dict[str, str] | None = None) -> Page:
    """GET (or POST `post`) `url` with this session cookie, following no redirect."""
    data = urllib.parse.urlencode(post).encode() if post is not None else None
    request = urllib.request.Request(url, data=data)
    if session is not None:
        request.add_header("Cookie", f"{SESSION_COOKIE}={session}")
    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(request, timeout=10) as response:
            return Page(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Page(error.code, error.headers, error.read())


def test_it_answers_a_post_that_only_saves_the_session_with_the_read_only_page(
    primary_down, member_session
):
    url = primary_down()

    page = visit(f"{url}/draft", member_session, post={"body": "A draft typed while it was down"})

    assert page.status_code == 503
    assert 'id="read-only"' in page.text
    assert "A draft typed while it was down" in page.text
    assert page.headers["Retry-After"] == "30"


@pytest.mark.parametrize("logged_in", [True, False], ids=["member", "visitor"])
def test_it_serves_a_get_that_writes_the_session_from_a_replica(
    primary_down, member_session, logged_in
):
    url = primary_down()

    page = visit(f"{url}/visit", member_session if logged_in else None)

    assert page.status_code == 200
    assert page.text in ("visit 1, tags read from replica", "visit 1, tags read from replica_2")
    # The session's changes are dropped, and its cookie left as the client has it.
    assert page.session_cookies_set() == []


def test_it_serves_every_page_to_a_member_when_every_request_saves_the_session(
    primary_down, member_session
):
    thread = replicated_thread("Read while the primary is down")
    url = primary_down(SESSION_SAVE_EVERY_REQUEST=True)

    for path in ("/", thread.get_absolute_url()):
        page = visit(url + path, member_session)

        assert page.status_code == 200
        assert "member" in page.text  # still logged in: the replicas' copy of the session
        assert served_by(page) <= {"replica", "replica_2"}
        assert page.session_cookies_set() == []


def test_it_serves_the_login_page_when_the_csrf_token_lives_in_the_session(primary_down):
    url = primary_down(CSRF_USE_SESSIONS=True)

    page = visit(f"{url}/login/")

    assert page.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in page.text
    assert page.session_cookies_set() == []


def test_it_answers_a_post_that_only_saves_a_cached_db_session_with_the_read_only_page(
    primary_down, member_session
):
    url = primary_down(SESSION_ENGINE="django.contrib.sessions.backends.cached_db")

    draft = visit(f"{url}/draft", member_session, post={"body": "Cached, not saved"})
    visits = [visit(f"{url}/visit", member_session) for _ in range(2)]

    assert draft.status_code == 503
    assert "Cached, not saved" in draft.text
    # Each visit's change dropped, from the cache too: both are the first.
    assert [page.status_code for page in visits] == [200, 200]
    assert all(page.text.startswith("visit 1,") for page in visits)


@pytest.fixture
def primary_stopped(stack) -> Iterator[None]:
    stack.stop("default")
    yield
    stack.start("default")


def test_it_answers_a_post_that_only_saves_the_session_with_the_read_only_page_under_asgi(
    async_client, causal, member_session, primary_stopped
):
    async_client.cookies[SESSION_COOKIE] = member_session

    draft = asyncio.run(async_client.post("/draft", {"body": "Typed under ASGI"}))
    counted = asyncio.run(async_client.get("/visit"))

    assert draft.status_code == 503
    assert "Typed under ASGI" in draft.content.decode()
    assert counted.status_code == 200
    assert counted.content.decode().startswith("visit 1,")


def test_it_keeps_the_response_of_a_post_that_wrote_before_the_primary_went_away(
    client, causal, member_session, tag_name
):
    primary = connections[conf.primary()]
    port = primary.settings_dict["PORT"]
    try:
        response = client.post(f"/write-then-lose-primary/{tag_name}")
    finally:
        primary.close()
        primary.settings_dict["PORT"] = port
        forget()

    # The write stands: a read-only page saying "not saved" would invite a second one.
    assert response.status_code == 200
    assert response.content == b"created"
    assert SESSION_COOKIE not in response.cookies
    assert Tag.objects.using("default").filter(name=tag_name).exists()


def test_it_still_refuses_to_save_a_session_deleted_meanwhile(client, causal, member_session):
    """Another tab logged out: Django's 400, as without the routers (the primary is up)."""
    response = client.get("/visit-logged-out")

    assert response.status_code == 400
