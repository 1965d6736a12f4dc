"""Lesson 4: writes through a GenericRelation are routed as reads (Django ticket #36389)."""

import django
import pytest
from django.db import DatabaseError, transaction

from forum.models import Reaction, Tag
from routers import RequestState, generic_models, keeps_writes_on_primary, request_scope
from tests.factories import PostFactory, ReactionFactory

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def reacted_post(stack):
    post = PostFactory()
    ReactionFactory.create_batch(2, target=post, kind="like")
    stack.wait_for_replay()
    return post


def retag_reactions(manager, strategy: str) -> tuple[str, str]:
    """Bulk-update reactions through a post's GenericRelation manager.

    Returns the alias the manager's queryset is bound to (where its reads go), and
    what the update did.
    """
    with request_scope(RequestState(strategy=strategy)):
        alias = manager.all().db
        try:
            manager.update(kind="thanks")
        except DatabaseError as error:
            return alias, f"error: {error}"
    return alias, "updated"


def kinds_on_primary() -> set[str]:
    return set(Reaction.objects.using("default").values_list("kind", flat=True))


def test_it_reads_the_primary_only_for_generic_models_that_could_write_on_a_replica():
    assert keeps_writes_on_primary(Reaction)
    assert not keeps_writes_on_primary(Tag)
    assert generic_models() == frozenset()  # the forum's only one, Reaction, is safe


@pytest.mark.parametrize("strategy", ["naive", "causal"])
def test_it_sends_the_update_to_a_replica_with_djangos_manager(reacted_post, strategy):
    alias, outcome = retag_reactions(reacted_post.reactions(manager="plain"), strategy)

    # Django 6.1 still binds the GenericRelation manager's queryset with db_for_read,
    # and update() keeps that alias. If this starts failing, the installed Django
    # has fixed #36389: update docs/lessons/04-generic-relation-writes.md.
    assert alias.startswith("replica"), django.get_version()
    assert "read-only transaction" in outcome
    assert kinds_on_primary() == {"like"}


@pytest.mark.parametrize("strategy", ["naive", "sticky", "causal"])
def test_it_reads_a_replica_and_updates_the_primary_with_the_fix(reacted_post, strategy):
    alias, outcome = retag_reactions(reacted_post.reactions, strategy)

    assert alias.startswith("replica")  # reads of reactions stay on the replicas
    assert outcome == "updated"
    assert kinds_on_primary() == {"thanks"}


@pytest.mark.parametrize(
    "write",
    [
        lambda post: post.reactions.all().delete(),
        lambda post: list(post.reactions.filter(kind="like").select_for_update()),
        lambda post: post.reactions.all().get_or_create(
            user=post.author,
            kind="insight",
            content_type_id=post.reactions.content_type.pk,
            object_id=post.pk,
        ),
        lambda post: post.reactions.all().bulk_update(list(post.reactions.all()), ["kind"]),
    ],
    ids=["delete", "select_for_update", "get_or_create", "bulk_update"],
)
def test_it_keeps_every_write_through_the_relation_on_the_primary(reacted_post, write):
    with request_scope(RequestState(strategy="causal")), transaction.atomic(using="default"):
        write(reacted_post)  # a replica would refuse it: "read-only transaction"
