"""The forum under django-multidb-router's PinningReplicaRouter, as its README configures
it, for make bench's concurrent mode (a bench-only dependency: pip install -e '.[bench]').

The project's own middleware stays, so the pages render as usual; with this router it
routes nothing.
"""

from config.settings import *  # noqa: F403
from config.settings import DATABASES, MIDDLEWARE

DATABASE_ROUTERS = ["multidb.PinningReplicaRouter"]
REPLICA_DATABASES = [alias for alias in DATABASES if alias != "default"]
MULTIDB_PINNING_SECONDS = 5
MIDDLEWARE = [MIDDLEWARE[0], "multidb.middleware.PinningRouterMiddleware", *MIDDLEWARE[1:]]
