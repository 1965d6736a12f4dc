"""Lesson 11: whether a test sees replication lag depends on where its replica alias points.

`TEST = {"MIRROR": "default"}` makes a replica alias a mirror during a test run. In the
installed Django, `BaseDatabaseCreation.set_as_test_mirror` copies one setting, the
database NAME; HOST and PORT stay the alias's own. Each setup below is built the same
way a test run builds it, then asked the question a read-your-writes test asks: is the
row just committed on the primary readable through the replica alias?
"""

import time

import psycopg
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from forum.models import Tag
from routers import RequestState, conf, primary_lsn, read_alias, replayed, request_scope

from ..trace import Statement, traced
from ..verdicts import HIDES_LAG, NOT_RUN, SHOWS_LAG, STALE
from .base import Lesson, Outcome, lab_tag

ON_PRIMARY_HOST = "mirror on the primary host"
ON_STANDBY_HOST = "mirror on the standby host"
NEVER_COMMITTED = "TestCase: never committed"
THIS_PROJECT = "this project: commit, route, wait"
# How long a run waits for the standby to replay a position: past any demo delay.
REPLAY_TIMEOUT = 35.0


def replica() -> str:
    return conf.replicas()[0]


def flush_wal() -> None:
    """Have the primary flush the WAL of the transaction still open on this thread.

    A standby receives only WAL the primary has flushed, and the WAL writer flushes a
    partly filled page only up to an asynchronous commit: an open transaction's insert
    may wait there for the next commit. A commit from another session, with an xid and
    no WAL of its own (so it commits asynchronously), wakes the WAL writer, which then
    flushes through it.
    """
    params = connections[conf.primary()].get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_current_xact_id()")


def mirror(on_primary_host: bool) -> BaseDatabaseWrapper:
    """The replica alias as a test run makes it with TEST["MIRROR"] = the primary.

    `on_primary_host`: its HOST and PORT are the primary's, as in a development setup
    where every alias points at one server. Otherwise they are the standby's own.
    """
    primary = connections[conf.primary()].settings_dict
    settings_dict = {**connections[replica()].settings_dict}
    if on_primary_host:
        settings_dict.update(HOST=primary["HOST"], PORT=primary["PORT"])
    wrapper = connections[replica()].__class__(settings_dict, alias=f"{replica()} (mirror)")
    wrapper.creation.set_as_test_mirror(primary)
    return wrapper


def readable(wrapper: BaseDatabaseWrapper, name: str) -> bool:
    """Does a read through `wrapper` find the tag? (Then the connection is closed.)"""
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM forum_tag WHERE name = %s)", [name])
            found: bool = cursor.fetchone()[0]
            return found
    finally:
        wrapper.close()


def read_trace(began: float, on_primary_host: bool) -> tuple[Statement, ...]:
    """The insert on the primary, and the mirror's read on the server it reached."""
    at_ms = round((time.monotonic() - began) * 1000, 1)
    server = "primary" if on_primary_host else "standby"
    return (Statement(0.0, "primary", "INSERT", False), Statement(at_ms, server, "SELECT", False))


def through_mirror(on_primary_host: bool) -> Outcome:
    """Commit a tag on the primary, then read it at once through the mirror alias."""
    label = ON_PRIMARY_HOST if on_primary_host else ON_STANDBY_HOST
    wrapper = mirror(on_primary_host)
    with lab_tag() as name:
        began = time.monotonic()
        Tag.objects.using(conf.primary()).create(name=name)
        found = readable(wrapper, name)
    trace = read_trace(began, on_primary_host)
    if on_primary_host:
        if found:
            return Outcome(
                label,
                HIDES_LAG,
                "found at once: the test passes, but it read the primary's own server, "
                "so it hides the 404 a lagging replica gives real users",
                trace=trace,
            )
        return Outcome(
            label, SHOWS_LAG, "not found: unexpected on the primary's server", trace=trace
        )
    if found:
        return Outcome(
            label,
            HIDES_LAG,
            "found: the standby had already replayed it (is an apply delay set?)",
            trace=trace,
        )
    return Outcome(
        label,
        SHOWS_LAG,
        "not found: the test fails, as the redirect fails in production. The mirror "
        "took the primary's NAME only; it still reads the lagging standby",
        trace=trace,
    )


def never_committed() -> Outcome:
    """As in a TestCase: write inside a transaction, let the standby replay past it, read."""
    began = time.monotonic()
    with lab_tag() as name, transaction.atomic(using=conf.primary()):
        Tag.objects.create(name=name)
        position = primary_lsn()
        flush_wal()
        caught_up = position is not None and replayed(replica(), position, REPLAY_TIMEOUT)
        found = readable(mirror(on_primary_host=False), name)
        transaction.set_rollback(True, using=conf.primary())
    trace = read_trace(began, on_primary_host=False)
    # Whatever it finds, this setup cannot show lag: the row is never visible on a standby.
    if not caught_up:
        return Outcome(NEVER_COMMITTED, NOT_RUN, "the standby did not replay in time", trace=trace)
    if found:
        return Outcome(
            NEVER_COMMITTED, HIDES_LAG, "found on the standby: unexpected, uncommitted", trace=trace
        )
    return Outcome(
        NEVER_COMMITTED,
        HIDES_LAG,
        "the standby replayed past the insert and still has no row: a test's rolled-back "
        "data is replayed on a standby but never becomes visible (its commit never comes), "
        "so a TestCase cannot show lag at all",
        trace=trace,
    )


def this_project() -> Outcome:
    """Commit for real, read through the routers (causal), then wait, with a bound, for
    the standby itself to replay the write and read it there."""
    with lab_tag() as name:
        Tag.objects.using(conf.primary()).create(name=name)
        position = primary_lsn()
        state = RequestState(strategy="causal")
        state.cluster().min_lsn = position
        with traced() as statements, request_scope(state):
            found_now = Tag.objects.filter(name=name).exists()
            served_by = read_alias(Tag)
        caught_up = position is not None and replayed(replica(), position, REPLAY_TIMEOUT)
        found_later = caught_up and Tag.objects.using(replica()).filter(name=name).exists()
    trace = tuple(statements)
    if not found_now:
        return Outcome(THIS_PROJECT, STALE, f"not found: causal read {served_by}", trace=trace)
    if not found_later:
        why = f"the standby did not replay the write within {REPLAY_TIMEOUT:.0f} s"
        return Outcome(THIS_PROJECT, NOT_RUN, why, trace=trace)
    summary = (
        f"found at once (causal read {served_by}), and on the standby once it had "
        "replayed the write: a real standby, a real commit, a bounded wait"
    )
    return Outcome(THIS_PROJECT, SHOWS_LAG, summary, trace=trace)


def run() -> list[Outcome]:
    return [through_mirror(True), through_mirror(False), never_committed(), this_project()]


LESSON = Lesson(
    number=11,
    slug="mirror-hides-lag",
    title="TEST.MIRROR hides lag",
    problem="A read-your-writes test passes when the [replica](../glossary.md#replica) "
    "[alias](../glossary.md#alias) reaches the primary's own server, and proves nothing about the "
    "lagging standby users meet.",
    fix="Test against a real [standby](../glossary.md#standby) with a real [apply "
    "delay](../glossary.md#apply-delay), with committed data, waiting on conditions with a bound.",
    run=run,
    compares="Test setup",
)
