"""`healthz`: the primary and each replica, up or down, with replication lag.

    path("healthz", routers.views.healthz)

Answers 200 while the primary is up and 503 otherwise, always as JSON. Probes run
fresh on every call (no cache): this is what monitoring and the lab look at.
"""

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from . import conf, replicas

# The replica's own estimate of its lag in seconds, used when the primary cannot read
# its WAL (no pg_walinspect): 0 when everything received is applied; otherwise the
# time since the replica last applied a commit, which overstates after a quiet spell.
_REPLICA_SQL = """
SELECT pg_last_wal_replay_lsn()::text,
       CASE WHEN pg_last_wal_receive_lsn() IS NULL
              OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float
       END,
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
    for alias in conf.replicas():
        row = replicas.fetch_row(alias, _REPLICA_SQL)
        if row is None:
            nodes["replicas"].append({"alias": alias, "up": False})
            continue
        replay_lsn = replicas.parse_lsn(row[0]) if row[0] else None
        nodes["replicas"].append(
            {
                "alias": alias,
                "up": True,
                "replay_lsn": row[0],
                "lag_bytes": replicas.lag_between(primary_lsn, replay_lsn),
                "lag_seconds": lag_seconds(replay_lsn, primary_lsn, estimate=row[1]),
                "apply_delay": row[2],
                "replay_paused": row[3],
            }
        )
    return nodes


def lag_seconds(
    replay_lsn: int | None, primary_lsn: int | None, estimate: float | None
) -> float | None:
    """How long ago the primary committed the oldest transaction the replica lacks.

    Measured from the primary's WAL when it can be (a replica caught up is 0 without
    asking); otherwise the replica's own estimate.
    """
    if replay_lsn is not None and primary_lsn is not None:
        if replay_lsn >= primary_lsn:
            return 0.0
        measured = replicas.pending_commit_age(replay_lsn)
        if measured is not None:
            return measured
    return None if estimate is None else round(estimate, 3)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    nodes = describe_nodes()
    up = nodes["primary"]["up"]
    return JsonResponse(
        {"status": "ok" if up else "primary down", **nodes}, status=200 if up else 503
    )
