"""Lesson 10: behind a pooler in transaction mode, a session is no longer one server.

PgBouncer with `pool_mode = transaction` lends a server connection for one transaction,
then gives it to whichever client asks next. Two things Django does across transactions
break: a server-side cursor (`QuerySet.iterator()`) declared in one and fetched in the
next, and a replay check in one transaction vouching for reads in the next. Each run
plays the busy site with a second client whose transaction takes the very server the
first transaction used (found by looking at it), so the outcome does not depend on luck.
"""

import uuid

import psycopg
from django.db import DatabaseError

from forum.models import Tag
from routers import conf

from ..harness import holds_cursor, other_client_on, pooled_connection, pooler_missing, server_of
from ..trace import Statement
from ..verdicts import CHECKED, ERROR, NO_ERROR, NOT_RUN, UNCHECKED
from .base import Lesson, Outcome

SERVER_SIDE_CURSOR = "iterator(), server-side cursor"
CLIENT_SIDE = "iterator(), DISABLE_SERVER_SIDE_CURSORS"
CHECK_THEN_READ = "replay check, then a read"
ONE_TRANSACTION = "check and read in one transaction"


def iterate(server_side: bool) -> Outcome:
    """Iterate three tags one row per fetch while another client takes the cursor's server."""
    label = SERVER_SIDE_CURSOR if server_side else CLIENT_SIDE
    with pooled_connection("primary", DISABLE_SERVER_SIDE_CURSORS=not server_side) as pooled:
        missing = pooler_missing(pooled)
        if missing:
            return Outcome(label, NOT_RUN, missing)
        # Unique to the run, also across processes: the other client finds this run's
        # cursor by the query text it holds.
        prefix = f"lab-pool-{uuid.uuid4().hex[:12]}-"
        Tag.objects.using(conf.primary()).bulk_create(Tag(name=f"{prefix}{n}") for n in range(3))
        names: list[str] = []
        try:
            rows = Tag.objects.using(pooled.alias).filter(name__startswith=prefix).order_by("name")
            iterator = rows.iterator(chunk_size=1)
            names.append(next(iterator).name)
            with other_client_on(pooled, holds_cursor(prefix)) as took_it:
                names += [tag.name for tag in iterator]
        # Django's own cleanup (closing the cursor) meets the same missing cursor and
        # raises psycopg's error, unwrapped.
        except (DatabaseError, psycopg.Error) as error:
            return lost_cursor(label, str(error).splitlines()[0], len(names))
        finally:
            # Django's CLOSE may have reached another server session too: a cursor left
            # open would answer the next run's FETCH of the same name (Django's names
            # start again with each connection).
            with other_client_on(pooled, holds_cursor(prefix)):
                pass  # the client closes every cursor of the session it took
            Tag.objects.using(conf.primary()).filter(name__startswith=prefix).delete()
    if server_side:
        found = "took" if took_it else "could not find"
        return Outcome(label, NO_ERROR, f"read every row (the other client {found} its server)")
    return Outcome(
        label,
        NO_ERROR if len(names) == 3 else ERROR,
        f"read all {len(names)} rows: the query ran once and Django fetched every row "
        "in that one transaction, so no cursor outlived it",
        trace=(Statement(0.0, "server A", "SELECT", False),),
    )


def lost_cursor(label: str, reason: str, rows_read: int) -> Outcome:
    """The outcome of a server-side cursor whose session another statement missed: which
    statement, from PostgreSQL's own words."""
    if "portal" in reason:
        # psycopg describes the cursor right after declaring it, in a message of its own.
        summary = (
            "psycopg's Describe, sent right after the DECLARE, reached another server "
            f"before any row: {reason}"
        )
        missed = "Describe"
    else:
        summary = f"a FETCH reached another server after {rows_read} row(s): {reason}"
        missed = "FETCH"
    trace = (
        Statement(0.0, "server A", "DECLARE", False),
        Statement(1.0, "server B", missed, True),
    )
    return Outcome(label, ERROR, summary, trace=trace)


def check_then_read(one_transaction: bool) -> Outcome:
    """The replay check, then the read, with another client taking the check's server
    connection between them (found by its backend PID): where does the read run?"""
    label = ONE_TRANSACTION if one_transaction else CHECK_THEN_READ
    with pooled_connection("replicas") as pooled:
        missing = pooler_missing(pooled)
        if missing:
            return Outcome(label, NOT_RUN, missing)
        try:
            if one_transaction:
                pooled.set_autocommit(False)  # what ROUTERS_POOLED_REPLICAS does
            with pooled.cursor() as cursor:
                checked = server_of(cursor)
                with other_client_on(
                    pooled, lambda other: server_of(other.cursor()) == checked
                ) as took_it:
                    read = server_of(cursor)
        except (DatabaseError, psycopg.Error) as error:
            return Outcome(label, ERROR, f"the pooler did not answer: {error}")
    if not one_transaction and not took_it:
        return Outcome(
            label,
            NOT_RUN,
            "no other client got the check's server connection: is the pooler in transaction mode?",
        )
    (check_pid, check_standby), (read_pid, read_standby) = checked, read
    trace = (
        Statement(0.0, f"standby {check_standby}", "SELECT", False),
        Statement(1.0, f"standby {read_standby}", "SELECT", False),
    )
    if checked == read:
        return Outcome(
            label,
            CHECKED,
            f"both on server connection {check_pid} (standby {check_standby}): no other "
            "client can take it in the middle of a transaction",
            trace=trace,
        )
    if check_standby != read_standby:
        elsewhere = "another standby, which may be further behind"
    else:
        # One standby behind the pooler: the same data this time, by luck of the layout.
        elsewhere = "the same standby here; with two behind the pooler, it can be the other"
    return Outcome(
        label,
        UNCHECKED,
        f"the check ran on server connection {check_pid} (standby {check_standby}), the "
        f"read on {read_pid} (standby {read_standby}, {elsewhere}): another client took "
        "the first in between, so nothing ties the read to what the check saw",
        trace=trace,
    )


def run() -> list[Outcome]:
    return [iterate(True), iterate(False), check_then_read(False), check_then_read(True)]


LESSON = Lesson(
    number=10,
    slug="transaction-pooling",
    title="Behind a transaction pooler",
    problem="A [pooler](../glossary.md#pooler) in transaction mode may give each transaction "
    "another server: a server-side cursor's Describe or next fetch, or the read after a replay "
    "check, lands elsewhere.",
    fix="DISABLE_SERVER_SIDE_CURSORS on every pooled alias, and ROUTERS_POOLED_REPLICAS so a "
    "request's check and reads share one transaction.",
    run=run,
    compares="Setup",
)
