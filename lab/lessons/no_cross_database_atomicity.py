"""Lesson 7: no transaction spans two databases, so a crash between two commits splits a
change in half.

Each setup writes a forum row (a tag, on "default") and its activity event (on
"analytics"), and meets a crash at its weakest point:
- two atomic blocks, nested: the inner one (analytics) commits first, and the process
  dies before the outer one commits;
- `transaction.on_commit`: the event is written after the forum's commit, and the
  process dies in between (here, an earlier callback fails: the ones after it never run,
  as after a crash);
- the outbox (forum/outbox.py): the events are forum rows, committed with the tag; the
  relay copying them to analytics is killed (SIGKILL) after its first analytics commit,
  before it marked any row relayed, then run again.
"""

from contextlib import suppress

from django.db import transaction
from django.utils import timezone

from analytics.models import Event
from forum.models import OutboxEvent, Tag
from forum.outbox import relay

from ..harness import relay_killed_half_way
from ..trace import Statement, traced
from ..verdicts import ALL_OR_NOTHING, HALF_DONE, NOT_RUN
from .base import TWO_DATABASES, Lesson, Outcome, lab_events, lab_tag

NESTED = "atomic() around atomic(using=…)"
ON_COMMIT = "transaction.on_commit"
OUTBOX = "outbox + relay, killed half-way"


class Crash(Exception):
    """Stands for the process dying at this point."""


def kept(name: str) -> tuple[bool, int]:
    """Is the tag on the forum's primary, and how many events has analytics?"""
    tag = Tag.objects.using("default").filter(name=name).exists()
    return tag, Event.objects.using("analytics").filter(title=name).count()


def judged(
    setup: str, name: str, trace: tuple[Statement, ...], cost: str, events: int = 1
) -> Outcome:
    """Right when the tag and each of its `events` are on their databases once, or none."""
    tag, found = kept(name)
    if tag and found == events:
        each = "its event" if events == 1 else f"each of its {events} events"
        return Outcome(
            setup,
            ALL_OR_NOTHING,
            f"the tag and {each}, once; {cost}",
            trace=trace,
            lanes=TWO_DATABASES,
        )
    if not tag and found == 0:
        return Outcome(
            setup,
            ALL_OR_NOTHING,
            f"neither the tag nor the event; {cost}",
            trace=trace,
            lanes=TWO_DATABASES,
        )
    if tag:
        state = "the tag without its event" if not found else f"the tag and {found} events"
    else:
        state = "an event for a tag that was never committed"
    return Outcome(setup, HALF_DONE, f"{state}; {cost}", trace=trace, lanes=TWO_DATABASES)


def nested(name: str) -> Outcome:
    with lab_events(name):
        with (
            traced(transactions=True) as statements,
            suppress(Crash),
            transaction.atomic(using="default"),
        ):
            Tag.objects.create(name=name)
            with transaction.atomic(using="analytics"):
                Event.objects.create(kind="lab", title=name, occurred_at=timezone.now())
            raise Crash  # analytics has committed; default has not
        return judged(NESTED, name, tuple(statements), "the inner block committed first")


def on_commit(name: str) -> Outcome:
    def record_event() -> None:
        Event.objects.create(kind="lab", title=name, occurred_at=timezone.now())

    def crash() -> None:
        raise Crash

    with lab_events(name):
        with (
            traced(transactions=True) as statements,
            suppress(Crash),
            transaction.atomic(using="default"),
        ):
            Tag.objects.create(name=name)
            transaction.on_commit(crash, using="default")
            transaction.on_commit(record_event, using="default")
        cost = "never an event without its tag, but nothing retries a callback that never ran"
        return judged(ON_COMMIT, name, tuple(statements), cost)


def outbox(name: str) -> Outcome:
    with lab_events(name):
        with traced(transactions=True) as written, transaction.atomic(using="default"):
            Tag.objects.create(name=name)
            ids = [OutboxEvent.objects.create(kind="lab", title=name).pk for _ in range(2)]
        half_way = relay_killed_half_way(*ids)
        with traced(transactions=True) as relayed_again:
            relay(ids)  # the relay's next run sends the first row again
        relayed = (
            not OutboxEvent.objects.using("default").filter(pk__in=ids, relayed_at=None).exists()
        )
        # The story: the tag and its outbox rows, then the second run (the killed one
        # ran in a process of its own).
        trace = (*written, *relayed_again)
        if not half_way or not relayed:
            return Outcome(
                OUTBOX,
                NOT_RUN,
                "the relay could not be caught half-way",
                trace=trace,
                lanes=TWO_DATABASES,
            )
        cost = "the relay sent the first event twice and analytics kept one"
        return judged(OUTBOX, name, trace, cost, events=2)


def run() -> list[Outcome]:
    with lab_tag() as first, lab_tag() as second, lab_tag() as third:
        return [nested(first), on_commit(second), outbox(third)]


LESSON = Lesson(
    number=7,
    slug="no-cross-database-atomicity",
    title="No atomicity across databases",
    problem="Two databases commit one after the other: a crash in between keeps one write and "
    "loses the other, however the atomic blocks are nested.",
    fix="Write the event to the same database as the change (an outbox row, one transaction), and "
    "relay it to the other database idempotently; on_commit only orders the writes.",
    run=run,
    compares="Setup",
)
