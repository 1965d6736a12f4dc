"""The transactional outbox: activity events reach the analytics database exactly once.

The forum and its activity log are two databases, and no transaction spans two
databases: a crash between their two commits would keep one write and lose the other
(lesson 7). So a change and its event are written together, to the forum's database,
in one transaction (`record`); `relay` copies pending events to analytics.Event and
marks them relayed. A relay that dies after its analytics commit and before it marked
the rows sends the same rows again on its next run, and the unique `source_id` keeps
one of each. Events arrive late (after the forum's commit, by one relay), never twice,
never lost.

The forum relays after each commit that recorded an event (`relay_on_commit`); what a
failed relay left behind goes with the next one, or with `manage.py relay_outbox`.
"""

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, router, transaction
from django.utils import timezone

from analytics.models import Event

from .models import OutboxEvent, Post, Thread

logger = logging.getLogger(__name__)
BATCH = 100


def record(kind: str, *, author: AbstractBaseUser, thread: Thread, post: Post) -> OutboxEvent:
    """An event for the change being made: call it inside that change's transaction."""
    return OutboxEvent.objects.create(
        kind=kind,
        username=author.get_username(),
        thread_id=thread.pk,
        post_id=post.pk,
        title=thread.title,
    )


def relay(batch: int = BATCH) -> int:
    """Copy up to `batch` pending events to analytics and mark them relayed; how many.

    The rows are locked for the copy (FOR UPDATE SKIP LOCKED), so relays running at
    once share the work instead of waiting on each other.
    """
    forum = router.db_for_write(OutboxEvent)
    with transaction.atomic(using=forum):
        pending = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(relayed_at__isnull=True)
            .order_by("id")[:batch]
        )
        if not pending:
            return 0
        # Committed on analytics at once: the forum's rows are marked after it.
        Event.objects.bulk_create(
            [
                Event(
                    source_id=row.pk,
                    kind=row.kind,
                    username=row.username,
                    thread_id=row.thread_id,
                    post_id=row.post_id,
                    title=row.title,
                    occurred_at=row.occurred_at,
                )
                for row in pending
            ],
            ignore_conflicts=True,
        )
        OutboxEvent.objects.filter(pk__in=[row.pk for row in pending]).update(
            relayed_at=timezone.now()
        )
    return len(pending)


def relay_all() -> int:
    """Relay until nothing is pending; how many events were relayed."""
    total = 0
    while relayed := relay():
        total += relayed
    return total


def relay_quietly() -> None:
    """relay_all, for after a commit: a failure leaves the events pending, for later."""
    try:
        relay_all()
    except DatabaseError as error:
        logger.warning("activity events stay in the outbox for now: %s", error)


def relay_on_commit() -> None:
    """Relay once the forum's current transaction commits (at once outside one)."""
    transaction.on_commit(relay_quietly, using=router.db_for_write(OutboxEvent))
