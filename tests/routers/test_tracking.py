"""Which statements count as writes, and the recorder staying on its connection."""

import pytest
from django.db import connection

from routers.tracking import StatementRecorder, install, is_write


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

    recorders = [w for w in connection.execute_wrappers if isinstance(w, StatementRecorder)]
    assert len(recorders) == 1
