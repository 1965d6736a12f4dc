"""A `request_scope()` opened inside a request keeps the request's writes."""

import pytest

from routers import RequestState, conf, current_state, request_scope

pytestmark = pytest.mark.usefixtures("causal")


def test_it_joins_the_open_scope_when_nested():
    with request_scope() as outer, request_scope() as inner:
        assert inner is outer
        assert current_state() is outer


def test_it_hands_an_inner_scopes_write_to_the_outer_one():
    with request_scope() as outer:
        with request_scope(RequestState(strategy="sticky")) as inner:
            inner.cluster().wrote = True
        assert current_state() is outer
        assert outer.wrote


@pytest.mark.stack
@pytest.mark.usefixtures("live_db")
def test_it_reads_and_remembers_a_write_made_in_a_nested_scope(client, tag_name):
    response = client.post(f"/nested/{tag_name}")

    assert response.status_code == 200
    assert response.content == b"default"
    assert conf.LSN_COOKIE in response.cookies
