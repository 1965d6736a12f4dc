"""Lesson 19: a failover, for real, on a throwaway primary and standby of the run's own.

The lab's process serves other visitors, so it never points an alias at another server:
the story runs in a process of its own (`manage.py lab_failover ROOT`), which builds the
pair under ROOT with the project's scripts (lab/failover_pair.py), writes through the
real RoutingMiddleware, fails over, and prints what it saw. The lab's process stops every
server under ROOT by its PID afterwards, whatever happened.

The story, on one pair (A the primary, B its standby, C a standby of B once promoted):
asynchronous commits while B streams; synchronous ones (synchronous_standby_names = 'B',
what Patroni's synchronous_mode sets); B cut off; a synchronous commit left waiting,
then its session ended (no acknowledgement); another one whose wait is cancelled (an
acknowledgement with a warning); asynchronous commits again (what Patroni sets when its
synchronous standby is gone, unless synchronous_mode_strict); B promoted; the forum goes
on on B; then the positions of the writes, carried as cookies, brought to B.
"""

import json
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.test import RequestFactory

from forum.models import Tag
from routers import RoutingMiddleware, conf, format_lsn, lost_writes, parse_lsn, read_alias

from ..cluster import ControlError
from ..failover_pair import (
    DATABASE,
    Pair,
    PairError,
    aliases_at,
    new_root,
    remove_servers,
    wait_until,
)
from ..failover_pair import wait_for as wait_for_receiver
from ..harness import manage_py_json
from ..trace import Statement
from ..verdicts import FRESH, LOSS_HIDDEN, LOSS_REPORTED, NONE_LOST, NOT_RUN
from .base import Lesson, Outcome

BARE = "asynchronous, a bare LSN"
WITH_TIMELINE = "asynchronous, LSN and timeline"
KEPT = "a position before the switch point"
SYNCHRONOUS = "synchronous standby"
CANCELLED = "synchronous, the wait cancelled"
ROWS = (BARE, WITH_TIMELINE, KEPT, SYNCHRONOUS, CANCELLED)

# Acknowledged asynchronous commits before the standby is cut off, and after.
ASYNC_BEFORE, ASYNC_AFTER = 4, 2
SYNC_COMMITS = 4
# The commits timed in each mode, for the median.
TIMED_COMMITS = 9
# How long the client waits for a synchronous commit whose standby is gone.
CLIENT_WAIT_SECONDS = 1.0
# The whole run's process: the pair's build (about 3 s here) and the story.
RUN_TIMEOUT = 120.0
LANES = ("A, old primary", "B, promoted", "C, B's standby")
OLD, NEW, ITS_STANDBY = LANES


# --- In the run's own process (manage.py lab_failover) -------------------------------


def _written(request: HttpRequest, name: str) -> HttpResponse:
    Tag.objects.create(name=name)
    return HttpResponse("written")


def _read(request: HttpRequest, name: str) -> HttpResponse:
    """What the member's next page learns: the writes reported lost (asked first, as the
    forum's notice middleware does), then whether the row is there, and where it read."""
    lost = [
        {"lsn": format_lsn(write.lsn), "timeline": write.timeline, "at": write.written_at}
        for write in lost_writes()
    ]
    found = Tag.objects.filter(name=name).exists()
    return JsonResponse({"found": found, "alias": read_alias(Tag), "lost": lost})


def _serve(view: Any, name: str, cookies: dict[str, str], method: str) -> HttpResponseBase:
    request = RequestFactory().generic(method, "/")
    request.COOKIES = dict(cookies)
    return RoutingMiddleware(lambda request: view(request, name))(request)


class Writer:
    """The member: writes through the routers' middleware, keeps each write's cookie."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.cookie = conf.cookie_name(conf.LSN_COOKIE, conf.primary())
        self.cookies: dict[str, str] = {}

    def write(self, name: str) -> None:
        response = _serve(_written, f"{self.run}-{name}", {}, "POST")
        self.cookies[name] = response.cookies[self.cookie].value


def _lsn_of(cookie: str) -> str:
    """The LSN at the head of a signed position cookie's value."""
    return cookie.split("@", 1)[0].split(":", 1)[0]


def _bare(cookie_name: str, lsn: str) -> str:
    """A position cookie with the LSN alone, as an older copy of the package wrote it."""
    response = HttpResponse()
    response.set_signed_cookie(cookie_name, lsn, salt=cookie_name)
    return response.cookies[cookie_name].value


def _commit_left_waiting(params: dict[str, Any], name: str, end: str, pair: Pair) -> dict[str, Any]:
    """A client's INSERT on A, whose synchronous standby is gone: does it return within
    CLIENT_WAIT_SECONDS? Then its wait is ended by `end` (pg_terminate_backend: the
    session closed, as a dying primary closes it; pg_cancel_backend: the wait cancelled)."""
    result: dict[str, Any] = {"warnings": []}

    def client() -> None:
        with psycopg.connect(**params, autocommit=True) as session:
            session.add_notice_handler(
                lambda notice: result["warnings"].append(notice.message_primary)
            )
            try:
                session.execute("INSERT INTO forum_tag (name) VALUES (%s)", [name])
            except psycopg.Error as error:
                result["error"] = str(error).splitlines()[0]
            else:
                result["acknowledged"] = True

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    thread.join(CLIENT_WAIT_SECONDS)
    result["returned_in_time"] = not thread.is_alive()
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
    wait_until(lambda: pair.sql("A", waiting) == "1", "the commit to wait for its standby")
    pair.sql("A", f"SELECT {end}(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")
    thread.join(10)
    if thread.is_alive():
        raise PairError(f"the waiting commit did not end after {end}()")
    result.setdefault("acknowledged", False)
    return result


def _commit_ms(params: dict[str, Any], run: str, kind: str) -> float:
    """The median time of TIMED_COMMITS commits of one row each on A, after one more that
    warms the session up."""
    timings = []
    with psycopg.connect(**params, autocommit=True) as session:
        for index in range(TIMED_COMMITS + 1):
            began = time.perf_counter()
            session.execute(
                "INSERT INTO forum_tag (name) VALUES (%s)", [f"{run}-timed-{kind}-{index}"]
            )
            timings.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(timings[1:]), 2)


def _set_synchronous(pair: Pair, names: str) -> None:
    pair.sql("A", f"ALTER SYSTEM SET synchronous_standby_names = '{names}'")
    pair.sql("A", "SELECT pg_reload_conf()")
    wait_until(
        lambda: pair.sql("A", "SHOW synchronous_standby_names") == names,
        f"synchronous_standby_names = '{names}' on A",
    )


def story(root: Path) -> dict[str, Any]:
    """The whole failover, on a pair built under `root`; what it saw, JSON-ready.
    Changes the aliases' settings: only in a process of its own."""
    began = time.monotonic()
    events: list[tuple[float, str, str, bool]] = []

    def note(node: str, verb: str, failed: bool = False) -> None:
        events.append((round((time.monotonic() - began) * 1000, 1), node, verb, failed))

    pair = Pair("ABC", root)
    run = f"lab-{uuid.uuid4().hex[:8]}"
    writer = Writer(run)
    pair.init_primary("A")
    with aliases_at(pair, default="A"):
        with connections["default"].schema_editor() as editor:
            editor.create_model(Tag)
        params = connections["default"].get_connection_params()
    pair.clone("B", "A")
    built_ms = round((time.monotonic() - began) * 1000)

    with aliases_at(pair, default="A"):
        for index in range(1, ASYNC_BEFORE + 1):
            writer.write(f"a{index}")
            note(OLD, "INSERT")
        commit_ms = {"async": _commit_ms(params, run, "async")}
        _set_synchronous(pair, "B")
        wait_until(
            lambda: pair.sql("A", "SELECT sync_state FROM pg_stat_replication") == "sync",
            "B to be A's synchronous standby",
        )
        commit_ms["sync"] = _commit_ms(params, run, "sync")
        for index in range(1, SYNC_COMMITS + 1):
            writer.write(f"s{index}")
            note(OLD, "INSERT")
        last = _lsn_of(writer.cookies[f"a{ASYNC_BEFORE}"])
        wait_until(lambda: pair.replayed("B", last), "B to replay the first writes")
        pair.cut_off("B")
        note(NEW, "CUT OFF")
        left_waiting = _commit_left_waiting(
            params, f"{run}-s-waiting", "pg_terminate_backend", pair
        )
        note(OLD, "INSERT", failed=True)
        cancelled = _commit_left_waiting(params, f"{run}-s-cancelled", "pg_cancel_backend", pair)
        note(OLD, "INSERT")
        # With its synchronous standby gone, Patroni (synchronous_mode, not strict) sets
        # synchronous_standby_names empty: commits are acknowledged without a standby.
        _set_synchronous(pair, "")
        for index in range(ASYNC_BEFORE + 1, ASYNC_BEFORE + ASYNC_AFTER + 1):
            writer.write(f"a{index}")
            note(OLD, "INSERT")
        old_primary_lsn = pair.sql("A", "SELECT pg_current_wal_lsn()")
    pair.promote("B")
    note(NEW, "PROMOTE")
    history = pair.sql("B", "SELECT routers_timeline_history(2)", DATABASE)
    switch_point = history.split("\t")[1]
    promoted_lsn = pair.sql("B", "SELECT pg_current_wal_lsn()")
    lost_cookie = writer.cookies[f"a{ASYNC_BEFORE + ASYNC_AFTER}"]
    lost_lsn = _lsn_of(lost_cookie)
    # The forum goes on on B: other members' writes, until B's WAL is past the lost one's.
    more = 0
    while parse_lsn(pair.sql("B", "SELECT pg_current_wal_lsn()")) <= parse_lsn(lost_lsn):
        if more >= 50:
            raise PairError("B's WAL did not pass the lost write's position")
        more += 1
        pair.sql(
            "B",
            f"INSERT INTO forum_tag (name) SELECT '{run}-later-{more}-' || n"
            " FROM generate_series(1, 10) AS n",
            DATABASE,
        )
    note(NEW, "INSERT")
    new_primary_lsn = pair.sql("B", "SELECT pg_current_wal_lsn()")
    pair.clone("C", "B")
    wait_for_receiver(pair, "C", "streaming 2")
    wait_until(lambda: pair.replayed("C", new_primary_lsn), "C to replay B's WAL")

    names = [f"a{i}" for i in range(1, ASYNC_BEFORE + ASYNC_AFTER + 1)]
    names += [f"s{i}" for i in range(1, SYNC_COMMITS + 1)] + ["s-waiting", "s-cancelled"]
    on_new_primary = set(
        pair.sql(
            "B", f"SELECT name FROM forum_tag WHERE name LIKE '{run}-%' ORDER BY name", DATABASE
        ).splitlines()
    )
    with aliases_at(pair, default="B", replica="C"):
        cookie = writer.cookie
        reads = {
            "bare": _serve(_read, f"{run}-a6", {cookie: _bare(cookie, lost_lsn)}, "GET"),
            "lost": _serve(_read, f"{run}-a6", {cookie: lost_cookie}, "GET"),
            "kept": _serve(
                _read, f"{run}-s{SYNC_COMMITS}", {cookie: writer.cookies[f"s{SYNC_COMMITS}"]}, "GET"
            ),
        }
        deleted = reads["lost"].cookies.get(cookie)
        after = {
            name: morsel.value
            for name, morsel in reads["lost"].cookies.items()
            if morsel["max-age"] != 0
        }
        reads["lost_again"] = _serve(_read, f"{run}-a6", after, "GET")
        note(ITS_STANDBY, "SELECT")
    return {
        "built_ms": built_ms,
        "present": {name: f"{run}-{name}" in on_new_primary for name in names},
        "commit_ms": commit_ms,
        "left_waiting": left_waiting,
        "cancelled": cancelled,
        "old_primary_lsn": old_primary_lsn,
        "promoted_lsn": promoted_lsn,
        "new_primary_lsn": new_primary_lsn,
        "switch_point": switch_point,
        "lost_lsn": lost_lsn,
        "kept_lsn": _lsn_of(writer.cookies[f"s{SYNC_COMMITS}"]),
        "lost_cookie_deleted": deleted is not None and deleted["max-age"] == 0,
        "reads": {key: json.loads(response.content) for key, response in reads.items()},
        "events": events,
    }


# --- In the lab's process --------------------------------------------------------


def run() -> list[Outcome]:
    root = new_root()
    try:
        told = manage_py_json("lab_failover", str(root), timeout=RUN_TIMEOUT)
    except ControlError as error:
        told = {"not_run": str(error)}
    finally:
        remove_servers(root)
    if "not_run" in told:
        return [Outcome(row, NOT_RUN, f"not run: {told['not_run']}", lanes=LANES) for row in ROWS]
    return outcomes(told)


def _trace(seen: dict[str, Any], *picked: int) -> tuple[Statement, ...]:
    """The story's steps `picked` (indexes into its events), drawn on the pair's lanes."""
    events = seen["events"]
    return tuple(Statement(*events[index]) for index in picked)


def outcomes(seen: dict[str, Any]) -> list[Outcome]:
    """The table's rows, from what the run's process saw."""
    present, commit_ms = seen["present"], seen["commit_ms"]
    asynchronous = [f"a{i}" for i in range(1, ASYNC_BEFORE + ASYNC_AFTER + 1)]
    synchronous = [f"s{i}" for i in range(1, SYNC_COMMITS + 1)]
    lost = [name for name in asynchronous if not present[name]]
    missing_sync = [name for name in synchronous if not present[name]]
    reads = seen["reads"]
    switch, lost_lsn, kept_lsn = seen["switch_point"], seen["lost_lsn"], seen["kept_lsn"]
    # Event indexes: 0-3 async writes, 4-7 sync, 8 cut, 9 waiting, 10 cancelled,
    # 11-12 async after the cut, 13 promote, 14 the forum on B, 15 the reads.
    async_steps = (0, 1, 2, 3, 8, 11, 12, 13, 14, 15)
    bare = reads["bare"]
    hidden = not bare["lost"] and not bare["found"]
    rows = [
        Outcome(
            BARE,
            LOSS_HIDDEN if hidden else LOSS_REPORTED,
            f"{len(lost)} of {len(asynchronous)} acknowledged writes are not on the new "
            f"primary. The last one's position {lost_lsn} is behind the new primary's "
            f"{seen['new_primary_lsn']}, so it looks replayed: read on {bare['alias']}, no such "
            f"row, and the member was told nothing"
            if hidden
            else f"the lost write was reported: {bare['lost']}",
            trace=_trace(seen, *async_steps),
            lanes=LANES,
        )
    ]
    first, again = reads["lost"], reads["lost_again"]
    told_once = len(first["lost"]) == 1 and not again["lost"]
    rows.append(
        Outcome(
            WITH_TIMELINE,
            LOSS_REPORTED if told_once else LOSS_HIDDEN,
            f"the same {len(lost)} writes lost. The position {lost_lsn} on timeline 1 is after "
            f"timeline 1's switch point {switch}: lost_writes() reported it on the next "
            f"request ({len(first['lost'])} write), and on the one after reported "
            f"{len(again['lost'])} (the position cookie deleted"
            f"{'' if seen['lost_cookie_deleted'] else ': NOT deleted'})",
            trace=_trace(seen, *async_steps),
            lanes=LANES,
        )
    )
    kept = reads["kept"]
    rows.append(
        Outcome(
            KEPT,
            FRESH if kept["found"] and not kept["lost"] else LOSS_HIDDEN,
            f"the position {kept_lsn} on timeline 1 is at or before the switch point {switch}: "
            f"the new primary has the write; routed as usual, read on {kept['alias']}, "
            f"{'found' if kept['found'] else 'NOT found'}, "
            f"{len(kept['lost'])} reported lost",
            trace=_trace(seen, 7, 8, 13, 15),
            lanes=LANES,
        )
    )
    waiting = seen["left_waiting"]
    never_returned = not waiting["returned_in_time"] and not waiting["acknowledged"]
    rows.append(
        Outcome(
            SYNCHRONOUS,
            NONE_LOST if never_returned and not missing_sync else LOSS_HIDDEN,
            f"{len(synchronous) - len(missing_sync)} of {len(synchronous)} acknowledged writes "
            f"are on the new primary. The next commit, its standby cut off, did not return in "
            f"{CLIENT_WAIT_SECONDS:.0f} s; its session ended, the client got "
            f'"{waiting.get("error", "no error")}", no acknowledgement. The cost: a commit '
            f"took {commit_ms['sync']:.2f} ms (median of {TIMED_COMMITS}) against "
            f"{commit_ms['async']:.2f} ms asynchronous, here",
            trace=_trace(seen, 4, 5, 6, 7, 8, 9, 13, 14),
            lanes=LANES,
        )
    )
    cancelled = seen["cancelled"]
    acknowledged_lost = cancelled["acknowledged"] and not present["s-cancelled"]
    rows.append(
        Outcome(
            CANCELLED,
            LOSS_HIDDEN if acknowledged_lost else NONE_LOST,
            "a commit waiting for the gone standby, cancelled (pg_cancel_backend): the client "
            f'got success with a warning ("{"; ".join(cancelled["warnings"])}"), and the '
            f"write is {'not ' if not present['s-cancelled'] else ''}on the new primary. "
            "statement_timeout does not end that wait at all"
            if cancelled["acknowledged"]
            else f"the cancelled commit was not acknowledged: {cancelled.get('error')}",
            trace=_trace(seen, 4, 5, 6, 7, 8, 10, 13, 14),
            lanes=LANES,
        )
    )
    return rows


LESSON = Lesson(
    number=19,
    slug="failover-loses-writes",
    title="A failover loses acknowledged writes",
    problem="The [primary](../glossary.md#primary) dies and its [standby](../glossary.md#standby) "
    "is [promoted](../glossary.md#promotion). With asynchronous replication, the last "
    "commits it acknowledged had not reached the standby: they are in no node that is left. "
    "A bare [LSN](../glossary.md#lsn) in the member's cookie looks replayed on the new "
    "[timeline](../glossary.md#timeline), so nobody notices.",
    fix="A [synchronous standby](../glossary.md#synchronous-standby) makes a commit wait until "
    "the standby has it: nothing acknowledged is lost, for a slower commit. Where commits stay "
    "asynchronous, a position carries its timeline: one after the "
    "[switch point](../glossary.md#switch-point) is a write the failover lost, and its author "
    "is told once.",
    run=run,
    compares="Setup",
)
