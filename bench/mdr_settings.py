"""The forum under django-multidb-router's PinningReplicaRouter, as its README configures
it, for make bench's concurrent mode (a bench-only dependency: pip install -e '.[bench]').

The project's own middleware stays, so the pages render as usual; with this router it
routes nothing. django-multidb-router knows one primary, so the analytics app (the
forum's activity log, on a primary of its own) gets a router of its own ahead of it, as
a project combining the two would write.
"""

from typing import Any

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE, ROUTERS_CLUSTERS


class AnalyticsRouter:
    """The analytics app's reads and writes on its own primary; no opinion on the rest."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return "analytics" if model._meta.app_label == "analytics" else None

    db_for_write = db_for_read


DATABASE_ROUTERS = ["bench.mdr_settings.AnalyticsRouter", "multidb.PinningReplicaRouter"]
REPLICA_DATABASES = ROUTERS_CLUSTERS["default"]
MULTIDB_PINNING_SECONDS = 5
MIDDLEWARE = [MIDDLEWARE[0], "multidb.middleware.PinningRouterMiddleware", *MIDDLEWARE[1:]]
