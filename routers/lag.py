"""How far behind a replica is: in bytes of WAL, and in seconds, read from the
primary's WAL with pg_walinspect (or the replica's own estimate where it cannot be).

Bytes measure how much WAL the primary has written since the replica's position, not
how old the oldest commit it lacks is: a paused replica's byte lag grows with every
write on the primary, and stays small behind a quiet one however long it waits.
Seconds are what a reader of a page means by "behind".
"""

import threading
import time

from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction

from . import conf
from .atomic_requests import in_clean_request_block
from .caches import registered
from .connection import close_connection, fetch_row, outside_transaction, transaction_begun
from .context import current_state, probing
from .lsn import format_lsn
from .probes import health, health_cache

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
_INSUFFICIENT_PRIVILEGE = "42501"
# A commit record's description holds its time: "2026-11-27 05:29:21.167582+00; ...".
_COMMIT_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?[+-]\d\d(?::\d\d)?"
_WALINSPECT_SQL = """
SELECT CASE WHEN to_regprocedure('pg_get_wal_records_info(pg_lsn,pg_lsn)') IS NULL THEN false
            ELSE has_function_privilege('pg_get_wal_records_info(pg_lsn,pg_lsn)', 'EXECUTE')
       END
"""
# The replica's own estimate of its lag, for a primary that cannot read its WAL, asked
# only of a replica behind the primary: the time since it last applied a commit, an
# upper bound (everything committed since may be missing), which overstates after a
# quiet spell. NULL when it has applied none since it started.
REPLICA_ESTIMATE_SQL = (
    "extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float"
)


class LagCache:
    """What lag measurements the process has learnt: which primaries can read their WAL
    (asked once), and each replica's seconds behind (reused for ROUTERS_HEALTH_TTL)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._walinspect: dict[str, bool] = {}
        self._ages: dict[str, tuple[float, float | None]] = {}

    def can_read_wal(self, primary: str) -> bool | None:
        with self._lock:
            return self._walinspect.get(primary)

    def set_can_read_wal(self, primary: str, allowed: bool) -> None:
        with self._lock:
            self._walinspect[primary] = allowed

    def recent_age(self, replica: str) -> tuple[bool, float | None]:
        """(True, seconds) when `replica` was measured within the TTL, else (False, None)."""
        with self._lock:
            known = self._ages.get(replica)
        if known is not None and time.monotonic() - known[0] < conf.health_ttl():
            return True, known[1]
        return False, None

    def set_age(self, replica: str, seconds: float | None) -> None:
        with self._lock:
            self._ages[replica] = (time.monotonic(), seconds)

    def clear(self) -> None:
        with self._lock:
            self._walinspect.clear()
            self._ages.clear()


lag_cache = registered(LagCache())


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


def pending_commit_age(primary: str, replica_lsn: int) -> float | None:
    """Seconds since `primary` committed the oldest transaction not applied at `replica_lsn`.

    How far behind a replica is in time, as a person means it: 0 when nothing committed
    is waiting, and after a quiet spell only the age of what is waiting, not the time
    since the replica last applied something. None when it cannot be known: the primary
    is down, lacks pg_walinspect or the grant to use it, or the request has a block of
    its own open on it (a failed query would doom its transaction; its reads go to the
    primary anyway).

    Inside ATOMIC_REQUESTS's block, whose reads may go to a replica, it is asked without
    dooming the transaction either: in autocommit while the transaction has not begun,
    in a savepoint of its own once it has.
    """
    if connections[primary].in_atomic_block and not in_clean_request_block(
        primary, current_state()
    ):
        return None
    if not transaction_begun(primary):
        with outside_transaction(primary):
            return _pending_commit_age(primary, replica_lsn)
    try:
        with transaction.atomic(using=primary):
            return _pending_commit_age(primary, replica_lsn)
    except DatabaseError:  # rolled back to the savepoint: the transaction goes on
        return None


def _pending_commit_age(primary: str, replica_lsn: int) -> float | None:
    allowed = lag_cache.can_read_wal(primary)
    if allowed is None:
        row = fetch_row(primary, _WALINSPECT_SQL)
        if row is None:
            return None
        allowed = bool(row[0])
        lag_cache.set_can_read_wal(primary, allowed)
    if not allowed:
        return None
    params = {"lsn": format_lsn(replica_lsn), "stamp": _COMMIT_TIME}
    try:
        with probing(), connections[primary].cursor() as cursor:
            cursor.execute(_PENDING_COMMIT_SQL, params)
            seconds = cursor.fetchone()[0]
    except (OperationalError, InterfaceError):
        # The connection broke, or the WAL is gone (a replica paused for long): ask
        # again after the TTL.
        close_connection(primary)
        return None
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) == _INSUFFICIENT_PRIVILEGE:
            # The grant was revoked: stop asking (until a restart); the replica's own
            # estimate will do.
            lag_cache.set_can_read_wal(primary, False)
        # Anything else is this position's: no whole record after it yet ("could not
        # find a valid record after", XX000), say. Ask again after the TTL.
        return None
    return None if seconds is None else round(float(seconds), 3)


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
    primary_alias = _primary_of(alias)
    replica, primary = health_cache.latest(alias), health_cache.latest(primary_alias)
    if replica is None or primary is None or not replica.up or not primary.up:
        return None
    if replica.lsn is not None and primary.lsn is not None and replica.lsn >= primary.lsn:
        return 0.0
    fresh, seconds = lag_cache.recent_age(alias)
    if fresh:
        return seconds
    seconds = seconds_behind(primary_alias, replica.lsn, primary.lsn)
    if seconds is None:
        with outside_transaction(alias) as can_ask:
            row = fetch_row(alias, f"SELECT {REPLICA_ESTIMATE_SQL}") if can_ask else None
        seconds = None if row is None or row[0] is None else round(float(row[0]), 3)
    lag_cache.set_age(alias, seconds)
    return seconds
