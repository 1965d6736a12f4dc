"""Writes the ORM does not make are still noticed: COPY, functions, several statements,
server-side cursors, a batch that commits and then fails.

Each view writes a tag through raw SQL and returns; the client's next request must
find the tag, although every replica holds it back for a second.
"""

import pytest
from django.db import connections

from routers import conf

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]

COOKIES = {"sticky": conf.PIN_COOKIE, "causal": conf.LSN_COOKIE}


@pytest.fixture(scope="module")
def writing_function(django_db_setup, django_db_blocker):
    """A SQL function that inserts a tag: `SELECT routers_test_add_tag('x')` writes."""
    with django_db_blocker.unblock(), connections["default"].cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE FUNCTION routers_test_add_tag(tag text) RETURNS bigint"
            " LANGUAGE sql AS $$ INSERT INTO forum_tag (name) VALUES (tag) RETURNING id $$"
        )
    yield
    with django_db_blocker.unblock(), connections["default"].cursor() as cursor:
        cursor.execute("DROP FUNCTION routers_test_add_tag(text)")


@pytest.mark.usefixtures("writing_function")
@pytest.mark.parametrize("strategy", ["sticky", "causal"])
@pytest.mark.parametrize(
    "view",
    [
        "copy",
        "function",
        "statements",
        "composed",
        "server-cursor",
        "named-cursor",
        "commit-then-fail",
    ],
)
def test_it_sends_the_next_read_to_a_node_that_has_the_raw_write(
    client, settings, tag_name, strategy, view
):
    settings.ROUTERS_STRATEGY = strategy

    written = client.post(f"/{view}/{tag_name}")
    follow = client.get(f"/tag/{tag_name}")

    assert written.status_code == 200
    assert COOKIES[strategy] in written.cookies
    assert follow.status_code == 200, f"the next read went to {follow.content.decode()}"


def test_it_runs_a_composed_select_without_error(client):
    response = client.get("/composed-read")

    assert response.status_code == 200
    assert conf.LSN_COOKIE not in response.cookies
