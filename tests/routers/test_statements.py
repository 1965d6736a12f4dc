"""routers.statements, the classifier: which SQL texts may change data.

Plain functions of a string: no database, no settings, no Django (the import contract
in `make lint` holds the module to that).
"""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from routers.statements import is_write, locks_rows


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
        'SELECT "forum_tag"."id" FROM "forum_tag" WHERE "forum_tag"."id" = %s FOR UPDATE',
        'SELECT "t"."id" FROM "t" FOR NO KEY UPDATE OF "t" SKIP LOCKED',
        "select * from t for share nowait",
        "SELECT * FROM t FOR KEY SHARE",
        "SELECT 'unterminated FROM t",
    ],
)
def test_it_tells_a_read_that_locks_rows(sql):
    assert locks_rows(sql)


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT "for", "update" FROM "t"',
        "SELECT 'FOR UPDATE' FROM t -- for update",
        "SELECT * FROM t WHERE a = 1",
    ],
)
def test_it_tells_a_read_that_locks_nothing(sql):
    assert not locks_rows(sql)


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


WRITES = st.sampled_from(
    [
        "INSERT INTO t VALUES (1)",
        "UPDATE t SET a = 1",
        "DELETE FROM t",
        "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
        "COPY t FROM STDIN",
        "TRUNCATE t",
        "SELECT my_function(1)",
        "SELECT * INTO new_table FROM t",
        "WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone",
        "EXPLAIN ANALYZE DELETE FROM t",
        "DO $$ BEGIN PERFORM 1; END $$",
        "SELECT 1, my_function(1) AS x",
        "WITH x AS (SELECT 1 AS a) SELECT a, archive(a) AS r FROM x",
        "SELECT withdrawn, archive(id) AS a FROM t",
        "SELECT 1 -- a comment that a carriage return ends\r, archive(1)",
        "SELECT $é$'$é$, archive(1) --'",
        "SELECT 'a\\'; SELECT archive(1); --'",
        "COMMIT PREPARED 'batch-1'",
        "SELECT public.lower('x')",
        "SELECT bump·count(1)",
        "SELECT archive\u200d(1)",
        "SELECT inner(1)",
        "SELECT join(1)",
        "SELECT like(1)",
    ]
)
READS = st.sampled_from(
    [
        "SELECT 1",
        'SELECT "t"."a", COUNT(*) AS "n" FROM "t" WHERE "t"."b" IN (1, 2) GROUP BY 1',
        "SELECT 1 FOR UPDATE",
        "SELECT 'INSERT INTO t VALUES (1)'",
        'SELECT "update", "delete" FROM "t"',
        "SET search_path TO public",
        "SHOW server_version",
        "SAVEPOINT s1",
        "RELEASE SAVEPOINT s1",
        "WITH recent AS (SELECT 1) SELECT * FROM recent",
        "EXPLAIN SELECT 1",
        "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n",
        "SELECT * FROM (VALUES (1, 2)) AS v (a, b)",
        'SELECT ENCODE(DIGEST("t"."a", %s), %s) FROM "t"',
        "SELECT * FROM t TABLESAMPLE BERNOULLI (10)",
        "SELECT pg_catalog.lower('A')",
        "SELECT a.x FROM a JOIN (SELECT 1 AS x) b ON true",
        "SELECT 1 WHERE 2 IN (SELECT 3)",
        "",
    ]
)
# What may come before a statement without changing what it does.
PREFIXES = st.lists(
    st.sampled_from(["  ", "\n", "(", "/* a comment */ ", "-- a comment\n", "/* INSERT */ "]),
    max_size=4,
).map("".join)


@given(PREFIXES, WRITES)
def test_it_sees_a_write_whatever_comes_before_it(prefix, sql):
    assert is_write(prefix + sql)


@given(PREFIXES, READS)
def test_it_sees_a_read_whatever_comes_before_it(prefix, sql):
    assert not is_write(prefix + sql)


@given(st.lists(READS, max_size=3), WRITES, st.lists(READS, max_size=3))
def test_it_sees_a_write_anywhere_in_several_statements(before, write, after):
    assert is_write("; ".join([*before, write, *after]))


@given(st.lists(READS, min_size=1, max_size=4))
def test_it_sees_several_reads_as_a_read(reads):
    assert not is_write(";\n".join(reads))


@given(WRITES.map(str.lower))
def test_it_ignores_case(sql):
    assert is_write(sql)


@given(st.text())
@example("'unterminated")
@example('"unterminated')
@example("/* unterminated")
@example("$$ unterminated")
def test_it_never_raises_and_counts_what_it_cannot_read_as_a_write(text):
    assert is_write(text) in (True, False)
