"""Read/write routing for Django on a PostgreSQL primary and streaming replicas.

Copy this folder into your project, then in settings.py:

    INSTALLED_APPS += ["routers"]
    DATABASE_ROUTERS = ["routers.CausalRouter"]  # or StickyRouter, PrimaryRouter, ...
    MIDDLEWARE.insert(1, "routers.middleware.RoutingMiddleware")  # above sessions/auth

The primary is the "default" alias and every other alias is a replica, unless
ROUTERS_PRIMARY / ROUTERS_REPLICAS say otherwise; several primaries, each with its
replicas, are ROUTERS_CLUSTERS and ROUTERS_APP_PRIMARIES (see routers/conf.py for all
settings, and routers/README.md for the strategies and their guarantees).
"""

from .context import (
    ClusterState,
    RequestState,
    current_state,
    in_request_context,
    mark_write,
    request_scope,
    use_primary,
)
from .helpers import cursor_for_read, db_write, read_alias, replica_aware_get_or_create
from .querysets import WritesOnPrimaryQuerySet
from .routers import (
    CausalRouter,
    NaiveRouter,
    PrimaryRouter,
    SelectableRouter,
    StickyRouter,
    generic_models,
)

__all__ = [
    "CausalRouter",
    "ClusterState",
    "NaiveRouter",
    "PrimaryRouter",
    "RequestState",
    "SelectableRouter",
    "StickyRouter",
    "WritesOnPrimaryQuerySet",
    "current_state",
    "cursor_for_read",
    "db_write",
    "generic_models",
    "in_request_context",
    "mark_write",
    "read_alias",
    "replica_aware_get_or_create",
    "request_scope",
    "use_primary",
]
