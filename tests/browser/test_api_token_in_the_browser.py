"""A browser app on another origin calls the forum's JSON API with fetch(), in a real
headless Chromium, against gunicorn and replicas 3 s behind: it reads the
Routers-Consistency header of its reply, sends it back, and reads its reply.

Another port on 127.0.0.1 is another origin, so every call goes through CORS
(django-cors-headers), and fetch() keeps no cookies across origins: the header is all
that carries the write. Without CORS_EXPOSE_HEADERS the app cannot read it, and without
CORS_ALLOW_HEADERS the browser refuses to send it.
"""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from corsheaders.defaults import default_headers
from rest_framework.authtoken.models import Token

from tests.factories import PostFactory, ThreadFactory, UserFactory
from tests.helpers import fetch, gunicorn, replica_aliases, served_with, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.browser, pytest.mark.usefixtures("live_db")]

HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REPLY = "Posted from another origin"

# The app: a reply, then the thread read back, sending the header back if it got one.
REPLY_THEN_READ = """async ({api, token, thread, reply}) => {
  let consistency = null;
  async function call(method, path, body) {
    const headers = {Authorization: `Token ${token}`, "Content-Type": "application/json"};
    if (consistency) headers["Routers-Consistency"] = consistency;
    const response = await fetch(api + path, {
      method, headers, body: body && JSON.stringify(body),
    });
    consistency = response.headers.get("Routers-Consistency") || consistency;
    return response;
  }
  const posted = await call("POST", `/api/threads/${thread}/posts/`, {body: reply});
  const header = consistency;
  try {
    const read = await call("GET", `/api/threads/${thread}/`);
    const bodies = (await read.json()).posts.map((post) => post.body);
    return {posted: posted.status, header, bodies};
  } catch (error) {
    return {posted: posted.status, header, error: String(error)};
  }
}"""


@pytest.fixture(scope="module")
def app_origin() -> Iterator[str]:
    """The browser app's origin: a page of its own, served on another port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<!doctype html><title>A browser app</title>")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def member(lagging_replicas) -> dict[str, Any]:
    """A thread and a member's token, both on every replica already (by their rows)."""
    thread = ThreadFactory(title="Called from a browser app")
    PostFactory(thread=thread, body="Opening post")
    token = Token.objects.create(user=UserFactory(username="app-member")).key
    for alias in replica_aliases():
        wait_until(
            lambda alias=alias: fetch(
                alias, "SELECT EXISTS (SELECT 1 FROM authtoken_token WHERE key = %s)", [token]
            ),
            what=f"{alias} to replay the token",
        )
    return {"token": token, "thread": thread.pk, "reply": REPLY}


def app_run(page, app_origin, api, member) -> dict[str, Any]:
    page.goto(app_origin + "/")
    result: dict[str, Any] = page.evaluate(REPLY_THEN_READ, {"api": api, **member})
    return result


def api_server(tmp_path, app_origin, **cors) -> Any:
    """The forum under causal, its API open to the app's origin (with `cors` changed);
    the header alone carries the app's writes (no positions per member: lesson 18)."""
    changes = {
        "CORS_ALLOWED_ORIGINS": [app_origin],
        "ROUTERS_MEMBER_POSITIONS_CACHE": None,
        **cors,
    }
    return gunicorn(
        tmp_path, **served_with(ROUTERS_STRATEGY="causal", PASSWORD_HASHERS=HASHERS, **changes)
    )


def test_the_app_reads_the_header_sends_it_back_and_reads_its_reply(
    page, tmp_path, app_origin, member
):
    with api_server(tmp_path, app_origin) as api:
        result = app_run(page, app_origin, api, member)

    assert result["posted"] == 201
    assert result["header"]
    assert result["bodies"] == ["Opening post", REPLY]


def test_without_the_header_exposed_the_app_reads_its_reply_stale(
    page, tmp_path, app_origin, member
):
    with api_server(tmp_path, app_origin, CORS_EXPOSE_HEADERS=[]) as api:
        result = app_run(page, app_origin, api, member)

    assert result["posted"] == 201
    assert result["header"] is None  # sent by the server, hidden from the app by CORS
    assert result["bodies"] == ["Opening post"]


def test_without_the_header_allowed_the_browser_refuses_to_send_it(
    page, tmp_path, app_origin, member
):
    with api_server(tmp_path, app_origin, CORS_ALLOW_HEADERS=list(default_headers)) as api:
        result = app_run(page, app_origin, api, member)

    assert result["posted"] == 201
    assert result["header"]
    assert result["error"] == "TypeError: Failed to fetch"  # the preflight said no
