"""Lesson 4: a GenericRelation's manager sends its writes where reads go (ticket #36389)."""

from django.db import DatabaseError

from forum.models import Post
from routers import RequestState, conf, request_scope

from ..trace import traced
from ..verdicts import ERROR, NO_ERROR, NOT_RUN
from .base import Lesson, Outcome, side_by_side


def generic_relation_writes(strategy: str) -> Outcome:
    """Read a post's reactions, then bulk-update them, through its GenericRelation manager.

    naive uses Django's plain manager; sticky and causal the model's default one, a
    WritesOnPrimaryQuerySet.
    """
    post = Post.objects.using(conf.primary()).first()
    if post is None:
        return Outcome(strategy, NOT_RUN, "no post to try it on: run manage.py seed_forum")
    manager = post.reactions(manager="plain") if strategy == "naive" else post.reactions
    with traced() as statements, request_scope(RequestState(strategy=strategy)):
        list(manager.all())
        try:
            # Matches no row: a harmless write, but a write all the same.
            manager.filter(kind="no-such-kind").update(kind="like")
            error = None
        except DatabaseError as refused:
            error = refused
    trace = tuple(statements)
    read, wrote = statements[0].alias, statements[-1].alias
    if error is not None:
        return Outcome(strategy, ERROR, f"the update went to {wrote}: {error}", trace=trace)
    return Outcome(strategy, NO_ERROR, f"read on {read}, the update went to {wrote}", trace=trace)


LESSON = Lesson(
    number=4,
    slug="generic-relation-writes",
    title="Generic relations: writes routed as reads",
    problem="A GenericRelation's manager binds its queryset with db_for_read, so update() and "
    ".all().delete() through it go to a [replica](../glossary.md#replica) (Django ticket "
    "#36389); the manager's own create(), add() and set() ask db_for_write.",
    fix="A WritesOnPrimaryQuerySet as the model's default manager sends those writes to the "
    "primary, and its reads can still use a replica.",
    run=side_by_side(generic_relation_writes),
)
