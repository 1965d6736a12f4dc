"""One member, two clients: a browser (session login) and an API client (a token, no
cookies, no header), on the real stack and its Redis, the replicas 3 s behind. With
positions per member (the API's MemberTokenAuthentication names the member to the
routers) each reads what the other just wrote."""

import uuid

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.factories import PostFactory, ThreadFactory, UserFactory

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def member(settings, stack):
    """A member with a token and a thread, all on every replica; causal routing."""
    settings.ROUTERS_STRATEGY = "causal"
    user = UserFactory(username=f"both-{uuid.uuid4().hex[:8]}")
    token = Token.objects.create(user=user).key
    thread = ThreadFactory(author=user)
    PostFactory(thread=thread, author=user, body="Opening post")
    stack.wait_for_replay()
    return user, token, thread


def api_bodies(token: str, thread_pk: int) -> list[str]:
    """The thread's posts as a fresh API client reads them: no cookie jar, no header."""
    response = Client().get(
        f"/api/threads/{thread_pk}/",
        headers={"Authorization": f"Token {token}", "Accept": "application/json"},
    )
    assert response.status_code == 200
    return [post["body"] for post in response.json()["posts"]]


def reply_in_the_browser(browser: Client, thread_pk: int, body: str) -> None:
    response = browser.post(f"/t/{thread_pk}/reply", {"body": body})
    assert response.status_code == 302


@pytest.mark.parametrize("kept", [False, True], ids=["cookies only", "position per member"])
def test_the_api_client_reads_the_browsers_reply(settings, member, lagging_replicas, kept):
    if not kept:
        settings.ROUTERS_MEMBER_POSITIONS_CACHE = None
    user, token, thread = member
    browser = Client()
    browser.force_login(user)
    body = f"from the browser {uuid.uuid4().hex[:6]}"

    reply_in_the_browser(browser, thread.pk, body)

    assert (body in api_bodies(token, thread.pk)) is kept


def test_the_browser_reads_the_api_clients_reply(member, lagging_replicas):
    user, token, thread = member
    browser = Client()
    browser.force_login(user)
    body = f"from the API {uuid.uuid4().hex[:6]}"
    lagging_replicas.wait_for_replay()  # the login's session, on every replica

    posted = Client().post(
        f"/api/threads/{thread.pk}/posts/",
        {"body": body},
        content_type="application/json",
        headers={"Authorization": f"Token {token}"},
    )
    assert posted.status_code == 201

    assert body in browser.get(thread.get_absolute_url()).content.decode()
