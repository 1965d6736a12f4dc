"""Lesson 3: get_or_create always runs on the primary; the replica-first helper and its caveat."""

import pytest
from django.contrib.auth.models import Group
from django.db import connections
from django.test.utils import CaptureQueriesContext

from routers import RequestState, read_alias, replica_aware_get_or_create, request_scope

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def queries_per_alias(action):
    """Run `action` in one request, counting its statements on each alias.

    The routing decision (health and lag probes) is made first, once per request,
    so only the lookup itself is counted.
    """
    read_alias(Group)
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections["replica"]) as replica,
        CaptureQueriesContext(connections["replica_2"]) as replica_2,
    ):
        result = action()
    return result, {
        "default": len(primary),
        "replicas": len(replica) + len(replica_2),
    }


def test_it_sends_get_or_create_of_an_existing_row_to_the_primary(stack):
    Group.objects.create(name="existing")
    stack.wait_for_replay()

    with request_scope(RequestState(strategy="causal")):
        (_, created), counts = queries_per_alias(
            lambda: Group.objects.get_or_create(name="existing")
        )

    assert not created
    assert counts == {"default": 1, "replicas": 0}


def test_it_finds_an_existing_row_on_a_replica_with_the_helper(stack):
    Group.objects.create(name="existing")
    stack.wait_for_replay()

    with request_scope(RequestState(strategy="causal")):
        (group, created), counts = queries_per_alias(
            lambda: replica_aware_get_or_create(Group.objects, name="existing")
        )

    assert not created
    assert group.name == "existing"
    assert counts == {"default": 0, "replicas": 1}


def test_it_falls_back_to_the_primary_without_a_duplicate_while_the_replica_lags(
    lagging_replicas,
):
    original = Group.objects.create(name="fresh")

    with request_scope(RequestState(strategy="causal")):
        (group, created), counts = queries_per_alias(
            lambda: replica_aware_get_or_create(Group.objects, name="fresh")
        )

    # Missing on the replica, found on the primary: no second row, no IntegrityError.
    assert not created
    assert group.pk == original.pk
    assert counts["replicas"] == 1
    assert counts["default"] == 1
    assert Group.objects.filter(name="fresh").count() == 1
