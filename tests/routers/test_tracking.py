"""The write tracking on real connections: the recording stays on its connection, and
every query of the forum's pages counts as a read."""

from contextlib import ExitStack

import pytest
from django.db import connection, connections, transaction

from forum.models import Tag
from routers import conf, request_scope
from routers.context import is_probing
from routers.statements import is_write
from routers.tracking import ExecuteRecorder, install
from tests.factories import PostFactory, ReactionFactory, ThreadFactory, UserFactory


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


@pytest.mark.stack
@pytest.mark.usefixtures("live_db")
def test_a_write_may_be_saved_once_it_ran_in_autocommit_or_its_commit_was_sent(tag_name):
    """What the read-only page's "may have been saved" rests on (`commit_sent`)."""
    primary = conf.primary()
    with request_scope() as state, transaction.atomic(using=primary):
        Tag.objects.create(name=tag_name)
        in_the_transaction = state.cluster(primary).commit_sent
    after_its_commit = state.cluster(primary).commit_sent

    with request_scope() as state:
        Tag.objects.create(name=f"{tag_name}-a")
        in_autocommit = state.cluster(primary).commit_sent

    with request_scope() as state, transaction.atomic(using=primary):
        Tag.objects.create(name=f"{tag_name}-r")
        with connections[primary].cursor() as cursor:
            cursor.execute("COMMIT")  # its own COMMIT, as a procedure's caller may send
        after_a_raw_commit = state.cluster(primary).commit_sent

    assert (in_the_transaction, after_its_commit) == (False, True)
    assert in_autocommit
    assert after_a_raw_commit
