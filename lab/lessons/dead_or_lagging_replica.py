"""Lesson 8: a replica that is down, paused or far behind must stop serving reads."""

from django.db import DatabaseError

from forum.models import Tag
from routers import RequestState, conf, describe_nodes, request_scope

from ..trace import traced
from .base import Lesson, Outcome, side_by_side


def dead_or_lagging_replica(strategy: str) -> Outcome:
    """A page's worth of reads (a per-query choice meets every replica): where did they go?"""
    nodes = {replica["alias"]: replica for replica in describe_nodes()["replicas"]}
    with traced() as statements, request_scope(RequestState(strategy=strategy)):
        try:
            for _ in range(2 * len(conf.replicas())):
                Tag.objects.exists()
        except DatabaseError as error:
            return Outcome(strategy, False, f"the read failed: {error}", trace=tuple(statements))
    used = sorted({statement.alias for statement in statements})
    stale = [alias for alias in used if alias in nodes and not nodes[alias]["in_rotation"]]
    if stale:
        behind = ", ".join(f"{alias} {nodes[alias]['lag_seconds']} s behind" for alias in stale)
        return Outcome(
            strategy, False, f"read stale data: {behind}, out of rotation", trace=tuple(statements)
        )
    notes = [
        f"{alias} down" if not node["up"] else f"{alias} skipped, {node['lag_seconds']} s behind"
        for alias, node in nodes.items()
        if not node["up"] or not node["in_rotation"]
    ]
    where = ", ".join(used)
    return Outcome(
        strategy,
        True,
        f"read from {where} ({'; '.join(notes) or 'all replicas fine'})",
        trace=tuple(statements),
    )


LESSON = Lesson(
    number=8,
    slug="dead-or-lagging-replica",
    title="A dead, paused or far-behind replica",
    problem="A router that picks replicas blindly sends queries to one that is down, or paused "
    "and minutes behind. Pause one below (or stop one: the Cluster page gives the "
    "command), write something, and run this again.",
    fix="Pick among replicas that answer and are within ROUTERS_MAX_LAG_BYTES and "
    "ROUTERS_MAX_LAG_SECONDS; else the primary.",
    run=side_by_side(dead_or_lagging_replica),
    replica_controls=True,
)
