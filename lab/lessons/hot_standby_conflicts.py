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
import time
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone

from analytics.models import Event
from routers import (
    conf,
    cursor_for_read,
    health,
    read_alias,
    usable_replicas,
)

from ..cluster import ControlError
from ..harness import (
    Cleanup,
    cleaned_up_under_read,
    dead_rows_kept,
    lab_table,
    served,
    servers_answer,
    standby_setting,
    under_strategy,
    wait_for,
)
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


# --- The settings this lesson changes ----------------------------------------------


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
            response = served(f"/{view}/{setup.table}/{setup.read_ms}", urlconf=__name__)
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
        with lab_table(replicas, ROWS) as table, standby_setting(replicas, GRACE, f"{grace}s"):
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
