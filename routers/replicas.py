"""Health, lag and WAL-position probes, with a short process-wide cache.

A probe never raises: a node that cannot be reached is reported down, and the
routers fall back to another one. Results are reused for ROUTERS_HEALTH_TTL
seconds, so a dead replica costs one failed connection per interval, not one per
request. LSNs (WAL positions, "16/B374D848") are handled as integers.
"""

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from django.db import DatabaseError, InterfaceError, OperationalError, connections
from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus

from . import conf
from .context import current_state, probing

# On a standby: the position replayed (applied), never the one merely received,
# since only replayed rows are visible to queries. On the primary: the position
# written, which is past the end of every committed transaction.
# With the standby's apply delay, in seconds: it holds each commit back that long.
# And when the server started: with its address, who it is (see `server_of`).
_POSITION_SQL = (
    "SELECT CASE WHEN pg_is_in_recovery()"
    " THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END,"
    " extract(epoch FROM current_setting('recovery_min_apply_delay')::interval)::float,"
    " pg_postmaster_start_time()::text"
)


def parse_lsn(text: str) -> int:
    """Turn PostgreSQL's "X/Y" LSN text into a comparable integer."""
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def format_lsn(value: int) -> str:
    """Turn an integer LSN back into PostgreSQL's "X/Y" text."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


@dataclass(frozen=True)
class NodeHealth:
    """One probe of one alias: reachable or not, and its WAL position then."""

    alias: str
    up: bool
    lsn: int | None
    checked_at: float
    #: recovery_min_apply_delay, in seconds (a standby holds every commit back that long).
    apply_delay: float = 0.0


_cache: dict[str, NodeHealth] = {}
# Per server (see `server_of`): the furthest replay position a probe has seen there.
_replayed: dict[str, int] = {}
# Per psycopg connection: the server it reached, once a probe has asked.
_servers: WeakKeyDictionary[Any, str] = WeakKeyDictionary()
_lock = threading.Lock()
# Per primary alias: can this role read the WAL with pg_walinspect? Asked once.
_walinspect: dict[str, bool] = {}
# Per replica alias: (when measured, seconds behind), reused for ROUTERS_HEALTH_TTL.
_ages: dict[str, tuple[float, float | None]] = {}


def _remember(health: NodeHealth) -> NodeHealth:
    with _lock:
        known = _cache.get(health.alias)
        if known is None or known.checked_at <= health.checked_at:
            _cache[health.alias] = health
    return health


def server_of(alias: str) -> str | None:
    """The server this thread's connection to `alias` reached, as a probe on it found
    it: the alias, the address and port, and when the server started. None until a
    probe has run on this connection.

    More than one server may answer to one alias (a host name with several addresses,
    a list of hosts, a TCP balancer), and a new connection may reach another one, so a
    replay position is only known for the server it was read on. The start time tells
    a server that took over another's address (a container restarted) from the one
    that had it.
    """
    raw = connections[alias].connection
    if raw is None or raw.closed:
        return None
    return _servers.get(raw)


def fetch_row(alias: str, sql: str, params: Any = None) -> tuple[Any, ...] | None:
    """One row of `sql` on this thread's connection to `alias`; None if it is unreachable.

    Marked as probing, so it does not count as one of the page's queries.
    """
    try:
        with probing(), connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            row: tuple[Any, ...] = cursor.fetchone()
            return row
    except DatabaseError:
        close_connection(alias)
        return None


def probe(alias: str) -> NodeHealth:
    """Probe `alias` now, on this thread's connection to it, and cache the result."""
    # The replay position is not part of any snapshot: a probe inside a transaction
    # already begun is still right, and one not yet begun must not begin it.
    with outside_transaction(alias):
        row = fetch_row(alias, _POSITION_SQL)
    if row is None:
        return _remember(NodeHealth(alias, False, None, time.monotonic()))
    position = parse_lsn(row[0]) if row[0] else 0
    raw = connections[alias].connection
    if raw is not None and alias not in conf.pooled_replicas():  # behind a pooler: unknown
        server = f"{alias}@{raw.info.hostaddr or raw.info.host}:{raw.info.port}#{row[2]}"
        with _lock:
            _servers[raw] = server
            _replayed[server] = max(position, _replayed.get(server, 0))
    return _remember(NodeHealth(alias, True, position, time.monotonic(), float(row[1])))


def close_connection(alias: str) -> None:
    """Close this thread's connection to `alias`: the next use reconnects instead of
    reusing a broken socket."""
    with suppress(DatabaseError):
        connections[alias].close()


def health(alias: str) -> NodeHealth:
    """The cached health of `alias`, probed again once it is older than the TTL."""
    with _lock:
        known = _cache.get(alias)
    if known is not None and time.monotonic() - known.checked_at < conf.health_ttl():
        return known
    return probe(alias)


def mark_down(alias: str) -> None:
    """Record that `alias` just failed, so nothing picks it until the TTL runs out."""
    _remember(NodeHealth(alias, False, None, time.monotonic()))


def discard(alias: str) -> None:
    """`alias` failed a query: close this thread's connection to it and set it aside."""
    close_connection(alias)
    mark_down(alias)


def forget() -> None:
    """Drop every cached probe (tests use it after stopping or starting a node)."""
    with _lock:
        _cache.clear()
        _replayed.clear()
        _servers.clear()
        _walinspect.clear()
        _ages.clear()


def lag_between(primary_lsn: int | None, replica_lsn: int | None) -> int | None:
    """Bytes of WAL a replica at `replica_lsn` has yet to replay; None when unknown."""
    if primary_lsn is None or replica_lsn is None:
        return None
    return max(0, primary_lsn - replica_lsn)


def _primary_of(replica: str) -> str:
    return conf.primary_of(replica) or conf.primary()


def lag_bytes(alias: str) -> int | None:
    """Bytes of WAL the replica has not replayed yet, or None when unknown."""
    return lag_between(health(_primary_of(alias)).lsn, health(alias).lsn)


def usable_replicas(primary: str | None = None) -> list[str]:
    """Replicas of `primary` (default: ROUTERS_PRIMARY) that answer and are within both
    bounds: ROUTERS_MAX_LAG_BYTES of WAL
    and ROUTERS_MAX_LAG_SECONDS of time (see `lag_seconds`).

    A byte bound alone does not bound staleness: a replica paused, or holding back one
    big transaction, can be a few hundred bytes behind for as long as it likes. When
    the primary is down the lag is unknown; the replicas are still used, since stale
    reads beat no reads.
    """
    usable = []
    for alias in conf.replicas(primary):
        if not health(alias).up:
            continue
        lag = lag_bytes(alias)
        if lag is not None and lag > conf.max_lag_bytes():
            continue
        seconds = lag_seconds(alias) if lag else None
        if seconds is not None and seconds > conf.max_lag_seconds():
            continue
        usable.append(alias)
    return usable


def replica_with(primary: str, lsn: int, wait_seconds: float) -> str | None:
    """A usable replica of `primary` that has replayed `lsn` (the first one tried may take
    up to `wait_seconds`); None if none has. The first one tried varies, to spread the
    load."""
    candidates = usable_replicas(primary)
    start = random.randrange(len(candidates)) if candidates else 0
    for alias in candidates[start:] + candidates[:start]:
        if connects(alias) and replayed(alias, lsn, wait_seconds):
            return alias
        wait_seconds = 0
    return None


def connects(alias: str) -> bool:
    """Health-check (or open) this thread's connection to `alias`; False if it fails.

    A persistent connection to a node that died since is only found out by its
    health check (CONN_HEALTH_CHECKS), which Django would run on the first query of
    the request anyway: running it here lets the router pick another node instead.
    """
    connection = connections[alias]
    try:
        # Django's health check runs "SELECT 1", which would begin the atomic
        # block's transaction (and take its snapshot) on a replica alias.
        with probing(), outside_transaction(alias):
            connection.close_if_health_check_failed()
            connection.ensure_connection()
    except DatabaseError:
        close_connection(alias)
        mark_down(alias)
        return False
    hold_server(alias)
    return True


def hold_server(alias: str) -> None:
    """Behind a pooler in transaction mode, keep the request on one server.

    Such a pooler gives each transaction whichever server connection is free, so a
    replay check, and each read after it, could each run on another standby. In a
    request scope, the connection to a pooled alias leaves autocommit: its checks and
    reads share one transaction, so one server, until the scope closes
    (`context.release_held`). Only reads go to a replica, and PostgreSQL's default
    READ COMMITTED gives each statement a fresh snapshot, so nothing is lost by it.
    """
    state = current_state()
    connection = connections[alias]
    if state is None or alias not in conf.pooled_replicas() or connection.in_atomic_block:
        return
    if connection.get_autocommit():
        connection.set_autocommit(False)
        state.held.add(alias)


def replayed(alias: str, lsn: int, wait_seconds: float) -> bool:
    """Has replica `alias` replayed up to `lsn`? Waits up to `wait_seconds` for it.

    A position already seen past `lsn` on the server this connection reached answers
    at once: positions only move forward, so a client whose write every replica has
    long replayed costs no query. Another server behind the same alias has to show its
    own (see `server_of`). Otherwise the replica is asked on the connection that will
    serve the reads, and outside any transaction open on it (see `outside_transaction`).
    """
    server = server_of(alias)
    with _lock:
        known = _replayed.get(server) if server is not None else None
    if known is not None and known >= lsn and alias not in conf.pooled_replicas():
        return True
    with outside_transaction(alias) as can_check:
        if not can_check:
            return False
        deadline = time.monotonic() + wait_seconds
        while True:
            health = probe(alias)
            if health.lsn is not None and health.lsn >= lsn:
                return True
            if not health.up or time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


@contextmanager
def outside_transaction(alias: str) -> Iterator[bool]:
    """Run probes of `alias` where they cannot fix the snapshot of the request's reads.

    Yields False when no such place exists. A transaction under REPEATABLE READ (say
    ATOMIC_REQUESTS on a replica alias) takes its snapshot at its first statement: a
    replay check run as that statement could pass while every read after it still
    saw the older snapshot. So, inside an atomic block that has not run anything
    yet, the probes run in autocommit on the same connection and the transaction
    begins afterwards; once it has begun, only READ COMMITTED (a fresh snapshot per
    statement) lets a check inside it hold for the reads that follow. An isolation
    level left unset is taken for the server's default, READ COMMITTED; a server or
    role whose default_transaction_isolation says otherwise should set the level in
    the alias's OPTIONS.
    """
    connection = connections[alias]
    raw = connection.connection
    if not connection.in_atomic_block or raw is None or raw.autocommit:
        yield True
        return
    if raw.info.transaction_status != TransactionStatus.IDLE:
        yield raw.isolation_level in (None, IsolationLevel.READ_COMMITTED)
        return
    raw.autocommit = True
    try:
        yield True
    finally:
        if not raw.closed and raw.info.transaction_status == TransactionStatus.IDLE:
            raw.autocommit = False


def primary_lsn(primary: str | None = None) -> int | None:
    """The WAL position of `primary` (default: ROUTERS_PRIMARY) now, past every committed
    transaction; None if down.

    The insert position, not the write position (pg_current_wal_lsn): with
    synchronous_commit = off a commit is visible before its WAL is written out.
    """
    primary = primary or conf.primary()
    sql = "SELECT pg_current_wal_insert_lsn()::text"
    had_connection = connections[primary].connection is not None
    row = fetch_row(primary, sql)
    if row is None and had_connection:
        # The request's connection may have been dropped since its write (an idle
        # timeout, a pooler, a restart): fetch_row discarded it, try a new one.
        row = fetch_row(primary, sql)
    if row is None:
        return None
    # The primary answered: a "down" cached before it came back must not send the
    # client's next read, which needs this write, to a replica.
    return _remember(NodeHealth(primary, True, parse_lsn(row[0]), time.monotonic())).lsn


def ahead_of_primary(primary: str, lsn: int) -> bool:
    """Is `lsn` past `primary`'s insert position, so no position of this primary at all?

    A genuine cookie from a cluster since restored from a backup or replaced would
    otherwise send its client's reads to the primary until it expires. The cached
    position answers when it is past `lsn`, as it is for every write not just made;
    else the primary is asked (and the answer cached). A primary that is down has no
    say: False.
    """
    known = health(primary)
    if not known.up or (known.lsn is not None and known.lsn >= lsn):
        return False
    position = primary_lsn(primary)
    return position is not None and lsn > position


# The oldest commit a replica at a position has not applied, read from the primary's WAL
# (pg_walinspect) with its timestamp, and aged on the primary's clock. At most 1 MB of
# flushed WAL is read (pg_get_wal_records_info decodes its whole range). No commit in a
# range that reaches the end: nothing the replica lacks is visible yet, 0. No commit in
# a range cut short: unknown, NULL.
_PENDING_COMMIT_SQL = """
WITH bounds AS (
    SELECT %(lsn)s::pg_lsn AS start, pg_current_wal_flush_lsn() AS flushed
)
SELECT CASE
    WHEN start >= flushed THEN 0
    ELSE coalesce(
        (SELECT extract(epoch FROM clock_timestamp()
                        - (regexp_match(description, %(stamp)s))[1]::timestamptz)
         FROM pg_get_wal_records_info(start, least(flushed, start + 1048576))
         WHERE resource_manager = 'Transaction'
           AND record_type IN ('COMMIT', 'COMMIT_PREPARED')
           AND description ~ %(stamp)s
         LIMIT 1),
        CASE WHEN flushed - start <= 1048576 THEN 0 END)
    END
FROM bounds
"""
# A commit record's description holds its time: "2026-11-27 05:29:21.167582+00; ...".
_COMMIT_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?[+-]\d\d(?::\d\d)?"
_WALINSPECT_SQL = """
SELECT CASE WHEN to_regprocedure('pg_get_wal_records_info(pg_lsn,pg_lsn)') IS NULL THEN false
            ELSE has_function_privilege('pg_get_wal_records_info(pg_lsn,pg_lsn)', 'EXECUTE')
       END
"""


def pending_commit_age(primary: str, replica_lsn: int) -> float | None:
    """Seconds since `primary` committed the oldest transaction not applied at `replica_lsn`.

    How far behind a replica is in time, as a person means it: 0 when nothing committed
    is waiting, and after a quiet spell only the age of what is waiting, not the time
    since the replica last applied something. None when it cannot be known: the primary
    is down, lacks pg_walinspect or the grant to use it, or the request has a
    transaction open on it (a failed query would doom that transaction).
    """
    connection = connections[primary]
    if connection.in_atomic_block:
        return None
    if primary not in _walinspect:
        row = fetch_row(primary, _WALINSPECT_SQL)
        if row is None:
            return None
        _walinspect[primary] = bool(row[0])
    if not _walinspect[primary]:
        return None
    params = {"lsn": format_lsn(replica_lsn), "stamp": _COMMIT_TIME}
    try:
        with probing(), connection.cursor() as cursor:
            cursor.execute(_PENDING_COMMIT_SQL, params)
            seconds = cursor.fetchone()[0]
    except (OperationalError, InterfaceError):
        # The connection broke, or the WAL is gone (a replica paused for long): ask
        # again after the TTL.
        close_connection(primary)
        return None
    except DatabaseError:
        # The grant was revoked: stop asking (until a restart); the replica's own
        # estimate will do.
        _walinspect[primary] = False
        return None
    return None if seconds is None else round(float(seconds), 3)


# The replica's own estimate of its lag, for a primary that cannot read its WAL, asked
# only of a replica behind the primary: the time since it last applied a commit, an
# upper bound (everything committed since may be missing), which overstates after a
# quiet spell. NULL when it has applied none since it started.
REPLICA_ESTIMATE_SQL = (
    "extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float"
)


def seconds_behind(primary: str, replay_lsn: int | None, primary_lsn: int | None) -> float | None:
    """Seconds a replica at `replay_lsn` is behind a primary at `primary_lsn`: 0 when it
    has everything, else `pending_commit_age`; None when that cannot be measured."""
    if replay_lsn is None or primary_lsn is None:
        return None
    if replay_lsn >= primary_lsn:
        return 0.0
    return pending_commit_age(primary, replay_lsn)


def lag_seconds(alias: str) -> float | None:
    """Seconds behind, from the cached positions, measured at most once per
    ROUTERS_HEALTH_TTL: `seconds_behind`, or the replica's own estimate when the
    primary cannot say. None when the replica or the primary is down."""
    with _lock:
        primary_alias = _primary_of(alias)
        replica, primary = _cache.get(alias), _cache.get(primary_alias)
        known = _ages.get(alias)
    if replica is None or primary is None or not replica.up or not primary.up:
        return None
    if replica.lsn is not None and primary.lsn is not None and replica.lsn >= primary.lsn:
        return 0.0
    if known is not None and time.monotonic() - known[0] < conf.health_ttl():
        return known[1]
    seconds = seconds_behind(primary_alias, replica.lsn, primary.lsn)
    if seconds is None:
        with outside_transaction(alias) as can_ask:
            row = fetch_row(alias, f"SELECT {REPLICA_ESTIMATE_SQL}") if can_ask else None
        seconds = None if row is None or row[0] is None else round(float(row[0]), 3)
    with _lock:
        _ages[alias] = (time.monotonic(), seconds)
    return seconds
