"""`healthz`: the primary and each replica, up or down, with replication lag.

    path("healthz", routers.views.healthz)

Answers 200 while ROUTERS_PRIMARY is up ("ok", or "degraded" while another primary is
down) and 503 otherwise, always as JSON. Positions and
lags are measured on every call: this is what monitoring and the lab look at.
`in_rotation` is the routers' own view, from their probes (at most ROUTERS_HEALTH_TTL
old). A replica alias that reaches several servers (see `routers.servers`) also lists
each of them under `servers`, probed on a connection of its own.
"""

from typing import Any

import psycopg
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from . import conf, replicas
from .servers import Server, connect, servers_of

_REPLICA_SQL = f"""
SELECT pg_last_wal_replay_lsn()::text,
       {replicas.REPLICA_ESTIMATE_SQL},
       current_setting('recovery_min_apply_delay'),
       pg_is_wal_replay_paused()
"""


def describe_nodes() -> dict[str, Any]:
    """Probe every node now and describe it: ROUTERS_PRIMARY's cluster, and under
    `clusters` each other primary's (ROUTERS_CLUSTERS)."""
    nodes = describe_cluster(conf.primary())
    others = [primary for primary in conf.primaries() if primary != conf.primary()]
    if others:
        nodes["clusters"] = [describe_cluster(primary) for primary in others]
    return nodes


def describe_cluster(primary_alias: str) -> dict[str, Any]:
    """One primary and its replicas, probed now."""
    row = replicas.fetch_row(primary_alias, "SELECT pg_current_wal_lsn()::text")
    primary_lsn = replicas.parse_lsn(row[0]) if row else None
    nodes: dict[str, Any] = {
        "primary": {"alias": primary_alias, "up": row is not None, "lsn": row[0] if row else None},
        "replicas": [],
    }
    in_rotation = replicas.usable_replicas(primary_alias)
    for alias in conf.replicas(primary_alias):
        row = replicas.fetch_row(alias, _REPLICA_SQL)
        node: dict[str, Any] = {"alias": alias, **describe_replica(primary_alias, row, primary_lsn)}
        if row is not None:
            # Within ROUTERS_MAX_LAG_BYTES and ROUTERS_MAX_LAG_SECONDS: sticky and causal
            # read from it (as last measured, up to ROUTERS_HEALTH_TTL ago).
            node["in_rotation"] = alias in in_rotation
        servers = sorted(servers_of(alias), key=str)  # DNS round-robin reorders them
        if len(servers) > 1:
            node["servers"] = [
                {
                    "server": str(server),
                    **describe_replica(primary_alias, server_row(alias, server), primary_lsn),
                }
                for server in servers
            ]
        nodes["replicas"].append(node)
    return nodes


def describe_replica(
    primary: str, row: tuple[Any, ...] | None, primary_lsn: int | None
) -> dict[str, Any]:
    """What `_REPLICA_SQL`'s row says of a replica; None means it did not answer."""
    if row is None:
        return {"up": False}
    replay_lsn = replicas.parse_lsn(row[0]) if row[0] else None
    seconds = replicas.seconds_behind(primary, replay_lsn, primary_lsn)
    if seconds is None and primary_lsn is not None and row[1] is not None:
        seconds = round(row[1], 3)  # the replica's own upper bound
    return {
        "up": True,
        "replay_lsn": row[0],
        "lag_bytes": replicas.lag_between(primary_lsn, replay_lsn),
        "lag_seconds": seconds,
        "apply_delay": row[2],
        "replay_paused": row[3],
    }


def server_row(alias: str, server: Server) -> tuple[Any, ...] | None:
    """`_REPLICA_SQL` on one server behind `alias`; None if it does not answer."""
    try:
        with connect(alias, server, autocommit=True) as connection:
            return connection.execute(_REPLICA_SQL).fetchone()
    except psycopg.Error:
        return None


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    nodes = describe_nodes()
    if not nodes["primary"]["up"]:
        status = "primary down"
    elif not all(cluster["primary"]["up"] for cluster in nodes.get("clusters", [])):
        status = "degraded"  # the default primary serves; another primary's apps wait
    else:
        status = "ok"
    return JsonResponse(
        {"status": status, **nodes}, status=503 if status == "primary down" else 200
    )
