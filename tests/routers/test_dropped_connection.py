"""The position survives a connection dropped between the write and the response.

An idle timeout, a pooler or a restart may close the request's connection to the
primary after its write committed. The middleware must still read the primary's
position for the client's cookie, on a new connection.
"""

import pytest

from routers import conf

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]


def test_it_records_the_position_on_a_new_connection(client, tag_name):
    written = client.post(f"/lose-connection/{tag_name}")
    follow = client.get(f"/tag/{tag_name}")

    assert written.status_code == 200
    assert conf.LSN_COOKIE in written.cookies
    assert follow.status_code == 200, f"read from {follow.content.decode()}"
