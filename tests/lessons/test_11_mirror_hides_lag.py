"""Lesson 11: one read-after-write check, passing or failing by where the mirror points.

The mirrors are made as Django's test runner makes them (`set_as_test_mirror`), from the
real replica alias. The replicas hold every commit back (lagging_replicas).
"""

import pytest
from django.db import connections, transaction

from forum.models import Tag
from lab.lessons.mirror_hides_lag import (
    NEVER_COMMITTED,
    ON_PRIMARY_HOST,
    ON_STANDBY_HOST,
    THIS_PROJECT,
    flush_wal,
    mirror,
    readable,
)
from routers import primary_lsn, replayed
from tests.helpers import wait_for_replay

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "lagging_replicas")]


def committed_then_read(on_primary_host: bool, name: str) -> bool:
    """The check a test of lesson 1 makes: commit on the primary, read through the replica."""
    Tag.objects.using("default").create(name=name)
    return readable(mirror(on_primary_host), name)


def test_the_check_passes_on_the_primarys_host_and_fails_on_the_real_standby():
    assert committed_then_read(on_primary_host=True, name="mirror-primary-host") is True
    assert committed_then_read(on_primary_host=False, name="mirror-standby-host") is False


def test_a_mirror_keeps_its_own_host_and_takes_the_primarys_name():
    standby = mirror(on_primary_host=False).settings_dict
    replica = connections["replica"].settings_dict

    assert (standby["HOST"], standby["PORT"]) == (replica["HOST"], replica["PORT"])
    assert standby["NAME"] == connections["default"].settings_dict["NAME"]


def test_a_row_never_committed_is_on_no_standby_and_on_no_other_connection():
    with transaction.atomic(using="default"):
        Tag.objects.create(name="never-committed")
        position = primary_lsn()
        flush_wal()  # else the insert may wait on the primary for the next commit
        assert replayed("replica", position, wait_seconds=15)
        on_standby = readable(mirror(on_primary_host=False), "never-committed")
        on_primary_host = readable(mirror(on_primary_host=True), "never-committed")
        transaction.set_rollback(True, using="default")

    assert (on_standby, on_primary_host) == (False, False)


def test_committed_data_reaches_the_standby_once_it_has_replayed():
    Tag.objects.using("default").create(name="committed-and-waited-for")
    wait_for_replay("replica")

    assert readable(mirror(on_primary_host=False), "committed-and-waited-for") is True


def test_the_lab_shows_each_setup(client):
    response = client.post("/lab/mirror-hides-lag/")
    page = response.content.decode()

    assert response.status_code == 200
    assert "<th>Test setup</th>" in page
    for label, verdict in (
        (ON_PRIMARY_HOST, "no"),
        (ON_STANDBY_HOST, "yes"),
        (NEVER_COMMITTED, "no"),
        (THIS_PROJECT, "yes"),
    ):
        assert f'data-strategy="{label}" data-correct="{verdict}"' in page
