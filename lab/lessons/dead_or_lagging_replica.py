"""Lesson 8: a replica that is down, paused or far behind must stop serving reads.

A healthy cluster shows nothing, so the run makes a replica fall behind itself (see
`replica_held_back`): its replay paused, it misses the tag the run commits, and once
that commit is older than ROUTERS_MAX_LAG_SECONDS the routers take it out of rotation.
A cluster with a replica down or paused already is run as it is.
"""

import time
from contextlib import nullcontext

from django.db import DatabaseError

from forum.models import Tag
from routers import (
    RequestState,
    conf,
    describe_nodes,
    primary_lsn,
    replayed,
    request_scope,
    usable_replicas,
)

from ..cluster import ControlError
from ..harness import replica_held_back
from ..trace import traced
from ..verdicts import ERROR, FRESH, STALE
from .base import Lesson, Outcome, lab_tag, not_run_side_by_side, side_by_side

# Past the time bound, how long the run waits at most for the routers to see it.
OUT_OF_ROTATION_GRACE = 5.0
# How long the run waits at most for each other replica to replay its tag.
REPLAY_TIMEOUT = 35.0


def dead_or_lagging_replica(strategy: str, name: str) -> Outcome:
    """A page's worth of reads of the tag `name` (a per-query choice meets every
    replica): where did they go, and did they find it?"""
    nodes = {replica["alias"]: replica for replica in describe_nodes()["replicas"]}
    reads: list[tuple[str, bool]] = []
    with traced() as statements, request_scope(RequestState(strategy=strategy)):
        try:
            for _ in range(2 * len(conf.replicas())):
                found = Tag.objects.filter(name=name).exists()
                reads.append((statements[-1].alias, found))
        except DatabaseError as error:
            where = statements[-1].alias if statements else "a replica"
            summary = f"the read on {where} failed: {error}"
            return Outcome(strategy, ERROR, summary, trace=tuple(statements))
    trace = tuple(statements)
    missed = sorted({alias for alias, found in reads if not found})
    if missed:
        behind = "; ".join(
            f"{alias} is {nodes[alias]['lag_bytes']} bytes and "
            f"{nodes[alias]['lag_seconds']} s behind"
            for alias in missed
            if alias in nodes
        )
        return Outcome(
            strategy, STALE, f"{', '.join(missed)} did not have the new tag ({behind})", trace=trace
        )
    notes = [
        f"{alias} down" if not node["up"] else f"{alias} skipped, {node['lag_seconds']} s behind"
        for alias, node in nodes.items()
        if not node["up"] or not node["in_rotation"]
    ]
    where = ", ".join(sorted({alias for alias, _ in reads}))
    summary = f"read the new tag from {where} ({'; '.join(notes) or 'every replica fine'})"
    return Outcome(strategy, FRESH, summary, trace=trace)


def wait_out_of_rotation(alias: str) -> None:
    """Until the routers leave `alias` out (its oldest missing commit older than
    ROUTERS_MAX_LAG_SECONDS), or a little past that bound."""
    deadline = time.monotonic() + conf.max_lag_seconds() + OUT_OF_ROTATION_GRACE
    while alias in usable_replicas() and time.monotonic() < deadline:
        time.sleep(0.2)


def run() -> list[Outcome]:
    down = [replica["alias"] for replica in describe_nodes()["replicas"] if not replica["up"]]
    try:
        # A replica down is the failure already: no need to hold another back.
        with lab_tag() as name, nullcontext(None) if down else replica_held_back() as held_back:
            Tag.objects.create(name=name)
            position = primary_lsn()
            if held_back is not None:
                wait_out_of_rotation(held_back)
            # The others have the tag (or are down): only the one held back lacks it.
            for alias in conf.replicas():
                if alias not in {held_back, *down} and position is not None:
                    replayed(alias, position, REPLAY_TIMEOUT)
            return side_by_side(lambda strategy: dead_or_lagging_replica(strategy, name))()
    except ControlError as error:
        why = f"could not pause a replica: {error}"
        return not_run_side_by_side(why)


LESSON = Lesson(
    number=8,
    slug="dead-or-lagging-replica",
    title="A dead, paused or far-behind replica",
    problem="A router that picks [replicas](../glossary.md#replica) blindly sends queries to one "
    "that is down, or [paused](../glossary.md#pause) and minutes behind.",
    fix="Pick among replicas that answer and are within ROUTERS_MAX_LAG_BYTES and "
    "ROUTERS_MAX_LAG_SECONDS ([lag in bytes and in seconds](../glossary.md#lag)); else the "
    "[primary](../glossary.md#primary).",
    run=run,
    replica_controls=True,
    before_run="Run it pauses one replica's replay, commits a tag that replica will not apply, "
    "and waits until that commit is older than ROUTERS_MAX_LAG_SECONDS (about "
    "{max_lag_seconds:.0f} s here) before the reads; then it resumes replay. A replica already "
    "down or paused is used as it is.",
)
