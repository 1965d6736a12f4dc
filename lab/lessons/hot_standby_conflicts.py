"""Lesson 13: a long read on a replica is cancelled when replay must remove rows it may see.

The primary removes a dead row version once no query on the primary can still see it;
it knows nothing of the standbys' queries. A standby that replays that cleanup while a
query there may still see those versions waits for the query, at most
max_standby_streaming_delay after it received the WAL, then cancels it (SQLSTATE 40001).

A run makes it happen for real: a table of its own on the primary, a short grace on the
replicas in rotation, a long read on one of them and, once that read runs, the primary
updates every row and vacuums the table. Four times: the read alone; the read in a GET
served as Django serves one (RoutingMiddleware serves it again, elsewhere); in a GET
that wrote first (never served again); and with hot_standby_feedback on (no cancel, and
the primary keeps the dead rows). Every setting is put back, and the table dropped,
whatever happened. The GET that wrote answers 500, which Django logs and signals
(got_request_exception) as it does any 500.
"""

import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.db import OperationalError, connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory
from django.urls import get_urlconf, path, set_urlconf
from django.utils import timezone

from analytics.models import Event
from routers import (
    conf,
    connect_to_server,
    cursor_for_read,
    health,
    primary_lsn,
    read_alias,
    replayed,
    servers_of,
    usable_replicas,
)

from ..cluster import ControlError, set_standby_setting
from ..harness import under_strategy
from ..trace import Statement, traced
from ..verdicts import ERROR, NO_ERROR
from ..verdicts import NOT_RUN as NOTHING_MEASURED
from .base import Lesson, Outcome, lab_events

READ_ALONE = "a long read on a replica"
SERVED_AGAIN = "the read in a GET"
WROTE_FIRST = "a GET that wrote first"
FEEDBACK = "hot_standby_feedback = on"
NOT_RUN = "not run"

GRACE = "max_standby_streaming_delay"
ROWS = 1000
# The grace is this much longer than the longest apply delay of the replicas, so that a
# run shows it: replay reaches the cleanup only once it has applied the update's commit,
# which the apply delay holds back, and the grace counts from when the WAL arrived (a
# shorter one would cancel the read as soon as replay got there).
GRACE_MARGIN = 1
# The long read takes this much longer than the grace: it is cancelled well before its end.
READ_MARGIN = 1.5
# Bounds on what a run waits for: the long read to start, a reload, a replay.
TIMEOUT = 10.0
POLL = 0.02


# --- The report: what a long replica read looks like to the routers ----------------


def read_sql(table: str) -> str:
    """Count the rows, then take a while: pg_sleep stands for a slow report's work, and
    the statement's snapshot is held all the while."""
    return f"SELECT count(*), pg_sleep(%s) FROM {connections[conf.primary()].ops.quote_name(table)}"


def report(request: HttpRequest, table: str, ms: int) -> HttpResponse:
    """A slow report, read where causal sends this request's reads."""
    with under_strategy("causal"), cursor_for_read() as cursor:
        cursor.execute(read_sql(table), [ms / 1000])
        count = cursor.fetchone()[0]
        return HttpResponse(f"{count} rows, read on {read_alias()}")


def logged_report(request: HttpRequest, table: str, ms: int) -> HttpResponse:
    """The report, after recording in the activity log (analytics) that it was run: a
    write on another primary, so causal still reads the forum's replica."""
    Event.objects.create(kind="lab", title=table, occurred_at=timezone.now())
    return report(request, table, ms)


# Only served() reaches these views: no URL of the site does.
urlpatterns = [
    path("report/<slug:table>/<int:ms>", report),
    path("logged-report/<slug:table>/<int:ms>", logged_report),
]


def served(url: str) -> HttpResponseBase:
    """GET `url` as Django serves a request: the project's whole MIDDLEWARE around the view,
    so that RoutingMiddleware's process_exception sees the view's error; resolved by this
    module's urlpatterns."""
    handler = BaseHandler()
    handler.load_middleware()
    # CommonMiddleware checks every request's host against ALLOWED_HOSTS.
    allowed = next(iter(settings.ALLOWED_HOSTS), "localhost")
    host = "localhost" if allowed == "*" else allowed.lstrip(".")
    request = RequestFactory().get(url, HTTP_HOST=host)
    request.urlconf = __name__
    outer = get_urlconf()
    try:
        return handler.get_response(request)
    finally:
        set_urlconf(outer)  # resolving the request set this thread's URLconf to this module


# --- The stack: settings on the standbys, the primary's cleanup ---------------------


@contextmanager
def every_server(aliases: list[str]) -> Iterator[list[psycopg.Connection[Any]]]:
    """A new connection to every server behind `aliases` (a scaled compose service is one
    alias over several containers), as each alias's own role, for the block."""
    with ExitStack() as opened:
        try:
            servers = [
                opened.enter_context(connect_to_server(alias, server, autocommit=True))
                for alias in aliases
                for server in servers_of(alias)
            ]
        except psycopg.OperationalError as error:
            raise ControlError(f"a replica did not answer: {error}") from error
        yield servers


def first_column(connection: psycopg.Connection[Any], sql: str, params: tuple[Any, ...]) -> Any:
    row = connection.execute(sql, params).fetchone()
    return row[0] if row else None


def servers_answer(aliases: list[str], sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """The first column of `sql`'s first row on every server behind `aliases`, each asked
    in a new session (one already open applies a reload only after its next statement)."""
    with every_server(aliases) as servers:
        return [first_column(server, sql, params) for server in servers]


def changed_settings(aliases: list[str]) -> list[str]:
    """The lesson's settings that a replica has from somewhere other than the default: a
    run would reset them afterwards, so it leaves such a replica alone."""
    found = servers_answer(
        aliases,
        "SELECT string_agg(name || ' = ' || setting || ' (' || source || ')', ', ')"
        " FROM pg_settings WHERE name IN (%s, 'hot_standby_feedback') AND source <> 'default'",
        (GRACE,),
    )
    return [answer for answer in found if answer]


def wait_for(condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise ControlError(f"{what}: not seen after {timeout:.0f} s")
        time.sleep(POLL)


@contextmanager
def standby_setting(aliases: list[str], name: str, value: str) -> Iterator[None]:
    """`name` = `value` on these replicas for the block, reset afterwards, whatever
    happened; each change waited for until a session on every server shows it."""

    def shown(changed: bool) -> bool:
        sources = servers_answer(aliases, "SELECT source FROM pg_settings WHERE name = %s", (name,))
        return all((source != "default") == changed for source in sources)

    try:
        set_standby_setting(aliases, name, value)
        wait_for(lambda: shown(True), f"{name} = {value} on {', '.join(aliases)}")
        yield
    finally:
        set_standby_setting(aliases, name, None)
        wait_for(lambda: shown(False), f"{name} reset on {', '.join(aliases)}")


@contextmanager
def lab_table(replicas: list[str]) -> Iterator[str]:
    """A table of the run's own on the primary, ROWS rows, replayed by these replicas;
    dropped afterwards. No autovacuum: the run's own VACUUM is the cleanup."""
    table = f"lab_conflict_{uuid.uuid4().hex[:10]}"
    name = connections[conf.primary()].ops.quote_name(table)
    try:
        with connections[conf.primary()].cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE {name} (id int PRIMARY KEY, v int NOT NULL)"
                " WITH (autovacuum_enabled = off)"
            )
            cursor.execute(f"INSERT INTO {name} SELECT i, 0 FROM generate_series(1, %s) i", [ROWS])
        position = primary_lsn()
        for alias in replicas:
            if position is None or not replayed(alias, position, TIMEOUT):
                raise ControlError(f"{alias} did not replay the run's table within {TIMEOUT:.0f} s")
        yield table
    finally:
        with connections[conf.primary()].cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")


@dataclass
class Cleanup:
    """The primary's side of a conflict: when it updated every row and vacuumed, after the
    run began, and what its VACUUM said of the dead rows."""

    began: float
    statements: list[Statement] = field(default_factory=list)
    tuples: str = ""
    error: str = ""

    def note(self, verb: str) -> None:
        at_ms = round((time.monotonic() - self.began) * 1000, 1)
        self.statements.append(Statement(at_ms, conf.primary(), verb, False))


@contextmanager
def cleaned_up_under_read(table: str, replicas: list[str]) -> Iterator[Cleanup]:
    """Once the block's long read of `table` runs on one of `replicas`, the primary updates
    every row (each gets a new version, the old one dies) and vacuums the table (which
    removes the dead ones), from a thread of its own."""
    cleanup = Cleanup(began=time.monotonic())
    read_ended = threading.Event()
    primary_params = connections[conf.primary()].get_connection_params()
    name = connections[conf.primary()].ops.quote_name(table)

    def read_running(watched: list[psycopg.Connection[Any]]) -> bool:
        # The reader role sees its own sessions' queries; the table's name is the run's.
        sql = (
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE state = 'active'"
            " AND query LIKE %s AND pid <> pg_backend_pid())"
        )
        return any(first_column(server, sql, (f"%pg_sleep%{table}%",)) for server in watched)

    def clean_up(watched: list[psycopg.Connection[Any]]) -> None:
        notices: list[str] = []
        deadline = time.monotonic() + TIMEOUT
        try:
            while not read_running(watched):
                if read_ended.is_set() or time.monotonic() > deadline:
                    cleanup.error = "the long read was not seen running on a replica"
                    return
                time.sleep(POLL)
            with psycopg.connect(**primary_params, autocommit=True) as primary:
                primary.add_notice_handler(
                    lambda notice: notices.append(notice.message_primary or "")
                )
                primary.execute(f"UPDATE {name} SET v = v + 1")
                cleanup.note("UPDATE")
                primary.execute(f"VACUUM (VERBOSE) {name}")
                cleanup.note("VACUUM")
        except psycopg.Error as error:
            cleanup.error = f"the cleanup failed: {error}"
        lines = (line for notice in notices for line in notice.splitlines())
        cleanup.tuples = next((line for line in lines if line.startswith("tuples:")), "")

    with every_server(replicas) as watched:
        worker = threading.Thread(target=clean_up, args=(watched,), daemon=True)
        worker.start()
        try:
            yield cleanup
        finally:
            read_ended.set()
            worker.join(TIMEOUT)


def dead_rows_kept(cleanup: Cleanup) -> int | None:
    """How many dead row versions the primary's VACUUM could not remove yet."""
    found = re.search(r"(\d+) are dead but not yet removable", cleanup.tuples)
    return int(found.group(1)) if found else None


def recovery_conflict(error: BaseException) -> psycopg.Error | None:
    """The standby's cancellation behind a Django error, if that is what it was."""
    cause = error.__cause__
    if isinstance(cause, psycopg.Error) and cause.sqlstate == "40001":
        return cause
    return None


def in_words(conflict: psycopg.Error) -> str:
    return (
        f"SQLSTATE {conflict.sqlstate}, “{conflict.diag.message_primary}” "
        f"(DETAIL: {conflict.diag.message_detail})"
    )


# --- The four runs ----------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """What the four runs of one lesson run share."""

    table: str
    #: The replicas in rotation, with the short grace; the plain reads go to the first.
    replicas: list[str]
    grace: int
    read_ms: int

    @property
    def replica(self) -> str:
        return self.replicas[0]


@dataclass(frozen=True)
class Read:
    """How one long read on a replica went, and what the primary did meanwhile."""

    seconds: float
    count: int | None
    failure: OperationalError | None
    cleanup: Cleanup
    trace: tuple[Statement, ...]


def long_read(setup: Setup) -> Read:
    """The long read on one replica, straight through its alias, while the primary cleans up."""
    began = time.monotonic()
    count, failure = None, None
    with cleaned_up_under_read(setup.table, [setup.replica]) as cleanup, traced() as statements:
        try:
            with connections[setup.replica].cursor() as cursor:
                cursor.execute(read_sql(setup.table), [setup.read_ms / 1000])
                count = cursor.fetchone()[0]
        except OperationalError as error:
            failure = error
    trace = tuple(sorted([*statements, *cleanup.statements], key=lambda s: s.at_ms))
    return Read(time.monotonic() - began, count, failure, cleanup, trace)


def read_alone(setup: Setup) -> Outcome:
    read = long_read(setup)
    if read.cleanup.error:
        return Outcome(
            READ_ALONE, NOTHING_MEASURED, f"not shown: {read.cleanup.error}", trace=read.trace
        )
    conflict = recovery_conflict(read.failure) if read.failure else None
    if conflict is None:
        what = f"failed: {read.failure}" if read.failure else f"finished ({read.count} rows)"
        return Outcome(
            READ_ALONE,
            ERROR,
            f"the read {what} after {read.seconds:.1f} s; the primary's VACUUM said "
            f"{read.cleanup.tuples or 'nothing'}",
            trace=read.trace,
        )
    return Outcome(
        READ_ALONE,
        ERROR,
        f"cancelled after {read.seconds:.1f} s: {in_words(conflict)}. The primary's VACUUM "
        f"had removed the old row versions ({read.cleanup.tuples}); {setup.replica} waited at "
        f"most {GRACE} = {setup.grace}s, counted from when it received the WAL, then "
        "cancelled the read",
        trace=read.trace,
    )


def in_a_get(setup: Setup, wrote_first: bool) -> Outcome:
    """The long read in a GET, served with the project's middleware; `wrote_first`: the
    view records an activity event before it reads."""
    label = WROTE_FIRST if wrote_first else SERVED_AGAIN
    view = "logged-report" if wrote_first else "report"
    began = time.monotonic()
    with lab_events(setup.table):
        with cleaned_up_under_read(setup.table, setup.replicas) as cleanup, traced() as statements:
            response = served(f"/{view}/{setup.table}/{setup.read_ms}")
        seconds = time.monotonic() - began
        events = Event.objects.using("analytics").filter(title=setup.table).count()
    trace = tuple(sorted([*statements, *cleanup.statements], key=lambda s: s.at_ms))
    cancelled = [s.alias for s in statements if s.verb == "SELECT" and s.failed]
    if cleanup.error:
        return Outcome(label, NOTHING_MEASURED, f"not shown: {cleanup.error}", trace=trace)
    if not cancelled:
        return Outcome(label, ERROR, f"{response.status_code}: no read was cancelled", trace=trace)
    first = cancelled[0]
    if wrote_first:
        if response.status_code == 500 and len(cancelled) == 1:
            return Outcome(
                label,
                ERROR,
                f"500 after {seconds:.1f} s: the read was cancelled on {first} (40001) and the "
                f"GET was not served again, as it must not be: it had written an activity event "
                f"(analytics holds {events}), which a second run would write again",
                trace=trace,
            )
        return Outcome(
            label,
            ERROR,
            f"{response.status_code} after {seconds:.1f} s, {len(cancelled)} reads cancelled, "
            f"{events} events in analytics: not the one cancelled read and 500 expected",
            trace=trace,
        )
    if response.status_code != 200:
        return Outcome(
            label,
            ERROR,
            f"{response.status_code} after {seconds:.1f} s: the read was cancelled on {first}",
            trace=trace,
        )
    answer = response.content.decode() if isinstance(response, HttpResponse) else ""
    summary = (
        f"200 after {seconds:.1f} s in all: the first run's read was cancelled on {first} "
        f"(40001), and RoutingMiddleware served the GET again, which read elsewhere: "
        f"“{answer}”. The visitor waited for both runs"
    )
    if answer.endswith(f"read on {conf.primary()}"):
        summary += (
            f"; {first} was set aside for ROUTERS_HEALTH_TTL and no other replica was in "
            "rotation, so the primary served the second run (with a second replica, that one would)"
        )
    return Outcome(label, NO_ERROR, summary, trace=trace)


def with_feedback(setup: Setup) -> Outcome:
    """The long read again, with the replica telling the primary what its queries need."""

    def holding() -> int:
        """How many standbys hold the primary's cleanup back with their feedback."""
        with connections[conf.primary()].cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE backend_xmin IS NOT NULL"
            )
            found: int = cursor.fetchone()[0]
            return found

    before = holding()
    with standby_setting([setup.replica], "hot_standby_feedback", "on"):
        wait_for(lambda: holding() > before, f"{setup.replica}'s feedback on the primary")
        read = long_read(setup)
    wait_for(lambda: holding() <= before, f"the primary letting go of {setup.replica}'s feedback")
    if read.cleanup.error:
        return Outcome(
            FEEDBACK, NOTHING_MEASURED, f"not shown: {read.cleanup.error}", trace=read.trace
        )
    if read.failure is not None or not dead_rows_kept(read.cleanup):
        what = f"failed: {read.failure}" if read.failure else "finished"
        return Outcome(
            FEEDBACK,
            ERROR,
            f"the read {what} after {read.seconds:.1f} s; the primary's VACUUM said "
            f"{read.cleanup.tuples or 'nothing'}",
            trace=read.trace,
        )
    return Outcome(
        FEEDBACK,
        NO_ERROR,
        f"the read finished after {read.seconds:.1f} s ({read.count} rows), not cancelled. The "
        f"cost is on the primary: its VACUUM kept the old row versions, {read.cleanup.tuples} "
        "(they stay for as long as the standby's oldest query needs them)",
        trace=read.trace,
    )


def not_run(why: str) -> list[Outcome]:
    return [Outcome(NOT_RUN, NOTHING_MEASURED, why)]


def run() -> list[Outcome]:
    if not settings.LAB_CLUSTER_CONTROLS:
        return not_run(
            "this lesson changes the replicas' settings for its run, which the lab does only "
            "where its cluster controls are on (LAB_CLUSTER_CONTROLS: make demo and compose)"
        )
    replicas = usable_replicas()
    if not replicas:
        return not_run("no replica is in rotation: start one, or resume its replay")
    try:
        changed = changed_settings(replicas)
        if changed:
            return not_run(
                f"a replica already has {'; '.join(changed)}, which a run would reset "
                "afterwards (ALTER SYSTEM RESET it to run this lesson)"
            )
        delay = max(health(alias).apply_delay for alias in replicas)
        grace = math.ceil(delay) + GRACE_MARGIN
        read_ms = int((grace + READ_MARGIN) * 1000)
        with lab_table(replicas) as table, standby_setting(replicas, GRACE, f"{grace}s"):
            setup = Setup(table, replicas, grace, read_ms)
            return [
                read_alone(setup),
                in_a_get(setup, wrote_first=False),
                in_a_get(setup, wrote_first=True),
                with_feedback(setup),
            ]
    except ControlError as error:
        return not_run(str(error))


LESSON = Lesson(
    number=13,
    slug="hot-standby-conflicts",
    title="A long read on a replica is cancelled",
    problem="The primary cleans up row versions no query on the primary needs; a "
    "[standby](../glossary.md#standby) [replaying](../glossary.md#replay) that cleanup "
    "cancels its own queries that may still need them, once "
    "max_standby_streaming_delay has run out.",
    fix="Serve a cancelled read-only request again (RoutingMiddleware does, never one that "
    "wrote), keep replica reads short, or trade: hot_standby_feedback (bloat on the "
    "primary) or a longer grace (a standby that lags).",
    run=run,
    compares="Setup",
)
