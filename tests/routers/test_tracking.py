"""Which statements count as writes, and the recording staying on its connection."""

from contextlib import ExitStack

import pytest
from django.db import connection, connections

from routers import conf
from routers.context import is_probing
from routers.statements import is_write
from routers.tracking import ExecuteRecorder, install
from tests.factories import PostFactory, ReactionFactory, ThreadFactory, UserFactory


@pytest.mark.parametrize(
    "sql",
    [
        'INSERT INTO "forum_post" ("body") VALUES (%s)',
        "update forum_post set body = 'x'",
        "DELETE FROM forum_post",
        "(\nDELETE FROM forum_post)",
        "/* from a library */ INSERT INTO t VALUES (1)",
        "-- note\nUPDATE t SET a = 1",
        "WITH moved AS (DELETE FROM t RETURNING *) SELECT * FROM moved",
        "TRUNCATE forum_tag",
        "CALL refresh_stats()",
        "REFRESH MATERIALIZED VIEW board_stats",
    ],
)
def test_it_counts_data_changes_as_writes(sql):
    assert is_write(sql)


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT "forum_post"."updated_at" FROM "forum_post"',
        "SELECT 1 FOR UPDATE",
        "WITH recent AS (SELECT 1) SELECT * FROM recent",
        'SAVEPOINT "s1"',
        'RELEASE SAVEPOINT "s1"',
        "SET TIME ZONE 'UTC'",
        "SHOW default_transaction_read_only",
        "",
    ],
)
def test_it_counts_reads_and_transaction_control_as_reads(sql):
    assert not is_write(sql)


def test_it_keeps_the_recorder_through_a_temporary_execute_wrapper():
    def passthrough(execute, sql, params, many, context):
        return execute(sql, params, many, context)

    with connection.execute_wrapper(passthrough):
        # The connection opens (and the recorder goes on) inside someone's block.
        install(sender=None, connection=connection)
        install(sender=None, connection=connection)

    recorders = [w for w in connection.execute_wrappers if isinstance(w, ExecuteRecorder)]
    assert len(recorders) == 1


@pytest.mark.stack
@pytest.mark.usefixtures("live_db")
def test_it_counts_every_query_of_the_forums_pages_as_a_read(client, settings, stack):
    """The classifier knows every function the ORM calls: no page is taken for a write."""
    settings.ROUTERS_STRATEGY = "causal"
    member = UserFactory(username="reader")
    thread = ThreadFactory(title="Only reading")
    post = PostFactory(thread=thread, author=member, body="Hello")
    ReactionFactory(target=post, user=member)
    client.force_login(member)
    stack.wait_for_replay()
    pages = [
        "/",
        f"/b/{thread.board.slug}/",
        thread.get_absolute_url(),
        f"/p/{post.pk}/",
        f"/u/{member.username}/",
        "/lab/",
        "/lab/post-redirect-lag/",
        "/healthz",
    ]

    statements: list[str] = []

    def page_query(execute, sql, params, many, context):
        # The routers' own probes (lag, position) are not the page's, and are never
        # classified: the recorder skips them.
        if not is_probing():
            statements.append(sql)
        return execute(sql, params, many, context)

    with ExitStack() as stack:
        for alias in settings.DATABASES:
            stack.enter_context(connections[alias].execute_wrapper(page_query))
        responses = [client.get(page, follow=True) for page in pages]

    assert [r.status_code for r in responses] == [200] * len(pages)
    assert all(conf.LSN_COOKIE not in r.cookies for r in responses)
    assert statements
    assert [sql for sql in statements if is_write(sql)] == []
