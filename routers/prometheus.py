"""Prometheus metrics for the routers, and the view that serves them.

    # settings.py
    ROUTERS_METRICS = True
    # urls.py
    path("metrics", routers.prometheus.metrics_view)

Counted per request (by RoutingMiddleware, after the response): its decisions by
primary, alias and reason (`routers.decisions.Reason`), the fallbacks among them, the
statements each alias ran, causal's waits for a replica, and the pages that said "saved,
on its way" (NotVisibleYet). Counted per probe: how long it took. Measured when scraped:
each node up or down, each replica's lag in bytes and seconds and whether it is in
rotation (`routers.nodes.describe_nodes`, what /healthz answers).

The metrics live in prometheus_client's default registry, beside the process's own.
Under several worker processes (gunicorn), each counts its own: set
PROMETHEUS_MULTIPROC_DIR as prometheus_client's documentation says, or scrape each.
"""

from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .context import RequestState
from .decisions import FALLBACKS
from .nodes import describe_nodes
from .strategies import strategy_serving

REQUESTS = Counter("routers_requests", "Requests served, by strategy.", ["strategy"])
DECISIONS = Counter(
    "routers_decisions",
    "Routing decisions, by primary, the alias chosen and the rule that chose it.",
    ["primary", "alias", "reason"],
)
FALLBACK_DECISIONS = Counter(
    "routers_fallbacks",
    "Decisions that read the primary (or, with it down, a replica) although the strategy"
    " would have read a replica: no replica in rotation, primary down, not visible yet.",
    ["primary", "reason"],
)
STATEMENTS = Counter("routers_statements", "Statements run, by alias.", ["alias"])
CAUSAL_WAIT_SECONDS = Histogram(
    "routers_causal_wait_seconds",
    "How long causal checked and waited for a replica to replay the client's write.",
    ["primary", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
NOT_VISIBLE_PAGES = Counter(
    "routers_not_visible_pages",
    "Pages that said the client's write was saved but no reachable node had it yet.",
)
PROBE_SECONDS = Histogram(
    "routers_probe_seconds",
    "How long a health and position probe of a node took.",
    ["alias", "outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0),
)


def count(state: RequestState, response: HttpResponseBase) -> None:
    """Count one request's decisions, statements and not-visible page."""
    REQUESTS.labels(strategy_serving(state) or "").inc()
    for primary, cluster in list(state.clusters.items()):
        for decision in cluster.decisions:
            DECISIONS.labels(primary, decision.alias, decision.reason).inc()
            if decision.reason in FALLBACKS:
                FALLBACK_DECISIONS.labels(primary, decision.reason).inc()
            if decision.waited_ms is not None:
                wait = decision.waited_ms / 1000
                CAUSAL_WAIT_SECONDS.labels(primary, decision.reason).observe(wait)
    for alias, statements in list(state.queries.items()):
        STATEMENTS.labels(alias).inc(statements)
    if state.not_visible:
        NOT_VISIBLE_PAGES.inc()


class NodesCollector(Collector):
    """Each node's state, measured when scraped."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "routers_node_up", "1 if the node answered.", labels=["alias", "role"]
        )
        lag_bytes = GaugeMetricFamily(
            "routers_replica_lag_bytes", "WAL the replica has not replayed.", labels=["alias"]
        )
        lag_seconds = GaugeMetricFamily(
            "routers_replica_lag_seconds",
            "Age of the oldest commit the replica has not applied.",
            labels=["alias"],
        )
        in_rotation = GaugeMetricFamily(
            "routers_replica_in_rotation", "1 if the replica may serve reads.", labels=["alias"]
        )
        nodes = describe_nodes()
        for cluster in [nodes, *nodes.get("clusters", [])]:
            up.add_metric([cluster["primary"]["alias"], "primary"], int(cluster["primary"]["up"]))
            for replica in cluster["replicas"]:
                alias = replica["alias"]
                up.add_metric([alias, "replica"], int(replica["up"]))
                if replica.get("lag_bytes") is not None:
                    lag_bytes.add_metric([alias], replica["lag_bytes"])
                if replica.get("lag_seconds") is not None:
                    lag_seconds.add_metric([alias], replica["lag_seconds"])
                in_rotation.add_metric([alias], int(replica.get("in_rotation", False)))
        yield from (up, lag_bytes, lag_seconds, in_rotation)

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # measured only when scraped: not at registration


REGISTRY.register(NodesCollector())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Every metric of the default registry, in Prometheus' text format."""
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
