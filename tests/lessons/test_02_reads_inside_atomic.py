"""Lesson 2: a read inside atomic() cannot see the block's own writes on a replica."""

import pytest
from django.contrib.auth.models import Group
from django.db import transaction

from routers import RequestState, request_scope

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def read_back_inside_atomic(strategy: str) -> bool:
    """Create a row inside atomic() and look it up again before the block ends."""
    with request_scope(RequestState(strategy=strategy)), transaction.atomic():
        group = Group.objects.create(name=f"atomic-{strategy}")
        found = Group.objects.filter(pk=group.pk).exists()
        transaction.set_rollback(True)
    return found


def test_it_misses_its_own_write_under_naive_and_sees_it_with_the_safeguard():
    # Uncommitted rows exist only in the primary's transaction: a replica never has them.
    assert read_back_inside_atomic("naive") is False
    assert read_back_inside_atomic("causal") is True
    assert read_back_inside_atomic("sticky") is True
