"""The consistency token in a header: a client that keeps no cookies sends back what a
writing response handed it, and is routed as if it had the cookies.

Each test's client drops every cookie after its write, as an API client without a
cookie jar does; the replicas hold each commit back (1 s, 3 s with lagging_replicas).
"""

import time
import urllib.error
import urllib.request

import pytest
from django.core import signing

from routers import conf
from routers.positions import Position
from routers.tokens import Write, dumps, loads
from tests.helpers import gunicorn, served_with

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]

HEADER = conf.TOKEN_HEADER
FORUM_REPLICAS = {"replica", "replica_2"}


def write_without_cookies(client, url):
    """POST `url`, keep its header, forget its cookies."""
    response = client.post(url)
    client.cookies.clear()
    return response


@pytest.mark.parametrize("strategy", ["sticky", "causal"])
def test_it_reads_its_write_when_it_sends_the_header_back(client, settings, tag_name, strategy):
    settings.ROUTERS_STRATEGY = strategy
    written = write_without_cookies(client, f"/create/{tag_name}")

    follow = client.get(f"/tag/{tag_name}", headers={HEADER: written[HEADER]})

    assert follow.status_code == 200, f"read from {follow.content.decode()}"
    assert follow.content.decode() == "default"


def test_without_the_header_it_reads_a_replica_that_lacks_its_write(client, tag_name):
    written = write_without_cookies(client, f"/create/{tag_name}")

    follow = client.get(f"/tag/{tag_name}")

    assert HEADER in written
    assert follow.status_code == 404
    assert follow.content.decode() in FORUM_REPLICAS


def test_a_writing_response_is_kept_out_of_shared_caches_and_varies_on_the_header(client, tag_name):
    written = client.post(f"/create/{tag_name}")

    assert "private" in written["Cache-Control"]
    vary = {name.strip().lower() for name in written["Vary"].split(",")}
    assert {"cookie", HEADER.lower()} <= vary


def test_a_response_that_wrote_nothing_carries_no_header(client, tag_name):
    assert HEADER not in client.get(f"/tag/{tag_name}")


def test_the_header_carries_the_writes_the_request_was_handed(client, lagging_replicas, tag_name):
    """One header holds every primary's write: a write on analytics hands back the
    forum's write the client sent, so the newest header alone covers both."""
    on_forum = write_without_cookies(client, f"/create/{tag_name}")
    on_analytics = client.post(f"/event/create/{tag_name}", headers={HEADER: on_forum[HEADER]})
    client.cookies.clear()

    aliases = client.get(f"/both/{tag_name}", headers={HEADER: on_analytics[HEADER]})

    assert {write.primary for write in loads(on_analytics[HEADER])} == {"default", "analytics"}
    assert aliases.content.decode() == "default analytics"


def forged() -> str:
    token = dumps([Write("default", time.time(), Position(1, 1))])
    return signing.TimestampSigner(key="another-secret", salt="routers.tokens").sign(
        signing.TimestampSigner(salt="routers.tokens").unsign(token)
    )


def expired() -> str:
    with pytest.MonkeyPatch.context() as patch:
        then = time.time() - conf.LSN_COOKIE_SECONDS - 60
        patch.setattr(signing.time, "time", lambda: then)
        return dumps([Write("default", then, Position(2**40, 1))])


@pytest.mark.parametrize(
    "make_value",
    [
        pytest.param(forged, id="signed with another key"),
        pytest.param(expired, id="older than an hour"),
        pytest.param(lambda: "default=1764224000123@16/B374D848@1", id="unsigned"),
        pytest.param(lambda: "garbage:with:colons", id="garbled"),
        pytest.param(lambda: "é\u00ff:\u00fe", id="not ascii"),
        pytest.param(lambda: "a:" * 50_000, id="huge"),
    ],
)
def test_a_header_that_is_not_a_token_of_ours_is_ignored(client, tag_name, make_value):
    write_without_cookies(client, f"/create/{tag_name}")

    follow = client.get(f"/tag/{tag_name}", headers={HEADER: make_value()})

    assert follow.status_code == 404  # read from a replica, as with no header at all
    assert follow.content.decode() in FORUM_REPLICAS


def test_an_async_view_under_asgi_hands_the_header_and_reads_it_back(
    tmp_path, lagging_replicas, tag_name
):
    served = served_with(ROOT_URLCONF="tests.routers.urls", ROUTERS_STRATEGY="causal")
    with gunicorn(tmp_path, asgi=True, **served) as url:
        request = urllib.request.Request(f"{url}/async/create/{tag_name}", method="POST")
        with urllib.request.urlopen(request, timeout=10) as written:
            token = written.headers[HEADER]
        with urllib.request.urlopen(
            urllib.request.Request(f"{url}/tag/{tag_name}", headers={HEADER: token}), timeout=10
        ) as follow:
            assert follow.read().decode() == "default"
        with pytest.raises(urllib.error.HTTPError) as without:
            urllib.request.urlopen(f"{url}/tag/{tag_name}", timeout=10)
        assert without.value.code == 404
        assert without.value.read().decode() in FORUM_REPLICAS
