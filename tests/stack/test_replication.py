"""Streaming replication itself: rows reach the replicas, after the apply delay."""

import time

import pytest
from django.contrib.auth.models import Group

from tests.helpers import fetch, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def visible_on(alias: str, name: str) -> bool:
    return bool(fetch(alias, "SELECT count(*) FROM auth_group WHERE name = %s", (name,)))


def test_it_shows_a_committed_row_on_every_replica(stack):
    Group.objects.create(name="replicated")

    for alias in ("replica", "replica_2"):
        wait_until(lambda alias=alias: visible_on(alias, "replicated"), what=f"row on {alias}")


def test_it_holds_a_commit_back_for_the_apply_delay(lagging_replicas):
    Group.objects.create(name="held-back")
    committed_at = time.monotonic()

    assert not visible_on("replica", "held-back")
    wait_until(lambda: visible_on("replica", "held-back"), what="the delayed row")
    # recovery_min_apply_delay is 3 s: applying sooner would mean no delay at all.
    assert time.monotonic() - committed_at > 2.0


def test_it_changes_the_apply_delay_live_without_a_restart(stack):
    started = fetch("replica", "SELECT pg_postmaster_start_time()")
    try:
        stack.set_lag("0", "replica")
        Group.objects.create(name="no-delay")
        # The stack's own delay is 1 s: seen well before that, the new one is in force.
        wait_until(lambda: visible_on("replica", "no-delay"), timeout=0.9, what="row with no delay")
        assert fetch("replica", "SELECT pg_postmaster_start_time()") == started
    finally:
        stack.set_lag("1s", "replica")
    assert fetch("replica", "SHOW recovery_min_apply_delay") == "1s"
