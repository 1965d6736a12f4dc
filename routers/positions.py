"""The primary's WAL position: what a write's cookie records, and the check that a
position a client brings belongs to this cluster at all."""

import time

from django.db import connections

from . import conf
from .connection import fetch_row
from .lsn import parse_lsn
from .probes import NodeHealth, health, health_cache


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
    return health_cache.remember(NodeHealth(primary, True, parse_lsn(row[0]), time.monotonic())).lsn


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
