"""Right after the primary comes back, a write is read back at once.

Each process caches node health for ROUTERS_HEALTH_TTL seconds, so a "primary down"
cached just before a restart outlives it. A write that then succeeds on the primary
proves it is up: the client's next read must not be sent to a lagging replica.
"""

import pytest
from django.http import HttpResponse

from forum.models import Tag
from routers import conf, read_alias, request_scope
from routers.probes import mark_down
from tests.helpers import own_ports_restored

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]


def test_a_write_refreshes_a_stale_primary_down(client, settings, lagging_replicas, tag_name):
    settings.ROUTERS_HEALTH_TTL = 60
    mark_down(conf.primary())  # cached while the primary was restarting

    assert client.post(f"/create/{tag_name}").status_code == 200
    response = client.get(f"/tag/{tag_name}")

    assert response.status_code == 200
    assert response.content.decode() == conf.primary()


def test_it_ignores_a_position_the_primary_has_not_reached(client, settings, tag_name):
    """A genuine cookie from another cluster (restored from a backup, or replaced): its
    position means nothing here, and must not send the client's reads to the primary."""
    settings.ROUTERS_CAUSAL_WAIT_MS = 0
    response = HttpResponse()
    response.set_signed_cookie(conf.LSN_COOKIE, "FFFF/0", salt=conf.LSN_COOKIE)
    client.cookies[conf.LSN_COOKIE] = response.cookies[conf.LSN_COOKIE].value

    served = {client.get(f"/tag/{tag_name}").content.decode() for _ in range(4)}

    assert served == {"replica", "replica_2"}


def test_a_write_that_missed_a_restarting_primary_gets_the_read_only_page(client, tag_name):
    """The primary refused the connection, and is up again when the error is handled."""
    response = client.post(f"/write-while-restarting/{tag_name}", {"body": "Kept for you"})

    assert response.status_code == 503
    assert "Kept for you" in response.content.decode()
    assert "was not saved" in response.content.decode()  # nothing reached the primary


def test_a_write_cut_off_after_its_first_commit_is_said_maybe_saved(client, tag_name):
    response = client.post(
        f"/write-then-lose-primary-mid-request/{tag_name}", {"body": "Kept for you"}
    )

    assert response.status_code == 503
    page = response.content.decode()
    assert "may have been saved" in page
    assert "not saved" not in page
    assert "Kept for you" in page
    assert Tag.objects.using(conf.primary()).filter(name=tag_name).exists()  # half of it


def test_a_transaction_cut_off_before_its_commit_is_said_not_saved(client, tag_name):
    """Its writes went out, but no COMMIT: the server rolled them back."""
    with own_ports_restored(conf.primary()):
        response = client.post(
            f"/transaction-then-lose-primary/{tag_name}", {"body": "Kept for you"}
        )

    assert response.status_code == 503
    page = response.content.decode()
    assert "was not saved" in page
    assert "may have been saved" not in page
    assert "Kept for you" in page
    assert not Tag.objects.using(conf.primary()).filter(name=tag_name).exists()


def test_a_transaction_cut_off_after_an_earlier_commit_is_said_maybe_saved(client, tag_name):
    with own_ports_restored(conf.primary()):
        response = client.post(f"/commit-then-lose-primary/{tag_name}", {"body": "Kept for you"})

    assert response.status_code == 503
    assert "may have been saved" in response.content.decode()
    assert Tag.objects.using(conf.primary()).filter(name=tag_name).exists()


@pytest.mark.parametrize("strategy", ["sticky", "causal"])
def test_a_write_proves_the_primary_up_for_the_reads_of_its_own_request(
    settings, lagging_replicas, tag_name, strategy
):
    settings.ROUTERS_STRATEGY = strategy
    settings.ROUTERS_HEALTH_TTL = 60
    mark_down(conf.primary())  # cached while the primary was restarting

    with request_scope():
        Tag.objects.create(name=tag_name)
        found = Tag.objects.filter(name=tag_name).exists()
        alias = read_alias(Tag)

    assert (found, alias) == (True, conf.primary())


def test_a_write_whose_position_was_lost_with_its_primary_is_read_from_the_primary(
    client, lagging_replicas, tag_name
):
    """The primary went away after the write's commit, before its position could be
    read: the client carries only the pin, and its next read must not go to a replica
    that lags behind the write."""
    with own_ports_restored(conf.primary()):
        response = client.post(f"/create-then-lose-primary/{tag_name}")
    assert response.status_code == 200
    assert conf.LSN_COOKIE not in response.cookies  # no position could be read

    read = client.get(f"/tag/{tag_name}")

    assert read.status_code == 200
    assert read.content.decode() == conf.primary()
