"""Lesson 7: a crash between two databases' commits splits a change; the outbox does not.

The outbox relay runs as its own process (`manage.py relay_outbox`) and is killed with
SIGKILL after its analytics commit, before it marked the outbox row.
"""

import pytest

from analytics.models import Event
from forum.lab.lessons.no_cross_database_atomicity import (
    nested,
    on_commit,
    outbox,
    relay_killed_half_way,
)
from forum.models import OutboxEvent, Tag
from forum.outbox import relay_all

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def test_nested_blocks_keep_the_event_of_a_tag_never_committed():
    outcome = nested("lesson7-nested")

    assert outcome.correct is False
    assert outcome.summary.startswith("an event for a tag that was never committed")


def test_on_commit_loses_the_event_when_the_process_dies_after_the_commit():
    outcome = on_commit("lesson7-on-commit")

    assert outcome.correct is False
    assert outcome.summary.startswith("the tag without its event")


def test_the_outbox_keeps_exactly_one_event_through_a_killed_relay():
    outcome = outbox("lesson7-outbox")

    assert outcome.correct is True, outcome.summary
    assert outcome.summary.startswith("the tag and exactly one event")


def test_a_killed_relay_leaves_its_rows_pending_and_the_next_run_adds_no_duplicate():
    Tag.objects.create(name="lesson7-kill")
    row = OutboxEvent.objects.create(kind="lab", title="lesson7-kill")

    assert relay_killed_half_way("lesson7-kill") is True
    assert Event.objects.filter(source_id=row.pk).count() == 1  # committed before the kill
    assert OutboxEvent.objects.get(pk=row.pk).relayed_at is None  # the mark was not

    assert relay_all() >= 1
    assert Event.objects.using("analytics").filter(source_id=row.pk).count() == 1
    assert OutboxEvent.objects.get(pk=row.pk).relayed_at is not None
