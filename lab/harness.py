"""The lab's harness: what the lessons' runs need around their scenarios.

- `under_strategy`: route a block of the request being served with one strategy.
- Lessons 8 and 9: a replica whose replay is paused for the run, so that it is behind.
- Lesson 7's relay, run as a process of its own and killed half-way at a known point.
- Lesson 10's pooler: Django connections through PgBouncer, opened for one run, and a
  second client that takes a given server connection from the pool.
"""

import copy
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import load_backend

from analytics.models import Event
from forum.models import OutboxEvent
from routers import current_state, describe_nodes

from .cluster import set_replay_paused

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
