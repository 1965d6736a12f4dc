"""The lab's harness: what the lessons' runs need around their scenarios.

- `under_strategy`: route a block of the request being served with one strategy.
- Lessons 8 and 9: a replica whose replay is paused for the run, so that it is behind.
- Lesson 7's relay, run as a process of its own and killed half-way at a known point.
- Lesson 10's pooler: Django connections through PgBouncer, opened for one run, and a
  second client that takes a given server connection from the pool.
- Lesson 13's standbys and primary: a request served through the whole middleware, a
  setting on the replicas for a block, a table of a run's own, and the primary's
  update and vacuum while a long read runs. Lesson 18 serves its devices' requests so too.
- Lesson 16's requests under ATOMIC_REQUESTS, served in a process of its own.
"""

import copy
import itertools
import json
import os
import re
import signal
import subprocess
import sys
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
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import load_backend
from django.http import HttpResponseBase
from django.test import RequestFactory
from django.urls import get_urlconf, set_urlconf

from analytics.models import Event
from forum.models import OutboxEvent
from routers import (
    conf,
    connect_to_server,
    current_state,
    describe_nodes,
    primary_lsn,
    replayed,
    servers_of,
)

from .cluster import ControlError, set_replay_paused, set_standby_setting
from .programs import run_program
from .trace import Statement

# --- A strategy for a block -------------------------------------------------------


@contextmanager
def under_strategy(strategy: str) -> Iterator[None]:
    """Route the block with `strategy`, in the request being served: what the client's
    cookies brought (a pin, a position) stays, and the strategy before comes back after.
    For a view run under RoutingMiddleware, as the lab's switch does for a browser."""
    state = current_state()
    if state is None:
        raise RuntimeError("under_strategy() routes a request: run it under RoutingMiddleware")
    before, state.strategy = state.strategy, strategy
    try:
        yield
    finally:
        state.strategy = before


# --- Lessons 8 and 9: a replica held back for the run -------------------------------


@contextmanager
def replica_held_back() -> Iterator[str | None]:
    """A replica that applies nothing while the block runs, so that what the block
    writes stays missing there; None when there is none to hold back.

    A replica already paused (from the cluster panel) is used as it is, and stays paused.
    Otherwise the first one up is paused for the block, where the cluster controls are
    on (LAB_CLUSTER_CONTROLS: a demo feature, like the panel's own pause), and resumed
    after, whatever happens. A paused standby keeps receiving WAL; its replay stops
    before the next record, so every commit made after the pause waits there.
    """
    replicas = [replica for replica in describe_nodes()["replicas"] if replica["up"]]
    already = [replica["alias"] for replica in replicas if replica["replay_paused"]]
    if already or not replicas or not settings.LAB_CLUSTER_CONTROLS:
        yield already[0] if already else None
        return
    alias = replicas[0]["alias"]
    set_replay_paused(alias, True)
    try:
        yield alias
    finally:
        set_replay_paused(alias, False)


# --- Lesson 7: the outbox relay, killed half-way ------------------------------------

# The relay's connections, so the lab can find (and end) them on the server; one
# name per run.
RELAY_APPLICATION = "forum-outbox-relay-lab"
RELAY_TIMEOUT = 30.0


def relay_killed_half_way(first: int, second: int) -> bool:
    """Run the relay for two outbox rows and kill it (SIGKILL) once it has copied the
    first to analytics, before it marks either. Whether it was caught so.

    The second copy is held back by an uncommitted insert of the same `source_id` in
    another session (PostgreSQL makes a conflicting insert wait for it), so the relay
    stops right there; nothing else waits on the lab.
    """
    application = f"{RELAY_APPLICATION}-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**connections["analytics"].get_connection_params()) as hold:
        hold.execute(
            "INSERT INTO analytics_event (source_id, kind, username, title, occurred_at,"
            " recorded_at) VALUES (%s, 'lab', '', '', now(), now())",
            [second],
        )
        relay = _relay_process([first, second], application)
        deadline = time.monotonic() + RELAY_TIMEOUT
        try:
            while not _copied(first) and relay.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            relay.send_signal(signal.SIGKILL)
            relay.wait()
            _end_sessions(application)
        hold.rollback()
    pending = OutboxEvent.objects.using("default").filter(pk__in=[first, second], relayed_at=None)
    return _copied(first) and not _copied(second) and pending.count() == 2


def _relay_process(ids: list[int], application: str) -> subprocess.Popen[bytes]:
    """`manage.py relay_outbox` for these rows, in a process of its own, as a deployment
    would run it; its connections carry `application` as their name."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "relay_outbox", *map(str, ids)],
        cwd=settings.BASE_DIR,
        env={**os.environ, "PGAPPNAME": application},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _copied(source_id: int) -> bool:
    return Event.objects.using("analytics").filter(source_id=source_id).exists()


def _end_sessions(application: str) -> None:
    """End the killed relay's server sessions: the one waiting on the held insert would
    otherwise run it (and commit it) once the lab lets go."""
    for alias in ("default", "analytics"):
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
                " WHERE application_name = %s",
                [application],
            )


# --- Lesson 10: connections through the pooler ---------------------------------------

# Tries at taking given server connections: more than the pool holds idle here.
MAX_OTHER_CLIENTS = 20
_pooled = itertools.count()


@contextmanager
def pooled_connection(entry: str, **options: Any) -> Iterator[BaseDatabaseWrapper]:
    """A Django connection through the pooler (settings.POOLED_DATABASES[entry], with
    `options` on top), open for one run, then closed.

    Not an alias of DATABASES: every alias there must answer for the test suite and the
    footer, and the pooler is optional. So the lab builds the connection itself, and
    binds it under an alias of its own in this thread's `connections` for the run, so
    that `QuerySet.using(connection.alias)` reaches it; the settings stay untouched.
    """
    config = {**copy.deepcopy(settings.POOLED_DATABASES[entry]), "CONN_MAX_AGE": 0, **options}
    # configure_settings fills in Django's defaults; it wants a "default" entry.
    config = connections.configure_settings({DEFAULT_DB_ALIAS: config})[DEFAULT_DB_ALIAS]
    alias = f"lab_pooled_{entry}_{next(_pooled)}"
    connection: BaseDatabaseWrapper = load_backend(config["ENGINE"]).DatabaseWrapper(config, alias)
    connections[alias] = connection
    try:
        yield connection
    finally:
        connection.close()
        del connections[alias]


def pooler_missing(connection: BaseDatabaseWrapper) -> str | None:
    """Why the pooler behind `connection` cannot be used, or None when it answers."""
    try:
        connection.ensure_connection()
    except DatabaseError:
        where = f"{connection.settings_dict['HOST']}:{connection.settings_dict['PORT']}"
        return (
            f"no pooler answers at {where}: postgres/stack.sh starts PgBouncer when the "
            "pgbouncer package is installed (scripts/ensure-stack.sh installs it, as root)"
        )
    return None


@contextmanager
def other_client_on(
    connection: BaseDatabaseWrapper, same_server: Callable[[psycopg.Connection[Any]], bool]
) -> Iterator[bool]:
    """Another client of the pooler behind `connection`, in a transaction on the server
    connection that `same_server` recognises, for as long as the block runs; yields
    whether it got it.

    A try that lands elsewhere ends at once, and its server connection goes back to
    the end of the pooler's queue (server_round_robin): the tries walk through the idle
    connections.
    """
    params = connection.get_connection_params()
    for _ in range(MAX_OTHER_CLIENTS):
        with psycopg.connect(**params, autocommit=True) as client:
            client.execute("BEGIN")
            if same_server(client):
                try:
                    yield True
                finally:
                    # A WITH HOLD cursor left behind would outlive this run in that
                    # server session, for the next client to trip over.
                    client.execute("CLOSE ALL")
                    client.execute("COMMIT")
                return
    yield False


def holds_cursor(marker: str) -> Callable[[psycopg.Connection[Any]], bool]:
    """Does a client's transaction run in the server session holding the cursor whose
    query names `marker`? (Not any Django cursor: a failed run may leave one behind in
    another server session.)"""

    def holds(client: psycopg.Connection[Any]) -> bool:
        # pg_cursors lists the cursors of the server session the transaction runs in.
        row = client.execute(
            "SELECT count(*) FROM pg_cursors WHERE name LIKE '_django_curs_%%'"
            " AND strpos(statement, %s) > 0",
            [marker],
        ).fetchone()
        return row is not None and bool(row[0])

    return holds


def server_of(cursor: Any) -> tuple[int, str]:
    """The server connection a statement ran on: its backend PID, and its standby's
    address (none over a Unix socket) and port."""
    cursor.execute(
        "SELECT pg_backend_pid(), concat_ws(':', host(inet_server_addr()), current_setting('port'))"
    )
    pid, where = cursor.fetchone()
    return int(pid), str(where)


# --- Lesson 13: a request served as Django serves it ---------------------------------

# Bounds on what a run waits for: a reload on the standbys, a replay, a long read to start.
STANDBY_TIMEOUT = 10.0
POLL = 0.02


def served(
    url: str, urlconf: str, *, method: str = "GET", cookies: dict[str, str] | None = None
) -> HttpResponseBase:
    """GET `url` (or another `method`) as Django serves a request: the project's whole
    MIDDLEWARE around the view, so that RoutingMiddleware's process_exception sees the
    view's error, and the browser's `cookies` (a session) reach sessions and auth;
    resolved by the URLconf module `urlconf`, which no URL of the site reaches."""
    handler = BaseHandler()
    handler.load_middleware()
    # CommonMiddleware checks every request's host against ALLOWED_HOSTS.
    allowed = next(iter(settings.ALLOWED_HOSTS), "localhost")
    host = "localhost" if allowed == "*" else allowed.lstrip(".")
    request = RequestFactory().generic(method, url, HTTP_HOST=host)
    request.COOKIES = dict(cookies or {})
    request.urlconf = urlconf
    outer = get_urlconf()
    try:
        return handler.get_response(request)
    finally:
        set_urlconf(outer)  # resolving the request set this thread's URLconf to `urlconf`


# --- Lesson 13: settings on the standbys, a table of a run's own, the primary's cleanup


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


def wait_for(condition: Callable[[], Any], what: str, timeout: float = STANDBY_TIMEOUT) -> None:
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
def lab_table(replicas: list[str], rows: int) -> Iterator[str]:
    """A table of the run's own on the primary, `rows` rows, replayed by these replicas;
    dropped afterwards. No autovacuum: the run's own VACUUM is the cleanup."""
    table = f"lab_conflict_{uuid.uuid4().hex[:10]}"
    name = connections[conf.primary()].ops.quote_name(table)
    try:
        with connections[conf.primary()].cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE {name} (id int PRIMARY KEY, v int NOT NULL)"
                " WITH (autovacuum_enabled = off)"
            )
            cursor.execute(f"INSERT INTO {name} SELECT i, 0 FROM generate_series(1, %s) i", [rows])
        position = primary_lsn()
        for alias in replicas:
            if position is None or not replayed(alias, position, STANDBY_TIMEOUT):
                raise ControlError(
                    f"{alias} did not replay the run's table within {STANDBY_TIMEOUT:.0f} s"
                )
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
        deadline = time.monotonic() + STANDBY_TIMEOUT
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
            worker.join(STANDBY_TIMEOUT)


def dead_rows_kept(cleanup: Cleanup) -> int | None:
    """How many dead row versions the primary's VACUUM could not remove yet."""
    found = re.search(r"(\d+) are dead but not yet removable", cleanup.tuples)
    return int(found.group(1)) if found else None


# --- Lesson 16: requests under ATOMIC_REQUESTS, in a process of its own -------------

ATOMIC_REQUESTS_SETTINGS = "lab.atomic_requests_settings"
ATOMIC_REQUESTS_TIMEOUT = 60.0


def run_under_atomic_requests(command: str) -> Any:
    """What `manage.py <command>` printed (JSON), run in a process of its own whose
    settings turn ATOMIC_REQUESTS on for the primary.

    Django's handler reads ATOMIC_REQUESTS from the settings of the whole process, and
    the lab's process serves other visitors meanwhile: it must not change DATABASES
    under them.
    """
    return manage_py_json(
        command, f"--settings={ATOMIC_REQUESTS_SETTINGS}", timeout=ATOMIC_REQUESTS_TIMEOUT
    )


def manage_py_json(*args: str, timeout: float, env: dict[str, str] | None = None) -> Any:
    """What `manage.py *args` printed (JSON), run in a process of its own (with `env`
    on top of this one's environment); ControlError if it fails or takes longer than
    `timeout` seconds."""
    printed = run_program(
        [sys.executable, "manage.py", *args],
        name="the run's process",
        error=ControlError,
        timeout=timeout,
        cwd=settings.BASE_DIR,
        env=env,
    )
    return json.loads(printed)
