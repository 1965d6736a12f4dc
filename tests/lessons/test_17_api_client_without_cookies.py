"""Lesson 17: an API client keeps no cookies: its reply, read back, is stale under naive,
and under causal too unless it sends the Routers-Consistency header back.

The forum runs under gunicorn, one server per strategy; the client is urllib with a
token and no cookie jar, as a script or a mobile app would be. The replicas hold every
commit back for 3 s, so the read after the reply always reaches them first.
"""

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any, NamedTuple

import pytest
from rest_framework.authtoken.models import Token

from forum.models import Post, Thread
from routers import conf
from tests.factories import PASSWORD, PostFactory, ThreadFactory, UserFactory
from tests.helpers import fetch, gunicorn, replica_aliases, served_with, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]

STRATEGIES = ("naive", "sticky", "causal")
# The tests' fast hasher, so the servers check the factories' passwords quickly.
HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TOKEN_ON_REPLICA = "SELECT EXISTS (SELECT 1 FROM authtoken_token WHERE key = %s)"


@pytest.fixture(scope="module")
def servers(django_db_setup, tmp_path_factory) -> Iterator[dict[str, str]]:
    """The forum under gunicorn, one server per strategy: its URL by strategy. The
    header alone carries a client's writes (no positions per member: lesson 18)."""
    with ExitStack() as running:
        yield {
            strategy: running.enter_context(
                gunicorn(
                    tmp_path_factory.mktemp(strategy),
                    **served_with(
                        ROUTERS_STRATEGY=strategy,
                        PASSWORD_HASHERS=HASHERS,
                        ROUTERS_MEMBER_POSITIONS_CACHE=None,
                    ),
                )
            )
            for strategy in STRATEGIES
        }


class ApiClient:
    """A client of the JSON API that keeps no cookies (urllib's default opener has no
    cookie jar). With `keeps_header`, it keeps the Routers-Consistency header of each
    writing response and sends it with every request after."""

    def __init__(self, url: str, token: str | None = None, keeps_header: bool = True) -> None:
        self.url = url
        self.token = token
        self.keeps_header = keeps_header
        self.consistency: str | None = None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        if self.consistency:
            headers[conf.TOKEN_HEADER] = self.consistency
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, answer, received = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, answer, received = error.code, error.read(), error.headers
        if self.keeps_header and received[conf.TOKEN_HEADER]:
            self.consistency = received[conf.TOKEN_HEADER]
        return status, json.loads(answer)

    def reply(self, thread_pk: int, body: str) -> dict[str, Any]:
        status, post = self.call("POST", f"/api/threads/{thread_pk}/posts/", {"body": body})
        assert status == 201, post
        return post

    def bodies(self, thread_pk: int) -> list[str]:
        status, thread = self.call("GET", f"/api/threads/{thread_pk}/")
        assert status == 200, thread
        return [post["body"] for post in thread["posts"]]


class Replicated(NamedTuple):
    thread: Thread
    token: str


@pytest.fixture
def member(stack) -> Iterator[Replicated]:
    """A thread to reply to, then a member's token: both on every replica already, and
    the replicas lagging (3 s) from there."""
    thread = ThreadFactory(title="Posted from a script")
    PostFactory(thread=thread, body="Opening post")
    token = Token.objects.create(user=UserFactory(username="api-member")).key
    # Waited for by its row, not by the primary's WAL position: other WAL (autovacuum's)
    # may sit unflushed past it, where no standby receives it.
    for alias in replica_aliases():
        wait_until(
            lambda alias=alias: fetch(alias, TOKEN_ON_REPLICA, [token]),
            what=f"{alias} to replay the token",
        )
    with stack.lagging("3s"):
        yield Replicated(thread, token)


def test_naive_reads_the_reply_stale_even_with_the_header(servers, member):
    client = ApiClient(servers["naive"], member.token)

    client.reply(member.thread.pk, "Where did my reply go?")

    assert client.consistency is not None  # sent back, and naive ignores it
    assert "Where did my reply go?" not in client.bodies(member.thread.pk)
    # The reply is safe on the primary; the replicas show it once they replay it.
    assert Post.objects.using("default").filter(body="Where did my reply go?").exists()
    wait_until(
        lambda: "Where did my reply go?" in client.bodies(member.thread.pk),
        what="the replicas to replay",
    )


def test_causal_reads_the_reply_stale_without_the_header(servers, member):
    """No cookie, no header: nothing tells causal that this client wrote."""
    client = ApiClient(servers["causal"], member.token, keeps_header=False)

    client.reply(member.thread.pk, "Causal, but forgetful")

    assert "Causal, but forgetful" not in client.bodies(member.thread.pk)
    wait_until(
        lambda: "Causal, but forgetful" in client.bodies(member.thread.pk),
        what="the replicas to replay",
    )


@pytest.mark.parametrize("strategy", ["sticky", "causal"])
def test_it_reads_the_reply_fresh_when_it_sends_the_header_back(servers, member, strategy):
    client = ApiClient(servers[strategy], member.token)

    client.reply(member.thread.pk, f"Sent back under {strategy}")

    assert client.bodies(member.thread.pk) == ["Opening post", f"Sent back under {strategy}"]


@pytest.mark.parametrize(("keeps_header", "expected"), [(True, 200), (False, 404)])
def test_it_reads_a_thread_it_started_only_with_the_header(servers, member, keeps_header, expected):
    client = ApiClient(servers["causal"], member.token, keeps_header=keeps_header)
    fields = {"board": member.thread.board.slug, "title": "Started by a script", "body": "First!"}
    status, started = client.call("POST", "/api/threads/", fields)
    assert status == 201, started

    status, answer = client.call("GET", f"/api/threads/{started['id']}/")

    assert status == expected, answer


@pytest.mark.parametrize(("keeps_header", "expected"), [(True, 200), (False, 401)])
def test_a_token_just_handed_out_is_unknown_to_the_replicas_without_the_header(
    servers, lagging_replicas, keeps_header, expected
):
    """The token is a row written on the primary by the request that hands it out: a
    GET with it is authenticated from a replica, refused while the row is missing
    there. The token's own response carries the header."""
    UserFactory(username="new-client")
    client = ApiClient(servers["causal"], keeps_header=keeps_header)
    status, answer = client.call(
        "POST", "/api/token/", {"username": "new-client", "password": PASSWORD}
    )
    assert status == 200, answer
    client.token = answer["token"]

    status, answer = client.call("GET", "/api/threads/")

    assert status == expected, answer
    if status == 401:
        assert answer == {"detail": "Invalid token."}
        wait_until(lambda: client.call("GET", "/api/threads/")[0] == 200, what="the replay")
