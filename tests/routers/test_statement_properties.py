"""Properties of the statement classifier and of LSN text, over generated input."""

import re

from django.http import HttpResponse
from django.test import RequestFactory
from hypothesis import example, given
from hypothesis import strategies as st

from routers import conf, format_lsn, parse_lsn
from routers.cookies import state_from_cookies
from routers.statements import is_write

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


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_it_turns_an_lsn_into_text_and_back(value):
    text = format_lsn(value)

    assert parse_lsn(text) == value
    assert re.fullmatch(r"[0-9A-F]{1,8}/[0-9A-F]{1,8}", text)


@given(st.integers(min_value=0, max_value=2**64 - 1), st.integers(min_value=0, max_value=2**64 - 1))
def test_it_orders_lsns_as_postgresql_does(a, b):
    # PostgreSQL orders "X/Y" by X, then Y, both hexadecimal.
    def key(text):
        high, low = text.split("/")
        return (int(high, 16), int(low, 16))

    assert (parse_lsn(format_lsn(a)) < parse_lsn(format_lsn(b))) == (
        key(format_lsn(a)) < key(format_lsn(b))
    )


@given(st.from_regex(r"[0-9A-F]{1,8}/[0-9A-F]{1,8}", fullmatch=True))
def test_it_reads_every_lsn_text_a_cookie_may_hold(text):
    value = parse_lsn(text)

    assert 0 <= value < 2**64
    assert parse_lsn(format_lsn(value)) == value


@given(st.text(alphabet="0123456789ABCDEFabcdef/:- \x00", max_size=24))
def test_it_reads_a_signed_lsn_cookie_or_ignores_it(text):
    signed = HttpResponse()
    signed.set_signed_cookie(conf.LSN_COOKIE, text, salt=conf.LSN_COOKIE)
    request = RequestFactory().get("/")
    request.COOKIES[conf.LSN_COOKIE] = signed.cookies[conf.LSN_COOKIE].value

    position = state_from_cookies(request).cluster().min_lsn

    if re.fullmatch(r"[0-9A-F]{1,8}/[0-9A-F]{1,8}", text):
        assert position == parse_lsn(text)
    else:
        assert position is None
