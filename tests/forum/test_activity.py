"""The activity page: events from the analytics database, filled through the outbox.

A reply writes its post and an outbox row in one transaction on the forum's primary;
the relay copies the row to analytics after the commit, in the same request. The
replicas of both databases hold every commit back for 3 s.
"""

import io
import logging

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics.models import Event
from forum.models import OutboxEvent, Post
from forum.outbox import LEFTOVER_AGE, relay, relay_own
from routers import RequestState, request_scope
from tests.factories import UserFactory
from tests.helpers import replicated_thread, unreachable

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def thread(client, lagging_replicas):
    client.force_login(UserFactory(username="relayer"))
    return replicated_thread("Outbox or on_commit?")


def test_a_reply_records_one_event_and_the_activity_page_shows_it_at_once(client, settings, thread):
    settings.ROUTERS_STRATEGY = "causal"

    written = client.post(f"/t/{thread.pk}/reply", {"body": "Relayed in the request"})
    page = client.get("/activity/")

    post = Post.objects.using("default").get(body="Relayed in the request")
    event = Event.objects.using("analytics").get(post_id=post.pk)
    assert (event.kind, event.username, event.title) == ("post", "relayer", thread.title)
    assert OutboxEvent.objects.using("default").get(pk=event.source_id).relayed_at is not None
    # The relay wrote on analytics: its cookies carry that write, and the page (whose
    # replicas are 3 s behind) reads analytics from its primary.
    assert "routers_lsn_analytics" in written.cookies
    assert f'href="/p/{post.pk}/"' in page.content.decode()
    assert 'data-alias="analytics"' in page.content.decode()


def test_the_activity_page_misses_the_reply_under_naive(client, settings, thread):
    settings.ROUTERS_STRATEGY = "naive"

    client.post(f"/t/{thread.pk}/reply", {"body": "Not there yet"})
    page = client.get("/activity/").content.decode()

    post = Post.objects.using("default").get(body="Not there yet")
    assert f'href="/p/{post.pk}/"' not in page


def test_a_reply_saves_while_analytics_is_down_and_its_event_follows_later(client, thread, caplog):
    with unreachable("analytics"), caplog.at_level(logging.WARNING, logger="forum.outbox"):
        response = client.post(f"/t/{thread.pk}/reply", {"body": "Analytics was down"})

    post = Post.objects.using("default").get(body="Analytics was down")
    assert response.status_code == 302
    assert OutboxEvent.objects.filter(post_id=post.pk, relayed_at=None).exists()
    assert "stay in the outbox" in caplog.text

    output = io.StringIO()  # analytics is back up
    call_command("relay_outbox", stdout=output)

    assert output.getvalue().strip() == "relayed 1 event"
    assert Event.objects.using("analytics").filter(post_id=post.pk).count() == 1
    assert not OutboxEvent.objects.filter(post_id=post.pk, relayed_at=None).exists()


def test_a_reply_whose_event_another_relay_took_still_reads_analytics_where_it_is():
    row = OutboxEvent.objects.create(kind="post", title="taken by the cron relay")
    relay()  # another relay got there first

    with request_scope(RequestState()) as state:
        relay_own([row.pk])

    assert state.cluster("analytics").wrote  # so the response carries analytics' position
    assert Event.objects.using("analytics").filter(source_id=row.pk).count() == 1


def test_a_reply_also_relays_what_earlier_relays_left_behind(client, thread):
    left_over = OutboxEvent.objects.create(kind="post", title="left while analytics was down")
    recent = OutboxEvent.objects.create(kind="post", title="another request's own")
    OutboxEvent.objects.filter(pk=left_over.pk).update(occurred_at=timezone.now() - LEFTOVER_AGE)

    client.post(f"/t/{thread.pk}/reply", {"body": "Sweeping up"})

    relayed = set(Event.objects.using("analytics").values_list("source_id", flat=True))
    assert left_over.pk in relayed
    assert recent.pk not in relayed  # its own request is about to relay it
