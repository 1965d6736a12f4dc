"""The transactional outbox: activity events reach the analytics database exactly once.

The forum and its activity log are two databases, and no transaction spans two
databases: a crash between their two commits would keep one write and lose the other
(lesson 7). So a change and its event are written together, to the forum's database,
in one transaction (`record`); `relay` copies pending events to analytics.Event and
marks them relayed. A relay that dies after an analytics commit and before it marked
the rows sends the same rows again on its next run, and the unique `source_id` keeps
one of each. Events arrive late (after the forum's commit, by one relay), never twice,
never lost.

A request relays its own events once its change commits (`record` arranges it), so the
author finds them on the activity page at once, and then one batch of events that
earlier relays left behind (analytics was down, say). `manage.py relay_outbox` relays
every pending event, for a site that gets no writes for a while after an outage.
"""

import logging
from collections.abc import Sequence
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, transaction
from django.utils import timezone

from analytics.models import Event
from routers import conf, health, mark_write

from .models import OutboxEvent, Post, Thread

logger = logging.getLogger(__name__)
BATCH = 100
# The primaries of the two sides, named without asking a router (which would take the
# question for a write).
FORUM = conf.primary_for(OutboxEvent._meta.app_label)
ANALYTICS = conf.primary_for(Event._meta.app_label)
# A pending event older than this was not relayed by its own request: it is left over.
LEFTOVER_AGE = timedelta(seconds=10)


def record(kind: str, *, author: AbstractBaseUser, thread: Thread, post: Post) -> OutboxEvent:
    """An event for the change being made: call it inside that change's transaction.
    Once the transaction commits, the event is relayed (`relay_own`)."""
    event = OutboxEvent.objects.create(
        kind=kind,
        username=author.get_username(),
        thread_id=thread.pk,
        post_id=post.pk,
        title=thread.title,
    )
    # robust: the change has committed whatever the relay meets, so nothing may turn
    # it into an error page (or skip the callbacks after this one).
    transaction.on_commit(lambda: relay_own([event.pk]), using=FORUM, robust=True)
    return event


def _copy(row: OutboxEvent) -> Event:
    return Event(
        source_id=row.pk,
        kind=row.kind,
        username=row.username,
        thread_id=row.thread_id,
        post_id=row.post_id,
        title=row.title,
        occurred_at=row.occurred_at,
    )


def relay(
    ids: Sequence[int] | None = None, batch: int = BATCH, older_than: timedelta | None = None
) -> int:
    """Copy pending events to analytics and mark them relayed; how many this run copied.

    Without `ids`: up to `batch` of the oldest pending events (`older_than` so old, if
    given), skipping those another relay holds (FOR UPDATE SKIP LOCKED), so relays
    running at once share the work. With `ids`: those events, after any relay that
    holds them; one already relayed is left alone. Each copy is a statement of its own,
    committed at once on analytics (ON CONFLICT DO NOTHING on `source_id`); the forum's
    rows are marked after all of them, so a relay stopped half-way has copied some and
    marked none.
    """
    with transaction.atomic(using=FORUM):
        pending = OutboxEvent.objects.select_for_update(skip_locked=ids is None).filter(
            relayed_at__isnull=True
        )
        if ids is None:
            if older_than is not None:
                pending = pending.filter(occurred_at__lt=timezone.now() - older_than)
            rows = list(pending.order_by("id")[:batch])
        else:
            rows = list(pending.filter(pk__in=ids).order_by("id"))
        for row in rows:
            Event.objects.bulk_create([_copy(row)], ignore_conflicts=True)
        OutboxEvent.objects.filter(pk__in=[row.pk for row in rows]).update(
            relayed_at=timezone.now()
        )
    return len(rows)


def relay_all() -> int:
    """Relay until nothing is pending; how many events were relayed."""
    total = 0
    while relayed := relay():
        total += relayed
    return total


def relay_own(ids: Sequence[int]) -> None:
    """Relay this request's events after its commit; a failure leaves them pending.

    Relayed by this run or by another that held them, they are on analytics now: the
    request counts as having written there, so the author's next page reads analytics
    where those events are (read-your-writes holds per primary).
    """
    if not health(ANALYTICS).up:  # known down: no connection attempt per request
        logger.warning("analytics is down: activity events stay in the outbox for now")
        return
    try:
        relay(ids)
        mark_write(ANALYTICS)
        # One batch of what earlier relays left behind (analytics was down): events
        # too old to be some other request's own, about to be relayed.
        relay(older_than=LEFTOVER_AGE)
    except DatabaseError as error:
        logger.warning("activity events stay in the outbox for now: %s", error)
