"""The package's settings, read lazily so `override_settings` works in tests.

Which aliases are primaries and replicas is asked on every read the routers route and
every statement they watch, so it is read once and kept until a setting changes
(`override_settings`, pytest-django's `settings`).

Every setting has a default, so a project needs none of them to start:

    ROUTERS_PRIMARY = "default"        # the alias that takes writes
    ROUTERS_REPLICAS = [...]           # default: every other alias in DATABASES
    ROUTERS_CLUSTERS = {...}           # several primaries: primary alias -> its replicas
    ROUTERS_APP_PRIMARIES = {}         # app label -> primary alias (default ROUTERS_PRIMARY)
    ROUTERS_STRATEGY = "causal"        # used by SelectableRouter: primary|naive|sticky|causal
    ROUTERS_STICKY_SECONDS = 5         # sticky: how long a client stays on the primary
    ROUTERS_CAUSAL_WAIT_MS = 50        # causal: how long to wait for a replica just behind
    ROUTERS_MAX_LAG_BYTES = 64 MiB     # a replica further behind than this is skipped
    ROUTERS_MAX_LAG_SECONDS = 10.0     # ... or whose oldest unapplied commit is older
    ROUTERS_HEALTH_TTL = 1.0           # seconds a health/lag probe result is reused
    ROUTERS_POOLED_REPLICAS = []       # replica aliases behind a transaction-mode pooler
    ROUTERS_COOKIE_PREFIX = ""         # in front of the cookie names: apps sharing a host
    ROUTERS_TASK_MODE = "sticky"       # a task whose enqueuer's write no replica has yet:
                                       # sticky (read the primary) or delayed (retry once)
    ROUTERS_MEMBER_POSITIONS_CACHE = None  # a CACHES alias: each member's writes kept there
"""

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

STRATEGIES = ("primary", "naive", "sticky", "causal")
# What a task (routers.tasks) does when no replica has its enqueuer's write yet.
TASK_MODES = ("sticky", "delayed")
# The keyword arguments routers.tasks adds to the tasks it enqueues (the enqueuer's
# writes, a token of routers.tokens; the mark of a delayed task's one retry), and the
# key of what a delayed task's first run returns: the id of the run that replaces it.
TASK_WRITES_KEYWORD = "routers_writes"
TASK_RETRIED_KEYWORD = "routers_retried"
TASK_RETRIED_AS = "routers_retried_as"

# The default primary's cookie names; another primary's add "_<alias>", and
# ROUTERS_COOKIE_PREFIX goes in front of every name (see cookie_name).
PIN_COOKIE = "routers_pin"
LSN_COOKIE = "routers_lsn"
# How long a write's LSN is honoured, by the browser and the server (the signature is
# time-stamped). Nothing deletes it sooner (a response cannot know whether a newer write
# has replaced it since). Once a probe has seen a server past it, a connection known to
# reach that server checks it for free. A replica an hour behind is long out of
# rotation (ROUTERS_MAX_LAG_SECONDS).
LSN_COOKIE_SECONDS = 3600
# The consistency token's header, one name both ways (routers.headers): a response to
# a request that wrote carries the client's writes in it, and a request that sends
# it back is routed as if it carried the cookies too.
TOKEN_HEADER = "Routers-Consistency"


@dataclass(frozen=True)
class _Layout:
    """The primaries, their replicas and the apps' primaries, as the settings say."""

    primary: str
    clusters: dict[str, tuple[str, ...]]
    app_primaries: dict[str, str]


@cache
def _layout() -> _Layout:
    default: str = getattr(settings, "ROUTERS_PRIMARY", "default")
    configured: dict[str, list[str]] | None = getattr(settings, "ROUTERS_CLUSTERS", None)
    if configured is not None:
        layout = {alias: tuple(standbys) for alias, standbys in configured.items()}
    else:
        listed: list[str] | None = getattr(settings, "ROUTERS_REPLICAS", None)
        if listed is None:
            listed = [alias for alias in settings.DATABASES if alias != default]
        layout = {default: tuple(listed)}
    app_primaries: dict[str, str] = getattr(settings, "ROUTERS_APP_PRIMARIES", {})
    return _Layout(default, layout, dict(app_primaries))


def _forget_layout(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("ROUTERS_") or setting == "DATABASES":
        _layout.cache_clear()


setting_changed.connect(_forget_layout, dispatch_uid="routers.conf.forget_layout")


def primary() -> str:
    """The default primary: it takes the writes of every app ROUTERS_APP_PRIMARIES
    does not name."""
    return _layout().primary


def clusters() -> dict[str, list[str]]:
    """Each primary alias, with the aliases of its replicas.

    ROUTERS_CLUSTERS when set; otherwise one cluster, ROUTERS_PRIMARY with
    ROUTERS_REPLICAS (default: every other alias in DATABASES).
    """
    return {alias: list(standbys) for alias, standbys in _layout().clusters.items()}


def primaries() -> list[str]:
    return list(_layout().clusters)


def replicas(primary_alias: str | None = None) -> list[str]:
    """The replicas of `primary_alias` (default: of ROUTERS_PRIMARY)."""
    layout = _layout()
    return list(layout.clusters.get(primary_alias or layout.primary, ()))


def all_replicas() -> list[str]:
    """Every replica alias, of every primary."""
    return [alias for standbys in _layout().clusters.values() for alias in standbys]


def primary_of(alias: str) -> str | None:
    """The primary whose cluster `alias` belongs to (itself, for a primary); None when
    the routers do not manage it."""
    for primary_alias, standbys in _layout().clusters.items():
        if alias == primary_alias or alias in standbys:
            return primary_alias
    return None


def app_primaries() -> dict[str, str]:
    return dict(_layout().app_primaries)


def primary_for(app_label: str | None) -> str:
    """The primary that holds `app_label`'s tables: ROUTERS_APP_PRIMARIES, else the
    default primary."""
    layout = _layout()
    return layout.app_primaries.get(app_label or "", layout.primary)


def cookie_prefix() -> str:
    """What goes in front of every routing cookie's name, so two apps on one host (and
    one cookie domain) keep their positions apart. Empty by default: the names clients
    already hold."""
    prefix: str = getattr(settings, "ROUTERS_COOKIE_PREFIX", "")
    return prefix


def cookie_name(base: str, primary_alias: str) -> str:
    """The cookie that carries `base` (PIN_COOKIE, LSN_COOKIE) for one primary: one cookie
    each, so a response sets only the ones for the primaries its request wrote, and
    never carries another primary's older value back to the client."""
    name = base if primary_alias == primary() else f"{base}_{primary_alias}"
    return cookie_prefix() + name


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


def task_mode() -> str:
    """What a task does when no replica has replayed its enqueuer's write yet: `sticky`
    runs it at once (its reads go to the primary), `delayed` runs it again once,
    ROUTERS_STICKY_SECONDS later (see routers.tasks)."""
    mode: str = getattr(settings, "ROUTERS_TASK_MODE", "sticky")
    return mode


def member_positions_cache() -> str | None:
    """The alias in CACHES that keeps each member's writes for their other clients (see
    routers.members); None: positions per member are off."""
    alias: str | None = getattr(settings, "ROUTERS_MEMBER_POSITIONS_CACHE", None)
    return alias


def metrics() -> bool:
    """Count decisions, statements and probes for Prometheus (routers.prometheus)."""
    enabled: bool = getattr(settings, "ROUTERS_METRICS", False)
    return enabled
