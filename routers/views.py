"""`healthz`: the primary and each replica, up or down, with replication lag.

    path("healthz", routers.views.healthz)

Answers 200 while the primary is up and 503 otherwise, always as JSON. Positions and
lags are measured on every call: this is what monitoring and the lab look at.
`in_rotation` is the routers' own view, from their probes (at most ROUTERS_HEALTH_TTL
old).
"""

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from . import conf, replicas

_REPLICA_SQL = f"""
SELECT pg_last_wal_replay_lsn()::text,
       {replicas.REPLICA_ESTIMATE_SQL},
       current_setting('recovery_min_apply_delay'),
       pg_is_wal_replay_paused()
"""


def describe_nodes() -> dict[str, Any]:
    """Probe every node now and describe it."""
    primary_alias = conf.primary()
    row = replicas.fetch_row(primary_alias, "SELECT pg_current_wal_lsn()::text")
    primary_lsn = replicas.parse_lsn(row[0]) if row else None
    nodes: dict[str, Any] = {
        "primary": {"alias": primary_alias, "up": row is not None, "lsn": row[0] if row else None},
        "replicas": [],
    }
    in_rotation = replicas.usable_replicas()
    for alias in conf.replicas():
        row = replicas.fetch_row(alias, _REPLICA_SQL)
        if row is None:
            nodes["replicas"].append({"alias": alias, "up": False})
            continue
        replay_lsn = replicas.parse_lsn(row[0]) if row[0] else None
        seconds = replicas.seconds_behind(replay_lsn, primary_lsn)
        if seconds is None and primary_lsn is not None and row[1] is not None:
            seconds = round(row[1], 3)  # the replica's own upper bound
        nodes["replicas"].append(
            {
                "alias": alias,
                "up": True,
                "replay_lsn": row[0],
                "lag_bytes": replicas.lag_between(primary_lsn, replay_lsn),
                "lag_seconds": seconds,
                "apply_delay": row[2],
                "replay_paused": row[3],
                # Within ROUTERS_MAX_LAG_BYTES and ROUTERS_MAX_LAG_SECONDS: sticky and
                # causal read from it (as last measured, up to ROUTERS_HEALTH_TTL ago).
                "in_rotation": alias in in_rotation,
            }
        )
    return nodes


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    nodes = describe_nodes()
    up = nodes["primary"]["up"]
    return JsonResponse(
        {"status": "ok" if up else "primary down", **nodes}, status=200 if up else 503
    )
