"""Lesson 9: choosing a replica per query mixes two points in time on one page.

The run needs two nodes at different points in time, and makes them: it holds one
replica back (see `replica_held_back`), commits a tag, and waits for the other
replicas to replay it. With a single replica, a per-query choice has nothing to mix,
so naive's row picks per query between that replica and the primary, as a router
that counts the primary among its read nodes does.
"""

import itertools
from collections.abc import Callable

from django.db.models import QuerySet

from forum.models import Tag
from routers import RequestState, conf, primary_lsn, replayed, request_scope

from ..cluster import ControlError
from ..harness import replica_held_back
from ..trace import traced
from ..verdicts import COHERENT, MIXED
from .base import Lesson, Outcome, lab_tag, not_run_side_by_side, side_by_side

# How long the run waits at most for each other replica to replay its tag.
REPLAY_TIMEOUT = 35.0
PAGES = 3


def per_query_node(strategy: str) -> Callable[[], str | None]:
    """Where each query goes: None lets the routers choose; with one replica, naive's
    queries take turns between it and the primary."""
    if strategy == "naive" and len(conf.replicas()) == 1:
        turns = itertools.cycle([conf.replicas()[0], conf.primary()])
        return lambda: next(turns)
    return lambda: None


def replica_per_query(strategy: str, name: str) -> Outcome:
    """A page that counts the tag `name` and then lists it, three times over: which
    nodes answered, and did the count and the list agree?"""
    node = per_query_node(strategy)

    def tags() -> QuerySet[Tag]:
        alias = node()
        found = Tag.objects.filter(name=name)
        return found.using(alias) if alias else found

    pages = []
    with traced() as statements, request_scope(RequestState(strategy=strategy)):
        for _ in range(PAGES):
            count = tags().count()
            counted_on = statements[-1].alias
            listed = len(tags().values_list("name", flat=True))
            pages.append((count, counted_on, listed, statements[-1].alias))
    trace = tuple(statements)
    aliases = sorted({statement.alias for statement in statements})
    if len(aliases) > 1:
        count, counted_on, listed, listed_on = next(
            (page for page in pages if page[0] != page[2]), pages[0]
        )
        summary = (
            f"one page read {', '.join(aliases)}: it counted {count} on {counted_on} and "
            f"listed {listed} row{'s' * (listed != 1)} from {listed_on}"
        )
        return Outcome(strategy, MIXED, summary, trace=trace)
    count = pages[0][0]
    when = "with the new tag" if count else "all without the new tag: one point in time, an old one"
    summary = f"every query of the page read {aliases[0]}, {when}"
    return Outcome(strategy, COHERENT, summary, trace=trace)


def run() -> list[Outcome]:
    if not conf.replicas():
        why = "no replica is configured: there is nothing to choose among"
        return not_run_side_by_side(why)
    try:
        with lab_tag() as name, replica_held_back() as held_back:
            Tag.objects.create(name=name)
            position = primary_lsn()
            # The others get ahead of the one held back: two points in time. (None held
            # back: the replicas lag alike, and the primary is ahead of them all.)
            for alias in conf.replicas():
                if held_back is not None and alias != held_back and position is not None:
                    replayed(alias, position, REPLAY_TIMEOUT)
            return side_by_side(lambda strategy: replica_per_query(strategy, name))()
    except ControlError as error:
        why = f"could not pause a replica: {error}"
        return not_run_side_by_side(why)


LESSON = Lesson(
    number=9,
    slug="replica-per-query",
    title="A replica per query",
    problem="With several [replicas](../glossary.md#replica) at different "
    "[lag](../glossary.md#lag), choosing one per query mixes two points in time on one page.",
    fix="Choose the replica once per request.",
    run=run,
    before_run="Run it pauses one replica's replay, commits a tag, and lets the other nodes "
    "replay it, so that two nodes hold two points in time; then it resumes replay. With one "
    "replica, naive's row picks per query between it and the primary.",
)
