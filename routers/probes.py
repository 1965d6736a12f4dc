"""Is a node up, and at which WAL position? Probes, and a short process-wide cache of
their results.

A probe never raises: a node that cannot be reached is reported down, and the
routers fall back to another one. Results are reused for ROUTERS_HEALTH_TTL
seconds, so a dead replica costs one failed connection per interval, not one per
request.
"""

import threading
import time
from dataclasses import dataclass

from django.db import DatabaseError, connections

from . import conf
from .caches import registered
from .connection import close_connection, fetch_row, hold_server, outside_transaction
from .context import probing
from .lsn import parse_lsn
from .metrics import observe_probe
from .servers import replayed_positions

# On a standby: the position replayed (applied), never the one merely received,
# since only replayed rows are visible to queries. On the primary: the WAL written
# out so far, which a replica's lag in bytes is counted against (not a write's
# position: an asynchronous commit may be past it for a moment, see positions.py).
# With the standby's apply delay, in seconds: it holds each commit back that long.
# And when the server started: with its address, who it is (see `ReplayedPositions`).
# And which cluster it belongs to: initdb's identifier, which a standby shares with its
# primary (read from pg_control, about 20 us, executable by every role).
# And the timeline: a primary's, the one it writes on (the WAL file name's first 8 hex
# digits, see positions.py); a standby's, the one its WAL receiver receives, with the
# receiver's status: "none" without a receiver, NULL where the role may not see it
# (pg_stat_wal_receiver shows a role without pg_read_all_stats only the pid).
_POSITION_SQL = (
    "SELECT CASE WHEN pg_is_in_recovery()"
    " THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END,"
    " extract(epoch FROM current_setting('recovery_min_apply_delay')::interval)::float,"
    " pg_postmaster_start_time()::text,"
    " (SELECT system_identifier FROM pg_control_system()),"
    " CASE WHEN pg_is_in_recovery() THEN receiver.received_tli"
    " ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END,"
    " CASE WHEN NOT pg_is_in_recovery() THEN NULL"
    " WHEN receiver.pid IS NULL THEN 'none' ELSE receiver.status END"
    # The view has a row only while a receiver runs: read once, joined to one row.
    " FROM (SELECT) AS node LEFT JOIN pg_stat_wal_receiver AS receiver ON true"
)
# What a standby's WAL receiver does when it streams (pg_stat_wal_receiver.status).
STREAMING = "streaming"


@dataclass(frozen=True)
class NodeHealth:
    """One probe of one alias: reachable or not, and its WAL position then."""

    alias: str
    up: bool
    lsn: int | None
    checked_at: float
    #: recovery_min_apply_delay, in seconds (a standby holds every commit back that long).
    apply_delay: float = 0.0
    #: The PostgreSQL cluster the node belongs to (pg_control_system()'s
    #: system_identifier, a standby's is its primary's); None when down.
    system_identifier: int | None = None
    #: A primary's timeline, the one it writes WAL on; a standby's, the one its WAL
    #: receiver last received (None without one, or hidden from the role).
    timeline: int | None = None
    #: A standby's WAL receiver status ("streaming", "waiting", ..., "none" without a
    #: receiver); None on a primary, or where the role may not see it.
    receiver: str | None = None


class HealthCache:
    """The latest probe of each alias, shared by every thread of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, NodeHealth] = {}

    def remember(self, health: NodeHealth) -> NodeHealth:
        """Keep `health` unless a later probe of its alias is already known; returns it."""
        with self._lock:
            known = self._latest.get(health.alias)
            if known is None or known.checked_at <= health.checked_at:
                self._latest[health.alias] = health
        return health

    def latest(self, alias: str) -> NodeHealth | None:
        with self._lock:
            return self._latest.get(alias)

    def clear(self) -> None:
        with self._lock:
            self._latest.clear()


health_cache = registered(HealthCache())


def probe(alias: str) -> NodeHealth:
    """Probe `alias` now, on this thread's connection to it, and cache the result."""
    # The replay position is not part of any snapshot: a probe inside a transaction
    # already begun is still right, and one not yet begun must not begin it.
    started = time.monotonic()
    with outside_transaction(alias):
        row = fetch_row(alias, _POSITION_SQL)
    observe_probe(alias, time.monotonic() - started, up=row is not None)
    if row is None:
        return health_cache.remember(NodeHealth(alias, False, None, time.monotonic()))
    position = parse_lsn(row[0]) if row[0] else 0
    if alias not in conf.pooled_replicas():  # behind a pooler the server is unknown
        replayed_positions.record(alias, row[2], position)
    return health_cache.remember(
        NodeHealth(
            alias,
            True,
            position,
            time.monotonic(),
            float(row[1]),
            int(row[3]),
            timeline=row[4],
            receiver=row[5],
        )
    )


def health(alias: str) -> NodeHealth:
    """The cached health of `alias`, probed again once it is older than the TTL."""
    known = health_cache.latest(alias)
    if known is not None and time.monotonic() - known.checked_at < conf.health_ttl():
        return known
    return probe(alias)


def mark_down(alias: str) -> None:
    """Record that `alias` just failed, so nothing picks it until the TTL runs out."""
    health_cache.remember(NodeHealth(alias, False, None, time.monotonic()))


def discard(alias: str) -> None:
    """`alias` failed a query: close this thread's connection to it and set it aside."""
    close_connection(alias)
    mark_down(alias)


def connects(alias: str) -> bool:
    """Health-check (or open) this thread's connection to `alias`; False if it fails.

    A persistent connection to a node that died since is only found out by its
    health check (CONN_HEALTH_CHECKS), which Django would run on the first query of
    the request anyway: running it here lets the router pick another node instead.
    """
    connection = connections[alias]
    try:
        # At most one health check per request: inside an atomic block it has run
        # already (set_autocommit() runs it, in autocommit, before the block's BEGIN),
        # so it cannot begin the block's transaction or fix its snapshot.
        with probing():
            connection.close_if_health_check_failed()
            connection.ensure_connection()
    except DatabaseError:
        discard(alias)
        return False
    hold_server(alias)
    return True
