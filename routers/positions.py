"""The primary's WAL position: what a write's cookie records, and the checks that a
position a client brings belongs to this cluster at all."""

import time
from dataclasses import dataclass

from django.db import connections

from . import conf
from .connection import fetch_row
from .context import ClusterState
from .lsn import parse_lsn
from .probes import NodeHealth, health, health_cache, probe

# Past the write's commit, and reached by the standbys soon: they are sent flushed WAL
# only. Not the insert position: it may be past another session's WAL that nothing
# flushes for seconds (a transaction left open), or, after a record that ends a page,
# past the next page's header, where no record ends. Nor the flush position alone: an
# asynchronous commit (synchronous_commit = off, maybe by a SET LOCAL, gone once it
# committed: the session cannot tell) is visible before it is flushed. So the flush
# position once all inserted WAL is flushed; else the end of a message written now (64
# bytes, non-transactional), after the commit: WAL of a transaction without an XID, which
# the walwriter flushes once that transaction commits, as it does an asynchronous commit,
# within three wal_writer_delay. PostgreSQL checks the right to call every function of a
# statement before running it, the message's too: the app's role needs it. And the
# timeline the primary writes on: the first 8 hex digits of the WAL file name
# (PostgreSQL 15 names it by the insertion timeline, the new one as soon as a promotion
# ends; pg_control_checkpoint() would name the last checkpoint's, stale after one).
# On a standby pg_walfile_name() raises: no position from a demoted primary.
_PRIMARY_POSITION_SQL = """
SELECT CASE WHEN flushed >= inserted THEN flushed
            ELSE pg_logical_emit_message(false, 'routers', '') END::text,
       (SELECT system_identifier FROM pg_control_system()),
       ('x' || substr(pg_walfile_name(flushed), 1, 8))::bit(32)::int
FROM (SELECT pg_current_wal_flush_lsn() AS flushed, pg_current_wal_insert_lsn() AS inserted) AS wal
"""


@dataclass(frozen=True)
class Position:
    """A WAL position, the PostgreSQL cluster whose WAL it is in, and its timeline."""

    lsn: int
    #: pg_control_system()'s system_identifier: set by initdb, the same on every standby.
    system_identifier: int
    #: The timeline the primary wrote it on (each promotion starts a new one); None in a
    #: position made before positions named it.
    timeline: int | None = None


def primary_position(primary: str | None = None) -> Position | None:
    """The WAL position of `primary` (default: ROUTERS_PRIMARY) now, past every committed
    transaction and one its standbys reach without waiting for more WAL, with its
    cluster's identifier; None if down."""
    primary = primary or conf.primary()
    had_connection = connections[primary].connection is not None
    row = fetch_row(primary, _PRIMARY_POSITION_SQL)
    if row is None and had_connection:
        # The request's connection may have been dropped since its write (an idle
        # timeout, a pooler, a restart): fetch_row discarded it, try a new one.
        row = fetch_row(primary, _PRIMARY_POSITION_SQL)
    if row is None:
        return None
    position = Position(parse_lsn(row[0]), int(row[1]), int(row[2]))
    # The primary answered: a "down" cached before it came back must not send the
    # client's next read, which needs this write, to a replica.
    health_cache.remember(
        NodeHealth(
            primary,
            True,
            position.lsn,
            time.monotonic(),
            system_identifier=position.system_identifier,
            timeline=position.timeline,
        )
    )
    return position


def primary_lsn(primary: str | None = None) -> int | None:
    """The WAL position of `primary` (default: ROUTERS_PRIMARY) now, past every committed
    transaction; None if down."""
    position = primary_position(primary)
    return position.lsn if position is not None else None


def from_another_cluster(primary: str, cluster: ClusterState) -> bool:
    """Is the client's position for `primary` (`cluster.min_lsn`) one of another
    PostgreSQL cluster, so no position of this one at all?

    A genuine cookie from a cluster since replaced or restored would otherwise send
    its client's reads to the primary, or with the primary down to the "saved, on its
    way" page, until it expires. A position that names its cluster is compared with
    this one's identifier (`of_another_cluster`); every position, also one from a
    cookie made before positions named their cluster, with the primary's place in
    the WAL (`ahead_of_primary`).
    """
    if cluster.min_lsn is None:
        return False
    if cluster.system_identifier is not None and of_another_cluster(
        primary, cluster.system_identifier
    ):
        return True
    return ahead_of_primary(primary, cluster.min_lsn)


def of_another_cluster(primary: str, system_identifier: int) -> bool:
    """Is `system_identifier` another cluster's than `primary`'s?

    Asked of the primary, or while it is down of the first replica that answers (a
    standby reports its primary's identifier), so no query in the usual case. A
    cached answer that agrees is taken: if wrong, it keeps a position that means
    nothing here, for a health TTL at most, at what such a position cost before
    positions named their cluster (reads from the primary; with it down, the "saved,
    on its way" page). One that disagrees is asked again: a cluster replaced behind
    the alias since it was cached must not void a genuine position, which would cost
    the client its own write.
    """
    for alias in [primary, *conf.replicas(primary)]:
        known = health(alias)
        if known.up and known.system_identifier not in (None, system_identifier):
            known = probe(alias)
        if known.up:
            return known.system_identifier not in (None, system_identifier)
    return False


def ahead_of_primary(primary: str, lsn: int) -> bool:
    """Is `lsn` past `primary`'s position now, so no position of this primary at all?

    The cached position answers when it is past `lsn`, as it is for every write not
    just made; else the primary is asked (and the answer cached). A primary that is
    down has no say: False. Positions from a cluster restored from a physical backup
    (which keeps its identifier) are told apart only this way.
    """
    known = health(primary)
    if not known.up or (known.lsn is not None and known.lsn >= lsn):
        return False
    position = primary_lsn(primary)
    return position is not None and lsn > position
