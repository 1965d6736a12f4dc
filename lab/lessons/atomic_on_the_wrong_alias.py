"""Lesson 6: `transaction.atomic()` without `using=` wraps the default database only.

One change writes to two databases: a forum row (a tag, on "default") and its activity
event (on "analytics"). Then the change fails. Whatever the atomic block did not wrap
was committed already, statement by statement, in autocommit.
"""

from contextlib import ExitStack, suppress

from django.db import transaction
from django.utils import timezone

from analytics.models import Event
from forum.models import Tag

from ..trace import traced
from ..verdicts import ALL_OR_NOTHING, HALF_DONE
from .base import TWO_DATABASES, Lesson, Outcome, lab_events, lab_tag

DEFAULT_ONLY = "atomic()"
ANALYTICS_ONLY = 'atomic(using="analytics")'
BOTH = 'atomic() and atomic(using="analytics")'


class ChangeFailed(Exception):
    """Stands for whatever fails after both writes: a validation, a third write, a bug."""


def change(name: str, wrapped: list[str | None]) -> None:
    """Write a tag and its event inside atomic blocks on `wrapped`, then fail."""
    with ExitStack() as blocks:
        for alias in wrapped:
            # None: no using=, so "default", whichever models the block writes.
            blocks.enter_context(transaction.atomic(using=alias))
        Tag.objects.create(name=name)
        Event.objects.create(kind="lab", title=name, occurred_at=timezone.now())
        raise ChangeFailed


def run_one(setup: str, wrapped: list[str | None]) -> Outcome:
    with lab_tag() as name, lab_events(name):
        with traced(transactions=True) as statements, suppress(ChangeFailed):
            change(name, wrapped)
        tag_kept = Tag.objects.using("default").filter(name=name).exists()
        event_kept = Event.objects.using("analytics").filter(title=name).exists()
    trace = tuple(statements)
    if tag_kept == event_kept:
        return Outcome(
            setup,
            ALL_OR_NOTHING,
            "both writes rolled back: nothing half-done",
            trace=trace,
            lanes=TWO_DATABASES,
        )
    kept, lost = ("the event", "the tag") if event_kept else ("the tag", "the event")
    summary = f"half-done: {lost} was rolled back, {kept} was committed by itself"
    return Outcome(setup, HALF_DONE, summary, trace=trace, lanes=TWO_DATABASES)


def run() -> list[Outcome]:
    return [
        run_one(DEFAULT_ONLY, [None]),
        run_one(ANALYTICS_ONLY, ["analytics"]),
        run_one(BOTH, [None, "analytics"]),
    ]


LESSON = Lesson(
    number=6,
    slug="atomic-on-the-wrong-alias",
    title="atomic() on the wrong alias",
    problem="transaction.atomic() without using= (an [alias](../glossary.md#alias)) opens a "
    "transaction on the default database only: a write to another database inside it commits at "
    "once, and stays when the block rolls back.",
    fix='Open a block on every database the change writes: atomic(using="analytics") inside '
    "atomic(). A failure inside both rolls both back.",
    run=run,
    compares="Setup",
)
