"""The JSON API with the primary down: reads go on from the replicas, a write gets a JSON
503 (not the read-only page), and a client's own write on its way a JSON "saved" 503."""

import json

import pytest
from rest_framework.authtoken.models import Token

from routers import conf
from tests.factories import UserFactory
from tests.helpers import replicated_thread, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]

JSON = {"Accept": "application/json"}


@pytest.fixture
def member_token(settings):
    settings.ROUTERS_STRATEGY = "causal"
    return Token.objects.create(user=UserFactory(username="member")).key


@pytest.fixture
def thread(member_token):
    """A thread, on every replica with the member's token."""
    return replicated_thread("Still readable")


@pytest.fixture
def primary_stopped(client, stack):
    yield
    stack.start("default")
    wait_until(lambda: client.get("/healthz").status_code == 200, what="the primary to return")


def reply(client, thread, token, body, **headers):
    return client.post(
        f"/api/threads/{thread.pk}/posts/",
        json.dumps({"body": body}),
        content_type="application/json",
        headers={"Authorization": f"Token {token}", **headers},
    )


def test_it_reads_threads_from_the_replicas_and_answers_a_write_with_a_json_503(
    client, stack, thread, member_token, primary_stopped
):
    stack.stop("default")

    read = client.get(f"/api/threads/{thread.pk}/")
    written = reply(client, thread, member_token, "Sent while the primary was down")

    assert read.status_code == 200
    assert read.json()["posts"][0]["body"] == "Opening post"
    assert written.status_code == 503
    assert written["Content-Type"] == "application/json"
    assert written["Retry-After"] == "30"
    assert written.json()["detail"].startswith("Read-only mode")


def test_it_answers_a_read_of_a_write_no_replica_has_with_a_json_503_then_shows_it(
    client, stack, thread, member_token, primary_stopped
):
    stack.set_lag("10s")  # ample time to see the reply missing, even on a slow machine
    try:
        written = reply(client, thread, member_token, "Written just in time")
        client.cookies.clear()  # an API client: the header is all it keeps
        token = {conf.TOKEN_HEADER: written[conf.TOKEN_HEADER]}
        stack.stop("default")

        waiting = client.get(f"/api/threads/{thread.pk}/", headers={**token, **JSON})

        assert waiting.status_code == 503
        assert waiting["Retry-After"] == "2"
        assert waiting.json()["detail"].startswith("Saved, on its way")
    finally:
        stack.set_lag("1s")

    def shown() -> bool:
        page = client.get(f"/api/threads/{thread.pk}/", headers=token)
        return page.status_code == 200 and "Written just in time" in page.content.decode()

    wait_until(shown, timeout=30, what="a replica to replay the reply")
