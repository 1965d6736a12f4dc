"""Read/write routing for Django on a PostgreSQL primary and streaming replicas.

`pip install django-replica-routers` (or copy this folder into your project), then in
settings.py:

    INSTALLED_APPS += ["routers"]
    DATABASE_ROUTERS = ["routers.CausalRouter"]  # or StickyRouter, PrimaryRouter, ...
    MIDDLEWARE.insert(1, "routers.middleware.RoutingMiddleware")  # above sessions/auth

The primary is the "default" alias and every other alias is a replica, unless
ROUTERS_PRIMARY / ROUTERS_REPLICAS say otherwise; several primaries, each with its
replicas, are ROUTERS_CLUSTERS and ROUTERS_APP_PRIMARIES (see routers/conf.py for all
settings, and routers/README.md for the strategies and their guarantees).

The public API is what this module exports, and six modules: `routers.conf` (the
settings, as the routers read them), `routers.middleware` (RoutingMiddleware, for
MIDDLEWARE), `routers.views` (healthz, for a URLconf), `routers.statements` (the SQL
classifier, which needs no Django), `routers.prometheus` (metrics_view, with the
`metrics` extra) and `routers.toolbar` (RoutingPanel, with the `toolbar` extra). Every
other module is private: `make lint` keeps the project's own apps out of them.
"""

__version__ = "0.1.0"

from .caches import forget
from .context import (
    ClusterState,
    RequestState,
    current_state,
    in_request_context,
    is_probing,
    mark_write,
    unit_of_work,
    use_primary,
)
from .decisions import Decision, Reason
from .helpers import cursor_for_read, db_write, read_alias, replica_aware_get_or_create
from .lag import lag_bytes, lag_seconds
from .lsn import format_lsn, parse_lsn
from .members import forget_member, member_authenticated
from .middleware import RoutingMiddleware
from .nodes import describe_nodes
from .positions import primary_lsn
from .primary_down import not_visible_response, read_only_response
from .probes import NodeHealth, health, probe
from .querysets import WritesOnPrimaryQuerySet, generic_models, keeps_writes_on_primary
from .replay import replayed
from .rotation import usable_replicas
from .scopes import request_scope
from .servers import Server, connect_to_server, servers_of
from .strategies import (
    BaseRouter,
    CausalRouter,
    NaiveRouter,
    NotVisibleYet,
    PrimaryRouter,
    SelectableRouter,
    StickyRouter,
    active_router,
    strategy_router,
)
from .tasks import enqueue_on_commit, enqueue_with_writes, task_scope
from .timelines import LostWrite, lost_writes

__all__ = [
    "BaseRouter",
    "CausalRouter",
    "ClusterState",
    "Decision",
    "LostWrite",
    "NaiveRouter",
    "NodeHealth",
    "NotVisibleYet",
    "PrimaryRouter",
    "Reason",
    "RequestState",
    "RoutingMiddleware",
    "SelectableRouter",
    "Server",
    "StickyRouter",
    "WritesOnPrimaryQuerySet",
    "active_router",
    "connect_to_server",
    "current_state",
    "cursor_for_read",
    "db_write",
    "describe_nodes",
    "enqueue_on_commit",
    "enqueue_with_writes",
    "forget",
    "forget_member",
    "format_lsn",
    "generic_models",
    "health",
    "in_request_context",
    "is_probing",
    "keeps_writes_on_primary",
    "lag_bytes",
    "lag_seconds",
    "lost_writes",
    "mark_write",
    "member_authenticated",
    "not_visible_response",
    "parse_lsn",
    "primary_lsn",
    "probe",
    "read_alias",
    "read_only_response",
    "replayed",
    "replica_aware_get_or_create",
    "request_scope",
    "servers_of",
    "strategy_router",
    "task_scope",
    "unit_of_work",
    "usable_replicas",
    "use_primary",
]
