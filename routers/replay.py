"""Has a replica replayed a client's write? Asked on the connection that will serve the
reads, waiting a bounded time for it."""

import random
import time

from . import conf
from .connection import outside_transaction
from .probes import connects, probe
from .rotation import usable_replicas
from .servers import replayed_positions


def replayed(alias: str, lsn: int, wait_seconds: float) -> bool:
    """Has replica `alias` replayed up to `lsn`? Waits up to `wait_seconds` for it.

    A position already seen past `lsn` on the server this connection reached answers
    at once: positions only move forward, so a client whose write every replica has
    long replayed costs no query. Another server behind the same alias has to show its
    own (see `ReplayedPositions`). Otherwise the replica is asked on the connection that
    will serve the reads, and outside any transaction open on it (see
    `outside_transaction`).
    """
    known = replayed_positions.replayed_here(alias)
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
