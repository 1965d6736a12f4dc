"""Lesson 3: get_or_create looks up on the primary, since it may write."""

from forum.models import Tag
from routers import RequestState, conf, read_alias, replica_aware_get_or_create, request_scope

from ..trace import traced
from ..verdicts import EXTRA_PRIMARY_LOAD, NOT_RUN, REPLICA_READ
from .base import Lesson, Outcome, side_by_side


def get_or_create(strategy: str) -> Outcome:
    """Look up a tag that exists everywhere: which alias answers each way?"""
    tag = Tag.objects.using(conf.primary()).first()
    if tag is None:
        return Outcome(strategy, NOT_RUN, "no tag to look up: run manage.py seed_forum")
    with request_scope(RequestState(strategy=strategy)):
        read_alias(Tag)  # decide the request's alias first: count only the lookup
        with traced() as statements:
            if strategy == "naive":
                Tag.objects.get_or_create(name=tag.name)
            else:
                replica_aware_get_or_create(Tag.objects, name=tag.name)
    trace = tuple(statements)
    if any(statement.alias == conf.primary() for statement in statements):
        return Outcome(
            strategy, EXTRA_PRIMARY_LOAD, "get_or_create looked it up on the primary", trace=trace
        )
    return Outcome(
        strategy, REPLICA_READ, "the helper found it without touching the primary", trace=trace
    )


LESSON = Lesson(
    number=3,
    slug="get-or-create",
    title="get_or_create always hits the primary",
    problem="get_or_create may write, so Django sends even its lookup to the "
    "[primary](../glossary.md#primary).",
    fix="replica_aware_get_or_create looks on a [replica](../glossary.md#replica) first.",
    run=side_by_side(get_or_create),
)
