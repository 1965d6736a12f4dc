"""A client's writes as one signed string, for carriers other than the routing cookies.

The cookies carry a client's writes to its next browser request. Other carriers (a task's
payload, a response header, a per-member cache entry) carry the same facts, per primary,
as a `Write`; `dumps` makes one signed, time-stamped string of them and `loads` reads it
back (a forged, expired or garbled token gives no writes), and `absorb` merges writes into
the state that routes a request, a task or a script.

A token reads "default=1764224000123@16/B374D848@7714484792588521126@2,analytics=…": per
primary, when the write's response or payload was made (Unix ms, on the app server's
clock), then the primary's WAL position after it, the PostgreSQL cluster it is in and
the timeline it is on, when the primary could be asked (a token made before positions
named their timeline has none). Sticky's pin is not a separate value: a write younger
than ROUTERS_STICKY_SECONDS pins.
"""

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.core import signing

from . import conf
from .context import ClusterState, RequestState
from .lsn import format_lsn, parse_lsn
from .positions import Position, primary_position

_SALT = "routers.tokens"
_ENTRY = re.compile(
    r"(?P<primary>[^=,@]+)=(?P<ms>\d{1,15})"
    r"(?:@(?P<lsn>[0-9A-F]{1,8}/[0-9A-F]{1,8})@(?P<cluster>-?\d{1,19})"
    r"(?:@(?P<timeline>[1-9]\d{0,9}))?)?"
)
# A token carries a few primaries, not thousands: longer text is not ours to parse.
_MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True)
class Write:
    """What a client's last write on one primary leaves for its next reads."""

    primary: str
    #: When the write's response (or task payload) was made: time.time().
    at: float
    #: The primary's WAL position after the write; None if it could not be asked.
    position: Position | None

    def pins(self) -> bool:
        """Does sticky still send this client's reads of the primary to it?"""
        return time.time() - self.at < conf.sticky_seconds()


def writes_made(state: RequestState) -> list[Write]:
    """The writes `state` made, each with its primary's position now (one query per
    primary written): call it after they committed."""
    now = time.time()
    return [Write(primary, now, primary_position(primary)) for primary in state.primaries_written()]


def writes_known(state: RequestState, made: list[Write] | None = None) -> list[Write]:
    """Every write `state` knows of: those it made (`made`, when the caller already
    asked `writes_made`; else positions asked now), and, for the other primaries, the
    ones it was handed (a cookie, a token); not a cookie of an older copy of this
    package, which lacks the write's time or its cluster."""
    if made is None:
        made = writes_made(state)
    written = {write.primary for write in made}
    carried = [
        Write(
            primary,
            cluster.wrote_at,
            Position(cluster.min_lsn, cluster.system_identifier, cluster.timeline),
        )
        for primary, cluster in list(state.clusters.items())
        if primary not in written
        and cluster.min_lsn is not None
        and cluster.wrote_at is not None
        and cluster.system_identifier is not None
    ]
    return made + carried


def dumps(writes: Iterable[Write]) -> str:
    """`writes` as one signed, time-stamped token."""
    entries = []
    for write in writes:
        entry = f"{write.primary}={int(write.at * 1000)}"
        if write.position is not None:
            entry += f"@{format_lsn(write.position.lsn)}@{write.position.system_identifier}"
            if write.position.timeline is not None:
                entry += f"@{write.position.timeline}"
        entries.append(entry)
    return signing.TimestampSigner(salt=_SALT).sign(",".join(entries))


def loads(token: str) -> list[Write]:
    """The writes in `token`, for the primaries the routers know; none for a token that
    is forged, older than the routing cookies live, or not one at all."""
    if len(token) > _MAX_TOKEN_LENGTH:
        return []
    try:
        text = signing.TimestampSigner(salt=_SALT).unsign(token, max_age=conf.LSN_COOKIE_SECONDS)
    except signing.BadSignature:  # SignatureExpired too
        return []
    writes = []
    primaries = conf.primaries()
    for entry in text.split(","):
        match = _ENTRY.fullmatch(entry)
        if match is None or match["primary"] not in primaries:
            continue
        position = None
        if match["lsn"] is not None:
            timeline = int(match["timeline"]) if match["timeline"] else None
            position = Position(parse_lsn(match["lsn"]), int(match["cluster"]), timeline)
        writes.append(Write(match["primary"], int(match["ms"]) / 1000, position))
    return writes


def absorb(state: RequestState, writes: Iterable[Write]) -> None:
    """Route `state` as if its client had also brought `writes`: each pins while young,
    and its position is one the client's reads must see, as the cookies' are.

    Of two positions of one primary, the later one in the same cluster stands (on a
    later timeline, if both name theirs: see `later_position`); from two clusters, the
    more recent write's.
    """
    for write in writes:
        cluster = state.cluster(write.primary)
        cluster.pinned = cluster.pinned or write.pins()
        if write.position is not None:
            _absorb_position(cluster, write)


def _absorb_position(cluster: ClusterState, write: Write) -> None:
    position = write.position
    assert position is not None
    if cluster.min_lsn is not None and cluster.system_identifier in (
        None,  # a cookie of an older copy, which named no cluster
        position.system_identifier,
    ):
        held = Position(cluster.min_lsn, position.system_identifier, cluster.timeline)
        position = later_position(held, position)
        cluster.wrote_at = max(cluster.wrote_at or write.at, write.at)
    elif cluster.min_lsn is None or cluster.wrote_at is None or write.at > cluster.wrote_at:
        cluster.wrote_at = write.at
    else:
        return
    cluster.min_lsn = position.lsn
    cluster.system_identifier = position.system_identifier
    cluster.timeline = position.timeline


def later_position(one: Position, other: Position) -> Position:
    """Of two positions of one cluster, the one a client that made both writes must see.

    On two timelines (both named), the later timeline's: it continues the history its
    ancestor kept, so it covers every write of the older one that survived the
    failover, whatever the two LSNs say (a lost write on the old timeline may be past
    the new one's position). Otherwise the further position.
    """
    if one.timeline is not None and other.timeline is not None and one.timeline != other.timeline:
        return one if one.timeline > other.timeline else other
    return one if one.lsn >= other.lsn else other
