"""Lesson 7: a crash between two databases' commits splits a change; the outbox does not.

The outbox relay runs as its own process (`manage.py relay_outbox`) and is killed with
SIGKILL after its analytics commit, before it marked the outbox row.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections, transaction

from analytics.models import Event
from forum.models import OutboxEvent
from forum.outbox import relay
from lab.harness import relay_killed_half_way
from lab.lessons.no_cross_database_atomicity import nested, on_commit, outbox
from tests.helpers import wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def test_nested_blocks_keep_the_event_of_a_tag_never_committed():
    outcome = nested("lesson7-nested")

    assert outcome.correct is False
    assert outcome.summary.startswith("an event for a tag that was never committed")


def test_on_commit_loses_the_event_when_the_process_dies_after_the_commit():
    outcome = on_commit("lesson7-on-commit")

    assert outcome.correct is False
    assert outcome.summary.startswith("the tag without its event")


def test_the_outbox_keeps_exactly_one_copy_through_a_killed_relay():
    outcome = outbox("lesson7-outbox")

    assert outcome.correct is True, outcome.summary
    assert outcome.summary.startswith("the tag and each of its 2 events, once")


def test_a_killed_relay_leaves_its_rows_pending_and_the_next_run_adds_no_duplicate():
    first, second = (OutboxEvent.objects.create(kind="lab", title="lesson7-kill").pk for _ in "12")

    assert relay_killed_half_way(first, second) is True
    assert Event.objects.filter(source_id=first).count() == 1  # committed before the kill
    assert not Event.objects.filter(source_id=second).exists()
    assert OutboxEvent.objects.filter(pk__in=[first, second], relayed_at=None).count() == 2

    assert relay([first, second]) == 2
    assert Event.objects.filter(source_id__in=[first, second]).count() == 2
    assert not OutboxEvent.objects.filter(pk__in=[first, second], relayed_at=None).exists()


def test_two_runs_at_once_each_catch_their_own_relay():
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(in_thread(outbox), ["lesson7-first-run", "lesson7-second-run"]))

    assert [run.correct for run in runs] == [True, True], [run.summary for run in runs]


def test_a_run_holds_back_no_other_writer_of_the_outbox():
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(in_thread(outbox), "lesson7-busy")
        wait_until(
            lambda: Event.objects.filter(title="lesson7-busy").exists(), what="the relay's copy"
        )
        with transaction.atomic(using="default"), connections["default"].cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '1s'")
            row = OutboxEvent.objects.create(kind="lab", title="lesson7-meanwhile")
        assert relay([row.pk]) == 1  # a reply's own relay, while the lab holds its rows
        assert run.result().correct is True


def in_thread(function):
    """`function`, closing the worker thread's connections when it is done."""

    def run(*args):
        try:
            return function(*args)
        finally:
            connections.close_all()

    return run
