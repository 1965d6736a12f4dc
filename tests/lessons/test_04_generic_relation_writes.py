"""Lesson 4: writes through a GenericRelation are routed as reads (Django ticket #36389)."""

import django
import pytest
from django.db import DatabaseError

from forum.models import Reaction
from routers import RequestState, generic_models, request_scope
from tests.factories import PostFactory, ReactionFactory

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def reacted_post(stack):
    post = PostFactory()
    ReactionFactory.create_batch(2, target=post, kind="like")
    stack.wait_for_replay()
    return post


def retag_reactions(post, strategy: str) -> tuple[str, str]:
    """Bulk-update a post's reactions through its GenericRelation manager.

    Returns the alias the manager's queryset is bound to, and what happened.
    """
    with request_scope(RequestState(strategy=strategy)):
        alias = post.reactions.all().db
        try:
            post.reactions.update(kind="thanks")
        except DatabaseError as error:
            return alias, f"error: {error}"
    return alias, "updated"


def test_it_knows_which_models_have_generic_relations():
    assert Reaction in generic_models()


def test_it_sends_the_update_to_a_replica_under_naive_and_to_the_primary_with_the_fix(
    reacted_post,
):
    naive_alias, naive_outcome = retag_reactions(reacted_post, "naive")
    # Django 6.1 still binds the GenericRelation manager's queryset with db_for_read,
    # and update() keeps that alias. If this starts failing, the installed Django
    # has fixed #36389: update docs/lessons/04-generic-relation-writes.md.
    assert naive_alias.startswith("replica"), django.get_version()
    assert "read-only transaction" in naive_outcome
    assert set(Reaction.objects.using("default").values_list("kind", flat=True)) == {"like"}

    fixed_alias, fixed_outcome = retag_reactions(reacted_post, "causal")
    assert (fixed_alias, fixed_outcome) == ("default", "updated")
    assert set(Reaction.objects.using("default").values_list("kind", flat=True)) == {"thanks"}


def test_it_deletes_through_the_generic_relation_on_the_primary_with_the_fix(reacted_post):
    with request_scope(RequestState(strategy="causal")):
        deleted, _ = reacted_post.reactions.all().delete()

    assert deleted == 2
    assert not Reaction.objects.using("default").exists()
