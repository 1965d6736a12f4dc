"""Lesson 5: raw SQL through django.db.connection ignores the routers."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from routers import RequestState, cursor_for_read, read_alias, request_scope

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


NAME = "only-on-the-primary-for-now"


def raw_count(cursor) -> int:
    with cursor:
        cursor.execute("SELECT count(*) FROM auth_group WHERE name = %s", [NAME])
        return cursor.fetchone()[0]


def test_it_reads_raw_sql_from_the_primary_while_the_orm_reads_a_replica(lagging_replicas):
    Group.objects.create(name=NAME)

    with request_scope(RequestState(strategy="sticky")):
        orm_alias = read_alias(Group)
        orm_count = Group.objects.filter(name=NAME).count()
        bypass_count = raw_count(connection.cursor())
        routed_count = raw_count(cursor_for_read(Group))

    assert orm_alias.startswith("replica")
    # One page, two answers: the ORM's replica has not replayed the row, the raw
    # cursor went to "default" behind the routers' back.
    assert (orm_count, bypass_count) == (0, 1)
    # Routed, the raw query reads where the ORM reads.
    assert routed_count == orm_count
