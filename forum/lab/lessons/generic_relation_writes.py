"""Lesson 4: a GenericRelation's manager sends its writes where reads go (ticket #36389)."""

from django.db import DatabaseError

from forum.models import Post
from routers import RequestState, conf, request_scope

from ..trace import traced
from .base import Lesson, Outcome, side_by_side


def generic_relation_writes(strategy: str) -> Outcome:
    post = Post.objects.using(conf.primary()).first()
    if post is None:
        return Outcome(strategy, False, "no post to try it on: run manage.py seed_forum")
    with traced() as statements, request_scope(RequestState(strategy=strategy)):
        try:
            # Matches no row: a harmless write, but a write all the same.
            post.reactions.filter(kind="no-such-kind").update(kind="like")
            error = None
        except DatabaseError as refused:
            error = refused
    alias, trace = statements[-1].alias, tuple(statements)
    if error is not None:
        return Outcome(strategy, False, f"the update went to {alias}: {error}", trace=trace)
    return Outcome(strategy, True, f"the update went to {alias}", trace=trace)


LESSON = Lesson(
    4,
    "generic-relation-writes",
    "Generic relations: writes routed as reads",
    "A GenericRelation's manager binds its queryset with db_for_read, so update() and "
    "delete() through it go to a replica (Django ticket #36389).",
    "Read models with generic relations from the primary.",
    side_by_side(generic_relation_writes),
)
