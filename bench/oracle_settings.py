"""The forum as make bench runs it, with the oracle's ledger above the routers
(bench/oracle_ledger.py): one line per request of what it read where."""

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE

_ROUTING = MIDDLEWARE.index("routers.middleware.RoutingMiddleware")
MIDDLEWARE = [*MIDDLEWARE[:_ROUTING], "bench.oracle_ledger.ReadsLedger", *MIDDLEWARE[_ROUTING:]]
