"""Lesson 2: inside a transaction, a read sent to a replica misses the transaction's writes."""

from django.db import transaction

from forum.models import Tag
from routers import RequestState, conf, request_scope

from ..trace import traced
from ..verdicts import FRESH, STALE
from .base import Lesson, Outcome, lab_tag, side_by_side


def reads_inside_atomic(strategy: str) -> Outcome:
    """Write, then read it back, inside one atomic block on the primary."""
    with (
        lab_tag() as name,
        request_scope(RequestState(strategy=strategy)),
        transaction.atomic(using=conf.primary()),
    ):
        with traced() as statements:
            Tag.objects.create(name=name)
            found = Tag.objects.filter(name=name).exists()
        transaction.set_rollback(True, using=conf.primary())
    alias, trace = statements[-1].alias, tuple(statements)
    if found:
        return Outcome(strategy, FRESH, f"read back inside the block, on {alias}", trace=trace)
    return Outcome(strategy, STALE, f"missed its own write: {alias} cannot see it", trace=trace)


LESSON = Lesson(
    number=2,
    slug="reads-inside-atomic",
    title="Reads inside atomic()",
    problem="Inside a transaction, a read sent to a [replica](../glossary.md#replica) cannot see "
    "the transaction's own, uncommitted writes.",
    fix="While the [primary](../glossary.md#primary) has a transaction open, read from the "
    "primary.",
    run=side_by_side(reads_inside_atomic),
)
