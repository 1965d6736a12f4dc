"""Every node of every cluster, probed now and described: what `/healthz` answers and a
cluster panel draws.

Positions and lags are measured on every call. `in_rotation` is the routers' own view,
from their probes (at most ROUTERS_HEALTH_TTL old). A replica alias that reaches
several servers (see `routers.servers`) also lists each of them under `servers`, probed
on a connection of its own.
"""

from typing import Any

import psycopg

from . import conf
from .connection import fetch_row
from .lag import REPLICA_ESTIMATE_SQL, lag_between, seconds_behind
from .lsn import parse_lsn
from .rotation import usable_replicas
from .servers import Server, connect_to_server, servers_of

_REPLICA_SQL = f"""
SELECT pg_last_wal_replay_lsn()::text,
       {REPLICA_ESTIMATE_SQL},
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
    row = fetch_row(primary_alias, "SELECT pg_current_wal_lsn()::text")
    primary_lsn = parse_lsn(row[0]) if row else None
    nodes: dict[str, Any] = {
        "primary": {"alias": primary_alias, "up": row is not None, "lsn": row[0] if row else None},
        "replicas": [],
    }
    in_rotation = usable_replicas(primary_alias)
    for alias in conf.replicas(primary_alias):
        row = fetch_row(alias, _REPLICA_SQL)
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
    replay_lsn = parse_lsn(row[0]) if row[0] else None
    seconds = seconds_behind(primary, replay_lsn, primary_lsn)
    if seconds is None and primary_lsn is not None and row[1] is not None:
        seconds = round(row[1], 3)  # the replica's own upper bound
    return {
        "up": True,
        "replay_lsn": row[0],
        "lag_bytes": lag_between(primary_lsn, replay_lsn),
        "lag_seconds": seconds,
        "apply_delay": row[2],
        "replay_paused": row[3],
    }


def server_row(alias: str, server: Server) -> tuple[Any, ...] | None:
    """`_REPLICA_SQL` on one server behind `alias`; None if it does not answer."""
    try:
        with connect_to_server(alias, server, autocommit=True) as connection:
            return connection.execute(_REPLICA_SQL).fetchone()
    except psycopg.Error:
        return None
