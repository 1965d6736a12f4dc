"""A streamed body runs in its request's routing state (WSGI and ASGI).

The body of a StreamingHttpResponse is iterated after every middleware has
returned. It must still see the request's own write, the client's cookie and the
request's replica; a write made while streaming can no longer set a cookie (the
headers are gone), so the routers say so in the log.
"""

import logging

import pytest
from asgiref.sync import async_to_sync

from routers import conf
from tests.routers import urls

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]


def streamed(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_it_reads_the_views_write_in_the_streamed_body(client, tag_name):
    response = client.post(f"/stream/{tag_name}")

    assert streamed(response) == "streamed:True:default"
    assert conf.LSN_COOKIE in response.cookies


def async_streamed(async_client, url):
    async def fetch():
        response = await async_client.post(url)
        chunks = [chunk async for chunk in response]
        return response, b"".join(chunks).decode()

    return async_to_sync(fetch)()


# Django warns that a sync iterator is consumed whole under ASGI: expected here.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous")
@pytest.mark.parametrize("view", ["stream", "stream-async"])
def test_it_reads_the_views_write_in_the_streamed_body_under_asgi(async_client, tag_name, view):
    response, body = async_streamed(async_client, f"/{view}/{tag_name}")

    assert body == "streamed:True:default"
    assert conf.LSN_COOKIE in response.cookies


def test_it_routes_reads_after_a_write_made_while_streaming(client, tag_name, caplog):
    with caplog.at_level(logging.WARNING, logger="routers"):
        body = streamed(client.post(f"/stream-writes/{tag_name}"))

    assert body == "streamed:True:default"
    # The limit, said out loud: no cookie can carry that write to the next request.
    assert "after the response headers were sent" in caplog.text


def test_it_runs_the_bodys_cleanup_in_the_request_state_when_the_client_leaves(client, tag_name):
    response = client.post(f"/stream-cleanup/{tag_name}")
    next(iter(response.streaming_content))

    response.close()  # what the server does when the client goes away

    assert urls.cleanup_saw["read"] == "True:default"
