"""Lesson 7: no transaction spans two databases, so a crash between two commits splits a
change in half.

Each setup writes a forum row (a tag, on "default") and its activity event (on
"analytics"), and meets a crash at its weakest point:
- two atomic blocks, nested: the inner one (analytics) commits first, and the process
  dies before the outer one commits;
- `transaction.on_commit`: the event is written after the forum's commit, and the
  process dies in between (here, an earlier callback fails: the ones after it never run,
  as after a crash);
- the outbox (forum/outbox.py): the event is a forum row, committed with the tag; the
  relay copying it to analytics is killed (SIGKILL) after its analytics commit and
  before it marked the row relayed, then run again.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from analytics.models import Event
from forum.models import OutboxEvent, Tag
from forum.outbox import relay_all

from ..trace import Statement, traced
from .base import Lesson, Outcome, lab_tag

NESTED = "atomic() around atomic(using=…)"
ON_COMMIT = "transaction.on_commit"
OUTBOX = "outbox + relay, killed half-way"
# The relay's connections, so the lab can find (and end) them on the server.
RELAY_APPLICATION = "forum-outbox-relay-lab"
RELAY_TIMEOUT = 30.0


class Crash(Exception):
    """Stands for the process dying at this point."""


@contextmanager
def lab_rows(name: str) -> Iterator[None]:
    """Delete the run's event and outbox rows afterwards, whatever happened."""
    try:
        yield
    finally:
        Event.objects.using("analytics").filter(title=name).delete()
        OutboxEvent.objects.using("default").filter(title=name).delete()


def kept(name: str) -> tuple[bool, int]:
    """Is the tag on the forum's primary, and how many events has analytics?"""
    tag = Tag.objects.using("default").filter(name=name).exists()
    return tag, Event.objects.using("analytics").filter(title=name).count()


def judged(setup: str, name: str, trace: tuple[Statement, ...], cost: str) -> Outcome:
    tag, events = kept(name)
    if tag and events == 1:
        return Outcome(setup, True, f"the tag and exactly one event; {cost}", trace=trace)
    if not tag and events == 0:
        return Outcome(setup, True, f"neither the tag nor the event; {cost}", trace=trace)
    if tag:
        state = "the tag without its event" if not events else f"the tag and {events} events"
    else:
        state = "an event for a tag that was never committed"
    return Outcome(setup, False, f"{state}; {cost}", trace=trace)


def nested(name: str) -> Outcome:
    with lab_rows(name), traced() as statements:
        try:
            with transaction.atomic(using="default"):
                Tag.objects.create(name=name)
                with transaction.atomic(using="analytics"):
                    Event.objects.create(kind="lab", title=name, occurred_at=timezone.now())
                raise Crash  # analytics has committed; default has not
        except Crash:
            pass
        return judged(NESTED, name, tuple(statements), "the inner block committed first")


def on_commit(name: str) -> Outcome:
    def record_event() -> None:
        Event.objects.create(kind="lab", title=name, occurred_at=timezone.now())

    def crash() -> None:
        raise Crash

    with lab_rows(name), traced() as statements:
        try:
            with transaction.atomic(using="default"):
                Tag.objects.create(name=name)
                transaction.on_commit(crash, using="default")
                transaction.on_commit(record_event, using="default")
        except Crash:
            pass
        cost = "never an event without its tag, but nothing retries a callback that never ran"
        return judged(ON_COMMIT, name, tuple(statements), cost)


def relay_process() -> subprocess.Popen[bytes]:
    """`manage.py relay_outbox`, in a process of its own, as a deployment would run it."""
    env = {**os.environ, "PGAPPNAME": RELAY_APPLICATION}
    return subprocess.Popen(
        [sys.executable, "manage.py", "relay_outbox"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def primary_connection() -> psycopg.Connection:
    return psycopg.connect(**connections["default"].get_connection_params())


def relay_killed_half_way(name: str) -> bool:
    """Run the relay with the outbox table locked against its UPDATE: it copies the
    pending rows to analytics, commits there, and waits to mark them. Kill it then.
    Whether it was caught half-way (the event in analytics, the row still pending)."""
    with primary_connection() as lock:
        lock.execute("LOCK TABLE forum_outboxevent IN SHARE MODE")
        relay = relay_process()
        deadline = time.monotonic() + RELAY_TIMEOUT
        try:
            while not Event.objects.using("analytics").filter(title=name).exists():
                if relay.poll() is not None or time.monotonic() > deadline:
                    return False
                time.sleep(0.05)
        finally:
            relay.send_signal(signal.SIGKILL)
            relay.wait()
            # The killed process's server session still waits for the lock: end it, so
            # its open transaction (the UPDATE it never committed) is rolled back.
            lock.execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
                " WHERE application_name = %s",
                [RELAY_APPLICATION],
            )
        lock.rollback()
    return OutboxEvent.objects.using("default").filter(title=name, relayed_at=None).exists()


def outbox(name: str) -> Outcome:
    with lab_rows(name), traced() as statements:
        with transaction.atomic(using="default"):
            Tag.objects.create(name=name)
            OutboxEvent.objects.create(kind="lab", title=name)
        half_way = relay_killed_half_way(name)
        relay_all()  # the relay's next run sends the same row again
        relayed = (
            not OutboxEvent.objects.using("default").filter(title=name, relayed_at=None).exists()
        )
        # The story: the tag and its outbox row, then the second run's copy and mark.
        trace = tuple(s for s in statements if s.verb in ("INSERT", "UPDATE"))
        if not half_way or not relayed:
            return Outcome(OUTBOX, False, "the relay could not be caught half-way", trace=trace)
        cost = "the relay sent it twice and analytics kept one; the event lands a relay later"
        return judged(OUTBOX, name, trace, cost)


def run() -> list[Outcome]:
    with lab_tag() as first, lab_tag() as second, lab_tag() as third:
        return [nested(first), on_commit(second), outbox(third)]


LESSON = Lesson(
    7,
    "no-cross-database-atomicity",
    "No atomicity across databases",
    "Two databases commit one after the other: a crash in between keeps one write and "
    "loses the other, however the atomic blocks are nested.",
    "Write the event to the same database as the change (an outbox row, one "
    "transaction), and relay it to the other database idempotently; on_commit only "
    "orders the writes.",
    run,
    compares="Setup",
)
