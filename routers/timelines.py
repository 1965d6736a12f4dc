"""A client's position across a failover: kept by the new timeline, or lost.

A promotion starts a new timeline, which continues the old one's WAL from its switch
point. A position (an LSN) means something only on its own timeline's history, so a
client's position on a timeline older than the primary's is compared through the
primary's timeline history (`routers.history`): at or before the old timeline's switch
point, the write is part of the new primary's WAL and routing goes on as usual (an LSN
comparison with a replica on the current timeline holds); after it, or on a timeline
that is not an ancestor at all, the write was never received by the node promoted: the
failover lost it.

A lost write is recorded in the request's state (`lost_writes()`), for the app to tell
its client once, and its position is dropped: the response deletes it from the cookie,
the header and the member's kept writes (`routers.middleware`), and routing goes on.

What cannot be told: a position without a timeline (a cookie of an older copy), one on
a timeline later than the primary's (the alias still reaches a deposed primary, or a
cached probe is stale), and one whose history cannot be read (`routers.W018`): those
are compared by their LSN, as before.
"""

from dataclasses import dataclass
from enum import Enum

from .context import ClusterState, RequestState, current_state
from .history import History, timeline_history
from .probes import NodeHealth, health, probe


@dataclass(frozen=True)
class LostWrite:
    """A client's write on `primary` that a failover lost: the primary it reaches now
    never had it."""

    primary: str
    #: When the write's response was made (time.time()); None when its position did not say.
    written_at: float | None
    #: The write's WAL position, on `timeline`.
    lsn: int
    timeline: int
    #: Where `timeline` ended in the primary's current history; None when it is not in
    #: that history at all (a timeline that branched off another line).
    switch_point: int | None
    #: The timeline the primary is on now.
    current_timeline: int


class Verdict(Enum):
    #: Compare the position by its LSN, as on one timeline.
    AS_BEFORE = "as before"
    #: The failover lost the write.
    LOST = "lost"


def verdict(lsn: int, timeline: int, current_timeline: int, history: History | None) -> Verdict:
    """What a position at `lsn` on `timeline` is to a primary on `current_timeline`, whose
    history (ancestor timeline -> switch point) is `history` (None: unknown)."""
    if timeline >= current_timeline or history is None:
        return Verdict.AS_BEFORE
    switch_point = history.get(timeline)
    if switch_point is None or lsn > switch_point:
        return Verdict.LOST
    return Verdict.AS_BEFORE


def lost_write(primary: str, cluster: ClusterState, known: NodeHealth) -> LostWrite | None:
    """The client's position for `primary` in `cluster`, if a failover lost it, as the
    primary's health `known` says.

    Asks nothing of a position without a timeline, or on the primary's own (the usual
    case). A primary that is down, or of another cluster, has no say. The history is
    read once per cluster and timeline.
    """
    timeline, lsn, system_identifier = cluster.timeline, cluster.min_lsn, cluster.system_identifier
    if timeline is None or lsn is None or system_identifier is None:
        return None
    current = known.timeline
    if not known.up or current is None or known.system_identifier != system_identifier:
        return None
    if timeline >= current:
        return None
    history = timeline_history(primary, system_identifier, current)
    if verdict(lsn, timeline, current, history) is not Verdict.LOST:
        return None
    assert history is not None
    return LostWrite(primary, cluster.wrote_at, lsn, timeline, history.get(timeline), current)


def settle_positions(state: RequestState) -> list[LostWrite]:
    """Drop every position of `state` that a failover lost, and record it; the ones lost.

    A request that means to write asks its primaries afresh, at most twice each: once
    before it writes there, once after. Its write's position would replace the one
    carried, so a cached probe from before the failover (the primary down, or on its
    old timeline) would let a lost write go untold for good; and a primary found down
    before the view (a new leader mid-promotion) is asked again once the view's write
    has reached it (measured in the drills: 5 lost writes of 18 untold without). Every
    other call reads the cached health: a primary that stays down costs a writing
    request two probes, not one per call.
    """
    found = []
    for primary, cluster in list(state.clusters.items()):
        if not names_its_timeline(cluster):
            continue  # nothing to settle, and no probe for it
        asked = (primary, cluster.wrote)
        if state.intends_to_write and asked not in state.settled_afresh:
            state.settled_afresh.add(asked)
            known = probe(primary)
        else:
            known = health(primary)
        lost = lost_write(primary, cluster, known)
        if lost is None:
            continue
        cluster.min_lsn = cluster.wrote_at = cluster.timeline = None
        cluster.system_identifier = None
        state.lost_writes.append(lost)
        found.append(lost)
    return found


def names_its_timeline(cluster: ClusterState) -> bool:
    """Does `cluster` carry a position that names its timeline (so one a failover may
    have lost)?"""
    return cluster.timeline is not None and cluster.min_lsn is not None


def needs_settling(state: RequestState) -> bool:
    """Does `state` carry a position a failover may have lost? No query: decides whether
    settling is worth a thread under ASGI."""
    return any(names_its_timeline(cluster) for cluster in list(state.clusters.values()))


def lost_writes() -> list[LostWrite]:
    """The writes the current request's client carried that the cluster lost in a
    failover, per primary: when each was written, its position, the timeline switch.

    Tell the client once: the positions are dropped from the cookies, the header and
    the member's kept writes when the response leaves, so the next request has none.
    Empty outside a request scope. Settles the request's positions first, so it may
    query each primary (cached probes, and a history read once per timeline).
    """
    state = current_state()
    if state is None:
        return []
    settle_positions(state)
    return list(state.lost_writes)
