"""System checks for a misconfigured routing setup (`manage.py check`)."""

from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connections

from . import conf

_MIDDLEWARE = "routers.middleware.RoutingMiddleware"
_NEEDS_MIDDLEWARE = {"StickyRouter", "CausalRouter", "SelectableRouter"}


def check_settings(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Aliases and strategy names exist; the middleware is there when a router needs it."""
    problems: list[checks.CheckMessage] = []
    for alias in [conf.primary(), *conf.replicas()]:
        if alias not in settings.DATABASES:
            problems.append(
                checks.Error(
                    f"Routing names the database alias {alias!r}, which DATABASES lacks.",
                    hint="Fix ROUTERS_PRIMARY / ROUTERS_REPLICAS or add the alias.",
                    id="routers.E001",
                )
            )
    if conf.strategy() not in conf.STRATEGIES:
        problems.append(
            checks.Error(
                f"ROUTERS_STRATEGY is {conf.strategy()!r}.",
                hint=f"Use one of {', '.join(conf.STRATEGIES)}.",
                id="routers.E002",
            )
        )
    routers_in_use = {
        path.rsplit(".", 1)[-1] for path in settings.DATABASE_ROUTERS if isinstance(path, str)
    }
    if routers_in_use & _NEEDS_MIDDLEWARE and _MIDDLEWARE not in settings.MIDDLEWARE:
        problems.append(
            checks.Warning(
                "A sticky or causal router is installed without its middleware, so writes "
                "are never remembered and every redirect after a write may read stale data.",
                hint=f"Add {_MIDDLEWARE!r} to MIDDLEWARE, above SessionMiddleware.",
                id="routers.W001",
            )
        )
    if not conf.replicas():
        problems.append(
            checks.Warning(
                "No replica is configured: every read goes to the primary.",
                hint="Add replica aliases to DATABASES (or ROUTERS_REPLICAS).",
                id="routers.W002",
            )
        )
    return problems


def check_replica_roles(
    app_configs: Sequence[AppConfig] | None, databases: Iterable[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Each replica alias connects as a read-only role, so a misrouted write fails loudly.

    Runs with `manage.py check --database replica` (it needs a connection).
    """
    problems: list[checks.CheckMessage] = []
    for alias in set(databases or ()) & set(conf.replicas()):
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SHOW default_transaction_read_only")
                read_only = cursor.fetchone()[0] == "on"
        except DatabaseError as error:
            problems.append(
                checks.Warning(f"Replica {alias!r} cannot be reached: {error}", id="routers.W003")
            )
            continue
        if not read_only:
            problems.append(
                checks.Warning(
                    f"Replica alias {alias!r} connects as a role that may write.",
                    hint="Use a role with default_transaction_read_only = on and only SELECT "
                    "grants, so a write routed to it fails instead of going unnoticed.",
                    id="routers.W004",
                )
            )
    return problems


def register() -> None:
    checks.register(check_settings)
    checks.register(check_replica_roles, checks.Tags.database)
