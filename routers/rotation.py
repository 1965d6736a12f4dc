"""Which replicas are in rotation: up, on the primary's timeline, and within both lag
bounds."""

from . import conf
from .lag import lag_bytes, lag_seconds
from .probes import STREAMING, NodeHealth, health


def on_primary_timeline(replica: NodeHealth, primary: NodeHealth) -> bool:
    """Does `replica` receive the WAL of `primary`'s current timeline?

    After a failover, a standby still on the old timeline (streaming from the deposed
    primary, or stuck: it replayed WAL past the switch point) and a demoted primary not
    yet rewound (hot-standby reads of the rows the failover lost) answer as any
    standby, their replay positions comparable by number alone: only the timeline their
    WAL receiver streams tells them apart. Unknown is taken as yes: the primary down
    (no timeline to compare with) or the receiver hidden from the role (no
    pg_read_all_stats, `routers.W017`), as before timelines were looked at.
    """
    if not primary.up or primary.timeline is None or replica.receiver is None:
        return True
    return replica.receiver == STREAMING and replica.timeline == primary.timeline


def usable_replicas(primary: str | None = None, max_lag_seconds: float | None = None) -> list[str]:
    """Replicas of `primary` (default: ROUTERS_PRIMARY) that answer, receive its current
    timeline (`on_primary_timeline`) and are within both bounds: ROUTERS_MAX_LAG_BYTES of
    WAL and `max_lag_seconds` (default: ROUTERS_MAX_LAG_SECONDS) of time (see
    `lag_seconds`).

    A byte bound alone does not bound staleness: bytes measure how much WAL the
    primary wrote since, not how old the oldest missing commit is, so a replica paused
    behind a quiet primary stays within any byte bound for as long as it likes. When
    the primary is down the lag is unknown; the replicas are still used, since stale
    reads beat no reads.
    """
    primary = primary or conf.primary()
    usable = []
    for alias in conf.replicas(primary):
        known = health(alias)
        if not known.up or not on_primary_timeline(known, health(primary)):
            continue
        lag = lag_bytes(alias)
        if lag is not None and lag > conf.max_lag_bytes():
            continue
        seconds = lag_seconds(alias) if lag else None
        limit = conf.max_lag_seconds() if max_lag_seconds is None else max_lag_seconds
        if seconds is not None and seconds > limit:
            continue
        usable.append(alias)
    return usable
