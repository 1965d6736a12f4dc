"""A replica that fails in the middle of a GET: the page is served again from another node.

A read-only request can be run twice without harm, so one replica's failure is not the
visitor's 500. A request that wrote, or whose method may write, is never run twice.
"""

import pytest

from tests.routers.urls import lost_replica

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]


def test_it_serves_a_get_again_from_another_node(client, tag_name):
    response = client.get(f"/lose-replica/{tag_name}")

    assert response.status_code == 404  # the tag does not exist: found no row, no 500
    assert lost_replica[tag_name].startswith("replica")
    assert response.content.decode() != lost_replica[tag_name]


def test_it_serves_a_get_again_after_losing_the_primary_mid_request(client, tag_name):
    response = client.get(f"/lose-primary/{tag_name}")

    assert response.status_code == 404  # found no such tag; no 500
    assert response.content.decode() == "default"  # reconnected: it is up


def test_it_never_runs_a_post_twice(client, tag_name):
    response = client.post(f"/lose-replica/{tag_name}")

    # Its reads were on the primary, whose connection it lost: the read-only page, not a
    # second run (which would have answered 404, finding no such tag).
    assert response.status_code == 503
    assert 'id="read-only"' in response.content.decode()
