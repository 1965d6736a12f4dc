"""System checks for a misconfigured routing setup (`manage.py check`)."""

import re
from collections.abc import Iterable, Sequence
from importlib import import_module
from importlib.util import find_spec
from typing import Any

from django.apps import AppConfig
from django.apps import apps as django_apps
from django.conf import global_settings, settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections
from django.utils.module_loading import import_string
from psycopg import IsolationLevel

from . import conf
from .atomic_requests import read_committed
from .history import HAS_HISTORY_FUNCTION_SQL, HISTORY_FUNCTION
from .middleware import RoutingMiddleware
from .strategies import NaiveRouter, SafeRouter, SelectableRouter

_MIDDLEWARE = "routers.middleware.RoutingMiddleware"
# What http.cookies accepts in a cookie's name (its _LegalChars).
_COOKIE_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~:]+")
# Middleware that reads or writes the database: the routing scope must already be open.
# Named, not imported: a project may not install sessions or auth.
_DATABASE_MIDDLEWARE = frozenset(
    {
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    }
)


def _imported(paths: Iterable[Any]) -> list[Any]:
    """Settings entries as objects: dotted paths imported, anything else as given."""
    found = []
    for entry in paths:
        try:
            found.append(import_string(entry) if isinstance(entry, str) else entry)
        except ImportError:
            continue  # Django's own checks and startup report a broken path
    return found


def _is_a(entry: Any, kind: type | tuple[type, ...]) -> bool:
    cls = entry if isinstance(entry, type) else type(entry)
    return issubclass(cls, kind)


def _touches_database(entry: Any) -> bool:
    """Is this middleware (or one it subclasses) one that reads or writes the database?"""
    bases = entry.__mro__ if isinstance(entry, type) else ()
    return any(f"{base.__module__}.{base.__qualname__}" in _DATABASE_MIDDLEWARE for base in bases)


def check_settings(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every routing setting, one check per message id."""
    if shape := _e009_cluster_shape():
        return shape  # the checks below read the settings through conf, which needs it
    return [
        problem
        for check in (
            _e001_aliases_exist,
            _e002_strategy_exists,
            _e003_primary_not_a_replica,
            _e006_replica_under_one_primary,
            _e007_primaries_are_cluster_keys,
            _e010_app_labels_exist,
            _e011_primary_fits_a_cookie_name,
            _e012_cookie_prefix_fits_a_cookie_name,
            _e013_browser_cookie_prefix_unmet,
            _e008_replicas_beside_clusters,
            _w007_alias_outside_clusters,
            _e005_pooled_alias_is_a_replica,
            _w001_middleware_missing,
            _w005_middleware_too_late,
            _e004_serializable_replica,
            _w006_repeatable_read_requests,
            _w002_primary_without_replicas,
            _w008_naive_router,
            _w009_cookie_names_shared_with_other_apps,
            _w010_samesite_none_without_secure,
            _w011_token_header_kept_from_cors,
            _e014_task_mode_exists,
            _e015_delayed_tasks_can_wait,
            _w012_atomic_requests_on_a_primary,
            _w013_atomic_requests_on_one_snapshot,
            _w014_atomic_requests_on_a_replica,
            _e016_positions_cache_exists,
            _w015_positions_cache_unshared,
            _w016_positions_cache_unbounded,
            _e017_metrics_need_prometheus_client,
        )
        for problem in check()
    ]


def _e009_cluster_shape() -> list[checks.CheckMessage]:
    clusters = getattr(settings, "ROUTERS_CLUSTERS", None) or {}
    app_primaries = getattr(settings, "ROUTERS_APP_PRIMARIES", {})
    if (
        isinstance(clusters, dict)
        and all(
            isinstance(primary, str)
            and isinstance(standbys, list | tuple)
            and all(isinstance(alias, str) for alias in standbys)
            for primary, standbys in clusters.items()
        )
        and isinstance(app_primaries, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in app_primaries.items())
    ):
        return []
    return [
        checks.Error(
            "ROUTERS_CLUSTERS must map each primary alias to a list of replica aliases, "
            "and ROUTERS_APP_PRIMARIES each app label to a primary alias.",
            hint='ROUTERS_CLUSTERS = {"default": ["replica"], "analytics": []}',
            id="routers.E009",
        )
    ]


def _e001_aliases_exist() -> list[checks.CheckMessage]:
    named = [*conf.primaries(), *conf.all_replicas(), *conf.app_primaries().values()]
    return [
        checks.Error(
            f"Routing names the database alias {alias!r}, which DATABASES lacks.",
            hint="Fix ROUTERS_PRIMARY / ROUTERS_REPLICAS / ROUTERS_CLUSTERS / "
            "ROUTERS_APP_PRIMARIES or add the alias.",
            id="routers.E001",
        )
        for alias in dict.fromkeys(named)
        if alias not in settings.DATABASES
    ]


def _one_of(
    setting: str, value: str, choices: tuple[str, ...], id: str
) -> list[checks.CheckMessage]:
    """An error unless the setting's `value` is one of `choices`."""
    if value in choices:
        return []
    return [
        checks.Error(f"{setting} is {value!r}.", hint=f"Use one of {', '.join(choices)}.", id=id)
    ]


def _e002_strategy_exists() -> list[checks.CheckMessage]:
    return _one_of("ROUTERS_STRATEGY", conf.strategy(), conf.STRATEGIES, "routers.E002")


def _e003_primary_not_a_replica() -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"The primary {primary!r} is also listed as a replica.",
            hint="A replica alias never migrates, so `migrate` would create none of the "
            "apps' tables on the primary (only Django's django_migrations). List only the "
            "standbys.",
            id="routers.E003",
        )
        for primary in conf.primaries()
        if primary in conf.all_replicas()
    ]


def _e006_replica_under_one_primary() -> list[checks.CheckMessage]:
    """With several primaries: a standby replays one primary's WAL."""
    problems: list[checks.CheckMessage] = []
    seen: dict[str, str] = {}
    for primary, standbys in conf.clusters().items():
        for alias in standbys:
            if alias in seen:
                problems.append(
                    checks.Error(
                        f"Replica alias {alias!r} is listed under {seen[alias]!r} and "
                        f"under {primary!r}.",
                        hint="A standby replays one primary's WAL: list it under that one.",
                        id="routers.E006",
                    )
                )
            seen.setdefault(alias, primary)
    return problems


def _e007_primaries_are_cluster_keys() -> list[checks.CheckMessage]:
    named = [
        ("ROUTERS_PRIMARY", conf.primary()),
        *(
            (f"ROUTERS_APP_PRIMARIES[{app!r}]", alias)
            for app, alias in conf.app_primaries().items()
        ),
    ]
    return [
        checks.Error(
            f"{name} is {alias!r}, which is not a primary of ROUTERS_CLUSTERS.",
            hint="Use one of its keys: " + ", ".join(map(repr, conf.primaries())) + ".",
            id="routers.E007",
        )
        for name, alias in named
        if alias not in conf.primaries()
    ]


def _e010_app_labels_exist() -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"ROUTERS_APP_PRIMARIES names the app label {app!r}, which no installed "
            "app has: its models would go to ROUTERS_PRIMARY.",
            hint="Use the app's label (AppConfig.label), as in `app_label` of its models.",
            id="routers.E010",
        )
        for app in conf.app_primaries()
        if app not in django_apps.app_configs
    ]


def _e011_primary_fits_a_cookie_name() -> list[checks.CheckMessage]:
    # ROUTERS_PRIMARY's cookies do not carry its alias.
    return [
        checks.Error(
            f"The primary alias {primary!r} cannot be part of a cookie name, and "
            "each primary's write is remembered in cookies named after it.",
            hint="Use letters, digits and _ in primary aliases.",
            id="routers.E011",
        )
        for primary in conf.primaries()
        if primary != conf.primary() and not _COOKIE_NAME.fullmatch(primary)
    ]


def _e012_cookie_prefix_fits_a_cookie_name() -> list[checks.CheckMessage]:
    prefix = conf.cookie_prefix()
    if isinstance(prefix, str) and (prefix == "" or _COOKIE_NAME.fullmatch(prefix)):
        return []
    return [
        checks.Error(
            f"ROUTERS_COOKIE_PREFIX is {prefix!r}, which cannot start a cookie name.",
            hint='Use letters, digits and _, as in ROUTERS_COOKIE_PREFIX = "shop_".',
            id="routers.E012",
        )
    ]


def _e013_browser_cookie_prefix_unmet() -> list[checks.CheckMessage]:
    """Browsers keep a cookie named __Secure-... only with Secure, and __Host-... only
    with Secure, no Domain and Path=/ (RFC 6265bis), in any case: Chromium 156 drops
    "__host-a=1; Path=/" sent over http. The routing cookies take the session cookie's
    attributes."""
    prefix = conf.cookie_prefix()
    if not isinstance(prefix, str):
        return []  # E012
    lowered = prefix.lower()
    host_only_root = settings.SESSION_COOKIE_DOMAIN is None and settings.SESSION_COOKIE_PATH == "/"
    if lowered.startswith("__host-"):
        met = settings.SESSION_COOKIE_SECURE and host_only_root
        needs = (
            "SESSION_COOKIE_SECURE = True, no SESSION_COOKIE_DOMAIN and SESSION_COOKIE_PATH = '/'"
        )
    elif lowered.startswith("__secure-"):
        met = settings.SESSION_COOKIE_SECURE
        needs = "SESSION_COOKIE_SECURE = True"
    else:
        return []
    if met:
        return []
    return [
        checks.Error(
            f"ROUTERS_COOKIE_PREFIX is {prefix!r}: browsers keep cookies so named only "
            f"with {needs}, which the routing cookies take from the session cookie. "
            "Every write would be forgotten.",
            hint=f"Set {needs}, or choose another prefix.",
            id="routers.E013",
        )
    ]


def _e008_replicas_beside_clusters() -> list[checks.CheckMessage]:
    if (
        getattr(settings, "ROUTERS_CLUSTERS", None) is None
        or getattr(settings, "ROUTERS_REPLICAS", None) is None
    ):
        return []
    return [
        checks.Error(
            "ROUTERS_REPLICAS is set beside ROUTERS_CLUSTERS, which replaces it: its "
            "aliases belong to no primary.",
            hint="List every replica under its primary in ROUTERS_CLUSTERS, and remove "
            "ROUTERS_REPLICAS.",
            id="routers.E008",
        )
    ]


def _w007_alias_outside_clusters() -> list[checks.CheckMessage]:
    if getattr(settings, "ROUTERS_CLUSTERS", None) is None:
        return []  # without it, every alias is the primary or one of its replicas
    return [
        checks.Warning(
            f"Database alias {alias!r} belongs to no primary of ROUTERS_CLUSTERS: "
            "the routers never read from it, and `migrate --database "
            f"{alias}` would create every app's tables on it.",
            hint="List it in ROUTERS_CLUSTERS, as a primary or under its primary; "
            "or silence routers.W007 if the routers are not meant to manage it.",
            id="routers.W007",
        )
        for alias in settings.DATABASES
        if conf.primary_of(alias) is None
    ]


def _e005_pooled_alias_is_a_replica() -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"ROUTERS_POOLED_REPLICAS names {alias!r}, which is not a replica alias.",
            hint="List it among the replicas (ROUTERS_REPLICAS, or ROUTERS_CLUSTERS), "
            "or remove it: only reads are kept on one pooled server.",
            id="routers.E005",
        )
        for alias in conf.pooled_replicas()
        if alias not in conf.all_replicas()
    ]


def _routing_middleware_at() -> tuple[list[Any], int | None]:
    """MIDDLEWARE as objects, and where RoutingMiddleware is in it (None: missing)."""
    middleware = _imported(settings.MIDDLEWARE)
    at = [i for i, entry in enumerate(middleware) if _is_a(entry, RoutingMiddleware)]
    return middleware, (at[0] if at else None)


def _w001_middleware_missing() -> list[checks.CheckMessage]:
    routers_in_use = _imported(settings.DATABASE_ROUTERS)
    if _routing_middleware_at()[1] is not None or not any(
        _is_a(r, (SafeRouter, SelectableRouter)) for r in routers_in_use
    ):
        return []
    return [
        checks.Warning(
            "A sticky or causal router is installed without its middleware, so writes "
            "are never remembered and every redirect after a write may read stale data.",
            hint=f"Add {_MIDDLEWARE!r} to MIDDLEWARE, above SessionMiddleware.",
            id="routers.W001",
        )
    ]


def _w005_middleware_too_late() -> list[checks.CheckMessage]:
    middleware, at = _routing_middleware_at()
    if at is None:
        return []
    above = [entry.__name__ for entry in middleware[:at] if _touches_database(entry)]
    if not above:
        return []
    return [
        checks.Warning(
            f"RoutingMiddleware comes after {', '.join(above)}, which reads and writes "
            "the database outside the request's routing state: a session saved on the "
            "way out is a write no cookie remembers.",
            hint=f"Move {_MIDDLEWARE!r} above {', '.join(above)}.",
            id="routers.W005",
        )
    ]


def _isolation_levels() -> list[tuple[str, dict[str, Any], Any]]:
    """Each replica alias, its settings, and the isolation level its OPTIONS ask for."""
    found = []
    for alias in conf.all_replicas():
        config: dict[str, Any] = settings.DATABASES.get(alias, {})
        options: dict[str, Any] = config.get("OPTIONS") or {}
        found.append((alias, config, options.get("isolation_level")))
    return found


def _e004_serializable_replica() -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"Replica alias {alias!r} asks for SERIALIZABLE transactions, which a "
            "hot standby refuses.",
            hint="Use REPEATABLE READ or the default, READ COMMITTED.",
            id="routers.E004",
        )
        for alias, _, level in _isolation_levels()
        if level == IsolationLevel.SERIALIZABLE
    ]


def _w006_repeatable_read_requests() -> list[checks.CheckMessage]:
    return [
        checks.Warning(
            f"Replica alias {alias!r} wraps each request in a REPEATABLE READ "
            "transaction: every read sees the snapshot of its first statement on "
            "the alias. The routers check a client's position before it, but a "
            "query run on the alias directly, before the routers have chosen it, "
            "fixes an older snapshot and the causal wait cannot help.",
            hint="Use READ COMMITTED on replica aliases, or turn ATOMIC_REQUESTS off "
            "for them; or silence routers.W006 if nothing queries the alias first.",
            id="routers.W006",
        )
        for alias, config, level in _isolation_levels()
        if level == IsolationLevel.REPEATABLE_READ and config.get("ATOMIC_REQUESTS")
    ]


def _w002_primary_without_replicas() -> list[checks.CheckMessage]:
    return [
        checks.Warning(
            f"No replica is configured for {primary!r}: every read of its models "
            "goes to the primary.",
            hint="Add replica aliases to DATABASES (or ROUTERS_REPLICAS, or ROUTERS_CLUSTERS).",
            id="routers.W002",
        )
        for primary, standbys in conf.clusters().items()
        if not standbys
    ]


def _w008_naive_router() -> list[checks.CheckMessage]:
    """NaiveRouter is the bug the other routers fix, kept as the baseline to measure
    against: warn wherever it serves every request."""
    routers_in_use = _imported(settings.DATABASE_ROUTERS)
    naive_installed = any(_is_a(r, NaiveRouter) for r in routers_in_use)
    selectable = any(_is_a(r, SelectableRouter) for r in routers_in_use)
    if not naive_installed and not (selectable and conf.strategy() == "naive"):
        return []
    return [
        checks.Warning(
            "Every read goes to a replica with no safeguard (the naive strategy): a page "
            "after a write reads a replica that may not have it yet.",
            hint='Use CausalRouter or StickyRouter (or ROUTERS_STRATEGY = "causal"); keep '
            "naive for measuring the others against.",
            id="routers.W008",
        )
    ]


def _w009_cookie_names_shared_with_other_apps() -> list[checks.CheckMessage]:
    """A session cookie renamed is the usual sign of several apps on one host: they
    would share the routing cookies too, unless those are renamed as well."""
    renamed = settings.SESSION_COOKIE_NAME != global_settings.SESSION_COOKIE_NAME
    if not renamed or hasattr(settings, "ROUTERS_COOKIE_PREFIX"):
        return []
    return [
        checks.Warning(
            f"SESSION_COOKIE_NAME is {settings.SESSION_COOKIE_NAME!r}, but the routing "
            f"cookies keep their default names ({conf.PIN_COOKIE}, {conf.LSN_COOKIE}): "
            "another app on the same host would overwrite them, each app would reject "
            "the other's signature, and its writers would read stale data.",
            hint=f'Name them apart: ROUTERS_COOKIE_PREFIX = "{settings.SESSION_COOKIE_NAME}_"; '
            'or set ROUTERS_COOKIE_PREFIX = "" if no other app shares the host.',
            id="routers.W009",
        )
    ]


def _w010_samesite_none_without_secure() -> list[checks.CheckMessage]:
    """Browsers refuse a SameSite=None cookie without Secure: the session cookie, and the
    routing cookies that take its attributes."""
    if settings.SESSION_COOKIE_SAMESITE != "None" or settings.SESSION_COOKIE_SECURE:
        return []
    return [
        checks.Warning(
            'SESSION_COOKIE_SAMESITE is "None" without SESSION_COOKIE_SECURE: browsers '
            "refuse such cookies, so neither the session nor the routing cookies (which "
            "take its attributes) are kept, and every write is forgotten.",
            hint="Set SESSION_COOKIE_SECURE = True (and serve over HTTPS), or another SameSite.",
            id="routers.W010",
        )
    ]


def _w011_token_header_kept_from_cors() -> list[checks.CheckMessage]:
    """With django-cors-headers, a browser app on another origin reads the consistency
    token only if CORS_EXPOSE_HEADERS names it, and may send it back only if
    CORS_ALLOW_HEADERS does (their defaults name neither; "*" covers it only for
    requests without credentials, by the Fetch standard). Without them its writes are
    forgotten without an error."""
    if not django_apps.is_installed("corsheaders"):
        return []
    names = {conf.TOKEN_HEADER.lower()}
    if not getattr(settings, "CORS_ALLOW_CREDENTIALS", False):
        names.add("*")
    missing = [
        name
        for name in ("CORS_EXPOSE_HEADERS", "CORS_ALLOW_HEADERS")
        if not names & {str(entry).lower() for entry in getattr(settings, name, ())}
    ]
    if not missing:
        return []
    return [
        checks.Warning(
            f"django-cors-headers is installed, but {' and '.join(missing)} "
            f"{'do' if len(missing) > 1 else 'does'} not name {conf.TOKEN_HEADER}: a browser "
            "app on another origin cannot read the consistency token or send it back, "
            "and reads its own writes stale.",
            hint=f'Add "{conf.TOKEN_HEADER}" to CORS_EXPOSE_HEADERS, and to CORS_ALLOW_HEADERS '
            "(after corsheaders.defaults.default_headers).",
            id="routers.W011",
        )
    ]


def _e014_task_mode_exists() -> list[checks.CheckMessage]:
    return _one_of("ROUTERS_TASK_MODE", conf.task_mode(), conf.TASK_MODES, "routers.E014")


def _e015_delayed_tasks_can_wait() -> list[checks.CheckMessage]:
    """A delayed task is enqueued again to run later: its backend must take `run_after`."""
    # Django 6's tasks framework, else (Django 5.2) the django-tasks backport's.
    framework = next((name for name in ("django.tasks", "django_tasks") if find_spec(name)), None)
    if conf.task_mode() != "delayed" or framework is None:
        return []
    task_backends = import_module(framework).task_backends

    problems: list[checks.CheckMessage] = []
    for alias in task_backends.settings:
        try:
            backend = task_backends[alias]
        except ImproperlyConfigured:  # an invalid backend: the framework's own checks say so
            continue
        if not backend.supports_defer:
            problems.append(
                checks.Error(
                    f'ROUTERS_TASK_MODE is "delayed", but the task backend {alias!r} '
                    f"({type(backend).__name__}) cannot run a task later: a task whose "
                    "enqueuer's write no replica has yet would fail instead of waiting.",
                    hint='Use ROUTERS_TASK_MODE = "sticky", or a backend that supports '
                    "run_after (django-tasks-db's DatabaseBackend does).",
                    id="routers.E015",
                )
            )
    return problems


def _e017_metrics_need_prometheus_client() -> list[checks.CheckMessage]:
    if not conf.metrics() or find_spec("prometheus_client") is not None:
        return []
    return [
        checks.Error(
            "ROUTERS_METRICS is on, but prometheus_client is not installed.",
            hint="pip install django-replica-routers[metrics], or turn ROUTERS_METRICS off.",
            id="routers.E017",
        )
    ]


def _atomic_request_primaries() -> list[str]:
    return [p for p in conf.primaries() if settings.DATABASES.get(p, {}).get("ATOMIC_REQUESTS")]


def _w012_atomic_requests_on_a_primary() -> list[checks.CheckMessage]:
    """Django's handler opens the view's block before the view runs, and entering it
    connects: no router is asked, so no replica can stand in."""
    return [
        checks.Warning(
            f"Primary alias {primary!r} has ATOMIC_REQUESTS: Django connects to it to open "
            "each view's transaction, before the view runs, so while it is down every "
            "page fails (the read-only page), where the routers would read the replicas.",
            hint="Wrap only the views that write in transaction.atomic(); or silence "
            "routers.W012 if pages may fail while the primary is down.",
            id="routers.W012",
        )
        for primary in _atomic_request_primaries()
    ]


def _w013_atomic_requests_on_one_snapshot() -> list[checks.CheckMessage]:
    """The view's block is read like no block only under READ COMMITTED (see
    routers.atomic_requests)."""
    return [
        checks.Warning(
            f"Primary alias {primary!r} has ATOMIC_REQUESTS under REPEATABLE READ or "
            "SERIALIZABLE: each view's transaction is one snapshot, on the primary, so "
            "every read of every page goes to the primary.",
            hint="Use READ COMMITTED on the primary, and a stricter level only in the "
            "atomic() blocks that need it; or silence routers.W013.",
            id="routers.W013",
        )
        for primary in _atomic_request_primaries()
        if not read_committed(primary)
    ]


def _w014_atomic_requests_on_a_replica() -> list[checks.CheckMessage]:
    # Under REPEATABLE READ, routers.W006 says it already.
    return [
        checks.Warning(
            f"Replica alias {alias!r} has ATOMIC_REQUESTS: Django connects to it to open "
            "a transaction around every view, whichever node the routers read, so while "
            "it is down every page fails (a 500) instead of reading another node.",
            hint="Turn ATOMIC_REQUESTS off on replica aliases: reads need no transaction there.",
            id="routers.W014",
        )
        for alias, config, level in _isolation_levels()
        if config.get("ATOMIC_REQUESTS") and level != IsolationLevel.REPEATABLE_READ
    ]


def _positions_cache() -> dict[str, Any] | None:
    """ROUTERS_MEMBER_POSITIONS_CACHE's entry in CACHES, if it names one."""
    alias = conf.member_positions_cache()
    if alias is None:
        return None
    entry = settings.CACHES.get(alias)
    return entry if isinstance(entry, dict) else None


def _e016_positions_cache_exists() -> list[checks.CheckMessage]:
    alias = conf.member_positions_cache()
    if alias is None or _positions_cache() is not None:
        return []
    return [
        checks.Error(
            f"ROUTERS_MEMBER_POSITIONS_CACHE is {alias!r}, which CACHES lacks.",
            hint="Name a cache of CACHES that every app server shares (a RedisCache), or "
            "set it to None: positions per member off.",
            id="routers.E016",
        )
    ]


# Caches that cannot keep a member's writes for their other clients, and why.
_UNSHARED_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "each process keeps its own, so "
    "another worker or server never sees a write kept there",
    "django.core.cache.backends.dummy.DummyCache": "it keeps nothing",
    "django.core.cache.backends.db.DatabaseCache": "its reads go through the routers, to "
    "a replica that may not have the writes kept there yet",
}


def _w015_positions_cache_unshared() -> list[checks.CheckMessage]:
    backend = (_positions_cache() or {}).get("BACKEND", "")
    if backend not in _UNSHARED_CACHES:
        return []
    return [
        checks.Warning(
            f"ROUTERS_MEMBER_POSITIONS_CACHE names a {backend.rsplit('.', 1)[-1]}: "
            f"{_UNSHARED_CACHES[backend]}. A member's other clients may read their "
            "writes stale.",
            hint="Use a cache every app server shares: "
            "django.core.cache.backends.redis.RedisCache.",
            id="routers.W015",
        )
    ]


_TIMEOUTS = ("socket_timeout", "socket_connect_timeout")


def _w016_positions_cache_unbounded() -> list[checks.CheckMessage]:
    entry = _positions_cache() or {}
    if entry.get("BACKEND") != "django.core.cache.backends.redis.RedisCache":
        return []
    missing = [name for name in _TIMEOUTS if name not in entry.get("OPTIONS", {})]
    if not missing:
        return []
    return [
        checks.Warning(
            f"The positions cache's OPTIONS set no {' and no '.join(missing)}: a Redis that "
            "hangs (a stopped process, a lost host) holds a member's request for the redis "
            "package's own default (5 s in redis 8.1), once every few seconds in each "
            "process.",
            hint='"OPTIONS": {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}',
            id="routers.W016",
        )
    ]


# Can this alias write? A standby cannot, whatever the role; on a server that can, the
# role's grants decide (default_transaction_read_only is only a default: BEGIN READ
# WRITE overrides it).
_CAN_WRITE_SQL = """
SELECT NOT pg_is_in_recovery() AND EXISTS (
    SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%%'
      AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
)
"""


def check_replica_roles(
    app_configs: Sequence[AppConfig] | None, databases: Iterable[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """No replica alias can change a table, so a misrouted write fails loudly.

    Runs with `manage.py check --database replica` (it needs a connection).
    """
    problems: list[checks.CheckMessage] = []
    for alias in set(databases or ()) & set(conf.all_replicas()):
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute(_CAN_WRITE_SQL)
                can_write = cursor.fetchone()[0]
        except DatabaseError as error:
            problems.append(
                checks.Warning(f"Replica {alias!r} cannot be reached: {error}", id="routers.W003")
            )
            continue
        if can_write:
            problems.append(
                checks.Warning(
                    f"Replica alias {alias!r} points at a server that accepts writes, as a "
                    "role that may change its tables: a write routed there by mistake "
                    "would succeed on the wrong server, or go unnoticed.",
                    hint="Point it at a standby, and connect as a role with SELECT grants only.",
                    id="routers.W004",
                )
            )
    return problems


def _one_value(alias: str, sql: str) -> Any:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def check_failover_grants(
    app_configs: Sequence[AppConfig] | None, databases: Iterable[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """What the routers read across a failover: each replica alias's WAL receiver (W017),
    each primary's timeline history (W018). Runs with `manage.py check --database ...`."""
    problems: list[checks.CheckMessage] = []
    chosen = set(databases or ())
    for alias in sorted(chosen & set(conf.all_replicas())):
        try:
            allowed = _one_value(alias, "SELECT pg_has_role('pg_read_all_stats', 'USAGE')")
        except DatabaseError:
            continue  # W003 says it
        if not allowed:
            problems.append(
                checks.Warning(
                    f"Replica alias {alias!r} connects as a role that cannot read its WAL "
                    "receiver's status and timeline (pg_stat_wal_receiver shows it only the "
                    "pid): after a failover, a standby still on the old timeline, or a "
                    "demoted primary not yet rewound, keeps serving reads.",
                    hint="On the primary: GRANT pg_read_all_stats TO <the replica role>; "
                    "(see routers/README.md, Across a failover).",
                    id="routers.W017",
                )
            )
    for alias in sorted(chosen & set(conf.primaries())):
        try:
            available = _one_value(alias, HAS_HISTORY_FUNCTION_SQL)
        except DatabaseError:
            continue
        if not available:
            problems.append(
                checks.Warning(
                    f"Primary {alias!r} lacks {HISTORY_FUNCTION}, or its role may not run "
                    "it: after a failover, a write the failover lost cannot be told from "
                    "one the new primary has; both are compared by WAL position alone, and "
                    "no lost write is reported.",
                    hint="Create it as the superuser, in each database the app connects to "
                    "(its SQL is in routers/README.md, Across a failover).",
                    id="routers.W018",
                )
            )
    return problems


def register() -> None:
    checks.register(check_settings)
    checks.register(check_replica_roles, checks.Tags.database)
    checks.register(check_failover_grants, checks.Tags.database)
