"""Lesson 6: atomic() without using= leaves the analytics write committed; both blocks
roll both back."""

import pytest

from lab.lessons.atomic_on_the_wrong_alias import ANALYTICS_ONLY, BOTH, DEFAULT_ONLY, run_one

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def test_atomic_alone_rolls_back_the_tag_and_keeps_the_event():
    outcome = run_one(DEFAULT_ONLY, [None])

    assert outcome.correct is False
    assert "the tag was rolled back, the event was committed" in outcome.summary
    assert [(s.verb, s.alias) for s in outcome.trace] == [
        ("INSERT", "default"),
        ("INSERT", "analytics"),
        ("COMMIT", "analytics"),  # in autocommit: no block wraps it
        ("ROLLBACK", "default"),
    ]


def test_a_block_on_analytics_alone_keeps_the_tag():
    outcome = run_one(ANALYTICS_ONLY, ["analytics"])

    assert outcome.correct is False
    assert "the event was rolled back, the tag was committed" in outcome.summary


def test_a_block_on_each_database_rolls_both_back():
    outcome = run_one(BOTH, [None, "analytics"])

    assert outcome.correct is True
    assert outcome.summary.startswith("both writes rolled back")
    assert [s.verb for s in outcome.trace].count("ROLLBACK") == 2
