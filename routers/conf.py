"""The package's settings, read lazily so `override_settings` works in tests.

Every setting has a default, so a project needs none of them to start:

    ROUTERS_PRIMARY = "default"        # the alias that takes writes
    ROUTERS_REPLICAS = [...]           # default: every other alias in DATABASES
    ROUTERS_STRATEGY = "causal"        # used by SelectableRouter: primary|naive|sticky|causal
    ROUTERS_STICKY_SECONDS = 5         # sticky: how long a client stays on the primary
    ROUTERS_CAUSAL_WAIT_MS = 50        # causal: how long to wait for a replica just behind
    ROUTERS_MAX_LAG_BYTES = 64 MiB     # a replica further behind than this is skipped
    ROUTERS_MAX_LAG_SECONDS = 10.0     # ... or whose oldest unapplied commit is older
    ROUTERS_HEALTH_TTL = 1.0           # seconds a health/lag probe result is reused
    ROUTERS_POOLED_REPLICAS = []       # replica aliases behind a transaction-mode pooler
"""

from django.conf import settings

STRATEGIES = ("primary", "naive", "sticky", "causal")

PIN_COOKIE = "routers_pin"
LSN_COOKIE = "routers_lsn"
# How long a write's LSN is honoured, by the browser and the server (the signature is
# time-stamped). Nothing deletes it sooner (a response cannot know whether a newer write
# has replaced it since). Once a probe has seen a server past it, a connection known to
# reach that server checks it for free. A replica an hour behind is long out of
# rotation (ROUTERS_MAX_LAG_SECONDS).
LSN_COOKIE_SECONDS = 3600


def primary() -> str:
    alias: str = getattr(settings, "ROUTERS_PRIMARY", "default")
    return alias


def replicas() -> list[str]:
    configured: list[str] | None = getattr(settings, "ROUTERS_REPLICAS", None)
    if configured is not None:
        return list(configured)
    return [alias for alias in settings.DATABASES if alias != primary()]


def strategy() -> str:
    name: str = getattr(settings, "ROUTERS_STRATEGY", "causal")
    return name


def sticky_seconds() -> int:
    seconds: int = getattr(settings, "ROUTERS_STICKY_SECONDS", 5)
    return seconds


def causal_wait_seconds() -> float:
    milliseconds: int = getattr(settings, "ROUTERS_CAUSAL_WAIT_MS", 50)
    return milliseconds / 1000


def max_lag_bytes() -> int:
    limit: int = getattr(settings, "ROUTERS_MAX_LAG_BYTES", 64 * 1024 * 1024)
    return limit


def max_lag_seconds() -> float:
    seconds: float = getattr(settings, "ROUTERS_MAX_LAG_SECONDS", 10.0)
    return seconds


def health_ttl() -> float:
    seconds: float = getattr(settings, "ROUTERS_HEALTH_TTL", 1.0)
    return seconds


def pooled_replicas() -> list[str]:
    """Replica aliases reached through a pooler in transaction mode (PgBouncer): each
    transaction may run on another server, so a request's reads are kept in one."""
    aliases: list[str] = getattr(settings, "ROUTERS_POOLED_REPLICAS", [])
    return list(aliases)
