"""Which replicas are in rotation: up, and within both lag bounds."""

from . import conf
from .lag import lag_bytes, lag_seconds
from .probes import health


def usable_replicas(primary: str | None = None, max_lag_seconds: float | None = None) -> list[str]:
    """Replicas of `primary` (default: ROUTERS_PRIMARY) that answer and are within both
    bounds: ROUTERS_MAX_LAG_BYTES of WAL and `max_lag_seconds` (default:
    ROUTERS_MAX_LAG_SECONDS) of time (see `lag_seconds`).

    A byte bound alone does not bound staleness: bytes measure how much WAL the
    primary wrote since, not how old the oldest missing commit is, so a replica paused
    behind a quiet primary stays within any byte bound for as long as it likes. When
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
        limit = conf.max_lag_seconds() if max_lag_seconds is None else max_lag_seconds
        if seconds is not None and seconds > limit:
            continue
        usable.append(alias)
    return usable
