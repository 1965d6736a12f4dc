"""Lesson 9: choosing a replica per query mixes two points in time on one page."""

from forum.models import Tag
from routers import RequestState, request_scope

from ..trace import traced
from .base import Lesson, Outcome, side_by_side


def replica_per_query(strategy: str) -> Outcome:
    """Six reads of one page: how many nodes answered them?"""
    with traced() as statements, request_scope(RequestState(strategy=strategy)):
        for _ in range(6):
            Tag.objects.exists()
    aliases = sorted({statement.alias for statement in statements})
    if len(aliases) > 1:
        return Outcome(
            strategy, False, f"one page read {', '.join(aliases)}", trace=tuple(statements)
        )
    return Outcome(
        strategy, True, f"every query of the page read {aliases[0]}", trace=tuple(statements)
    )


LESSON = Lesson(
    number=9,
    slug="replica-per-query",
    title="A replica per query",
    problem="With several replicas at different lag, choosing one per query mixes two points in "
    "time on one page. Needs two replicas: make demo REPLICAS=2.",
    fix="Choose the replica once per request.",
    run=side_by_side(replica_per_query),
)
