"""Could this SQL change data? A classifier of statement texts, with no Django in it.

A statement counts as a read only when its text shows no possible write; anything the
classifier cannot read (an unknown function, an unterminated quote) counts as a write.
A write hidden where the text cannot show it (a view or an operator that calls a
writing function) is not seen. A wrong "write" costs a pin or a position check; a wrong
"read" sends the client's next page to a replica that lacks its write.

    >>> is_write("SELECT 1")
    False
    >>> is_write("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d")
    True
"""

import re
from functools import lru_cache

# Statements that steer the session, the transaction or a cursor: they change no data.
CONTROL_VERBS = frozenset(
    {
        "ABORT",
        "BEGIN",
        "CLOSE",
        "COMMIT",
        "DEALLOCATE",
        "DISCARD",
        "END",
        "FETCH",
        "LISTEN",
        "MOVE",
        "RELEASE",
        "RESET",
        "ROLLBACK",
        "SAVEPOINT",
        "SET",
        "SHOW",
        "START",
        "UNLISTEN",
    }
)
# Statements that read, unless they call a function that writes or hold a data change.
QUERY_VERBS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})

# SQL keywords that may stand before "(" without calling anything: only words that
# cannot name a function of yours (PostgreSQL's reserved keywords, and its keywords that
# "cannot be function or type" names), and the TABLESAMPLE methods.
_SQL_WORDS = frozenset(
    """
    all and any array as asc bernoulli between both by case cast collate cube desc
    distinct else end except exists extract filter for from group having in intersect
    interval lateral leading limit materialized not null offset on only or order over
    overlay position recursive returning rollup row select sets some substring system
    table then to trailing trim union using values when where window with within
    """.split()
)
# Functions, and type names written like calls ("varchar(32)"), that never change data.
# The ORM's own functions on PostgreSQL are here; a function missing from this list
# counts as a possible write. Names are compared in lower case, unqualified or in
# pg_catalog only (a "lower" of your own schema is not PostgreSQL's).
READ_ONLY_FUNCTIONS = frozenset(
    """
    abs acos age akeys any_value array_agg array_append array_cat array_length
    array_position array_positions array_remove array_to_string ascii asin atan atan2
    avals avg bit bit_and bit_length bit_or bit_xor bool_and bool_or btrim ceil ceiling
    char char_length character character_length chr clock_timestamp coalesce concat
    concat_ws corr cos cot count covar_pop covar_samp cume_dist current_database
    current_schema current_setting current_user date date_bin date_part date_trunc
    decimal degrees dense_rank digest encode decode every exp first_value float floor format
    gen_random_uuid generate_series greatest has_function_privilege has_table_privilege
    initcap isempty isfinite json_agg
    json_array json_build_array json_build_object json_object jsonb_agg
    jsonb_array_length jsonb_build_array jsonb_build_object jsonb_extract_path
    jsonb_extract_path_text jsonb_object_agg jsonb_path_exists jsonb_path_query
    jsonb_typeof justify_days justify_hours justify_interval lag last_value lead
    least length ln log lower lower_inc lower_inf lpad ltrim make_date make_interval
    make_time make_timestamp make_timestamptz max md5 min mod mode now nth_value ntile
    nullif numeric octet_length percent_rank percentile_cont percentile_disc pg_backend_pid
    pg_get_wal_records_info pg_get_wal_replay_pause_state pg_is_wal_replay_paused
    pg_current_wal_insert_lsn pg_current_wal_lsn pg_is_in_recovery
    pg_last_wal_receive_lsn pg_last_wal_replay_lsn pg_last_xact_replay_timestamp
    pg_postmaster_start_time pg_wal_lsn_diff phraseto_tsquery pi plainto_tsquery power
    quote_ident quote_literal quote_nullable radians random rank regexp_match
    regexp_matches regexp_replace regexp_split_to_array regr_avgx regr_avgy regr_count
    regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy repeat replace reverse
    round row_number row_to_json rpad rtrim setweight sha224 sha256 sha384 sha512 sign
    similarity sin split_part sqrt statement_timestamp stddev stddev_pop stddev_samp
    strict_word_similarity string_agg string_to_array strpos substr sum tan time
    timeofday timestamp timestamptz timezone to_char to_date to_json to_jsonb to_number
    to_regclass to_regproc to_regprocedure
    to_timestamp to_tsquery to_tsvector transaction_timestamp translate trunc ts_headline
    ts_rank ts_rank_cd unaccent unnest upper upper_inc upper_inf uuidv4 uuidv7
    var_pop var_samp variance varchar varying version websearch_to_tsquery
    word_similarity
    """.split()
)

# Comments, strings, quoted names and dollar-quoted bodies, each whole, leftmost first
# (so a "--" inside a string is part of the string). PostgreSQL's block comments nest;
# a nested one leaves a "*/" behind, which makes the text unreadable, hence a write.
_LITERALS = re.compile(
    r"--[^\n\r]*"
    r"|/\*.*?\*/"
    r"|(?<![\w$])[Ee]'[^'\\]*(?:(?:\\.|'')[^'\\]*)*'"
    r"|'[^']*(?:''[^']*)*'"
    r'|"[^"]*(?:""[^"]*)*"'
    r"|(?<![\w$])\$((?:[^\W\d]\w*)?)\$.*?\$\1\$",
    re.DOTALL,
)
_QUOTED_NAME = re.compile(r'"[^"]*(?:""[^"]*)*"')
_DOLLAR_TAG = re.compile(r"(?<![\w$])\$(?:[^\W\d]\w*)?\$")

_VERB = re.compile(r"[\s(]*([A-Za-z]+)")
_LOCKING = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+)?UPDATE\b|\bFOR\s+(?:KEY\s+)?SHARE\b", re.I)
_CHANGES_DATA = re.compile(r"\b(?:INSERT|UPDATE|DELETE|MERGE|INTO)\b", re.I)
_CHANGE_WORDS = ("INSERT", "UPDATE", "DELETE", "MERGE", "INTO")  # a quick test first
# "WITH name (a, b) AS (": a CTE's column list, not a call.
_CTE_COLUMNS = re.compile(
    r"(\bWITH(?:\s+RECURSIVE)?|,)\s*\w+\s*\([^()]*\)\s*"
    r"(?=AS\s*(?:NOT\s+)?(?:MATERIALIZED\s*)?\()",
    re.I,
)
_SUBQUERY = re.compile(r"\s*(?:SELECT|WITH|VALUES|TABLE)\b", re.I)
_EXPLAIN_OPTIONS = re.compile(
    r"EXPLAIN\s*(?:\([^()]*\))?\s*(?:(?:ANALYZE|ANALYSE|VERBOSE)\s+)*", re.I
)
_DECLARE_QUERY = re.compile(r"\bFOR\b(.*)", re.I | re.DOTALL)
_COPY_QUERY = re.compile(r"COPY\s*\((.*)\)\s*TO\b", re.I | re.DOTALL)
_COPY_OUT = re.compile(r"\bTO\b", re.I)
_COPY_IN = re.compile(r"\bFROM\b", re.I)


def _blank(literal: re.Match[str]) -> str:
    text = literal.group()
    if text[0] in "-/":
        return " "
    if text[0] == '"':
        return " _quoted_ "
    if text[0] == "'" and "\\" in text:
        # Where this string ends depends on standard_conforming_strings: leave a quote,
        # which makes the statement unreadable, hence a write.
        return "'"
    return " 0 "


def code_only(sql: str) -> str | None:
    """`sql` with comments removed and every literal and quoted name blanked out.

    Strings become 0 and quoted identifiers become _quoted_, so nothing inside them is
    mistaken for a keyword, a call or a ";". None if a quote or a comment never ends.
    """
    if not any(mark in sql for mark in ("'", "--", "/*", "$")):
        # The ORM's usual statement: only quoted names, a single quick pass.
        code = _QUOTED_NAME.sub(" _quoted_ ", sql)
    else:
        code = _LITERALS.sub(_blank, sql)
    if any(mark in code for mark in ("'", '"', "/*", "*/")) or (
        "$" in code and _DOLLAR_TAG.search(code)
    ):
        return None  # a quote or a comment that never ends
    return code


# The ORM sends the same texts again and again (values travel apart, as parameters).
@lru_cache(maxsize=2048)
def is_write(sql: str) -> bool:
    """Could this SQL change data? False only when its text shows no possible write."""
    code = code_only(sql)
    if code is None:
        return True
    return any(_statement_writes(statement) for statement in code.split(";"))


@lru_cache(maxsize=2048)
def commits(sql: str) -> bool:
    """Does this SQL commit its transaction (COMMIT or END, chained or not)? Only asked
    of a statement `is_write` found no write in: its text is readable.

        >>> commits("COMMIT AND CHAIN")
        True
    """
    code = code_only(sql) or ""
    return any(
        (verb := _VERB.match(statement)) is not None and verb.group(1).upper() in ("COMMIT", "END")
        for statement in code.split(";")
    )


@lru_cache(maxsize=2048)
def locks_rows(sql: str) -> bool:
    """Could this SQL lock rows (`SELECT ... FOR UPDATE`, `FOR NO KEY UPDATE`, `FOR SHARE`,
    `FOR KEY SHARE`)? `is_write` counts such a statement as a read: it changes no data.
    Text that cannot be read counts as locking.

        >>> locks_rows('SELECT "id" FROM "forum_tag" WHERE "id" = %s FOR UPDATE')
        True
    """
    code = code_only(sql)
    return code is None or bool(_LOCKING.search(code))


def _statement_writes(code: str) -> bool:
    verb_match = _VERB.match(code)
    if verb_match is None:
        return bool(code.strip(" \t\r\n()"))  # no verb, yet not empty: unreadable
    verb = verb_match.group(1).upper()
    if verb in CONTROL_VERBS:
        # COMMIT PREPARED makes a transaction prepared earlier, maybe elsewhere, visible.
        return verb == "COMMIT" and "PREPARED" in code.upper()
    if verb in QUERY_VERBS:
        return _query_writes(code)
    if verb == "EXPLAIN":
        # EXPLAIN ANALYZE runs the statement; without ANALYZE this errs on the safe side.
        return _statement_writes(_EXPLAIN_OPTIONS.sub("", code, count=1))
    if verb == "DECLARE":
        query = _DECLARE_QUERY.search(code)
        return query is None or _query_writes(query.group(1))
    if verb == "COPY":
        # COPY (query) TO ... and COPY table TO ... read; COPY ... FROM writes.
        inner = _COPY_QUERY.match(code.lstrip(" \t\r\n"))
        if inner is not None:
            return _statement_writes(inner.group(1))
        return not _COPY_OUT.search(code) or bool(_COPY_IN.search(code))
    return True


def _query_writes(code: str) -> bool:
    """A SELECT-like statement writes if it holds a data change or calls an unknown function."""
    upper = code.upper()
    if any(word in upper for word in _CHANGE_WORDS) and _CHANGES_DATA.search(
        _LOCKING.sub(" ", code)
    ):
        return True
    if "WITH" in upper:
        code = _CTE_COLUMNS.sub(r"\1 ", code)
    paren = code.find("(")
    while paren >= 0:
        if _calls_unknown_function(code, paren):
            return True
        paren = code.find("(", paren + 1)
    return False


def _calls_unknown_function(code: str, paren: int) -> bool:
    """Is the "(" at `paren` a call of a function not known to be read-only?"""
    if _SUBQUERY.match(code, paren + 1):
        return False  # "JOIN (SELECT": a subquery; an argument list cannot start so
    name, start = _word_before(code, paren)
    if not name or name[0].isdigit():
        return False  # after an operator, a comma, a number: grouping
    if _word_before(code, start)[0].upper() == "AS":
        return False  # "AS v(a, b)" names a row's columns
    dot = start
    while dot > 0 and code[dot - 1].isspace():
        dot -= 1
    if dot > 0 and code[dot - 1] == ".":
        schema, _ = _word_before(code, dot - 1)
        if schema.lower() != "pg_catalog":
            return True
    name = name.lower()
    return name not in _SQL_WORDS and name not in READ_ONLY_FUNCTIONS


def _in_name(character: str) -> bool:
    # PostgreSQL takes any non-ASCII character as part of a name, "·" included.
    return character.isalnum() or character in "_$" or character > "\x7f"


def _word_before(code: str, end: int) -> tuple[str, int]:
    """The word that ends just before `end` (spaces skipped), and where it starts."""
    while end > 0 and code[end - 1].isspace():
        end -= 1
    start = end
    while start > 0 and _in_name(code[start - 1]):
        start -= 1
    return code[start:end], start
