"""Work a view hands to a thread it waits on runs in the request's routing state.

A new thread starts with an empty context, so without help its writes are unknown
to the request. `in_request_context` carries the request's state into the thread.
"""

import pytest

from routers import conf

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]


def test_it_loses_a_write_made_in_a_plain_worker_thread(client, tag_name):
    written = client.post(f"/worker-untracked/{tag_name}")
    follow = client.get(f"/tag/{tag_name}")

    # The documented limit: the request never learns of the worker's write.
    assert conf.LSN_COOKIE not in written.cookies
    assert follow.status_code == 404


def test_it_tracks_a_write_made_in_a_worker_given_the_request_context(client, tag_name):
    written = client.post(f"/worker/{tag_name}")
    follow = client.get(f"/tag/{tag_name}")

    assert conf.LSN_COOKIE in written.cookies
    assert follow.status_code == 200
