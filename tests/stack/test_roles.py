"""Replica aliases connect as a SELECT-only role: a misrouted write fails loudly.

A standby refuses every write anyway; the role is what refuses one on a server that can
write. Its default_transaction_read_only is only a default: the grants are what hold.
"""

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import DatabaseError

from tests.helpers import connect, fetch

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def test_it_rejects_an_insert_through_the_replica_alias(stack):
    with pytest.raises(DatabaseError, match="read-only transaction"):
        Group.objects.using("replica").create(name="misrouted")

    assert not Group.objects.using("default").filter(name="misrouted").exists()


def test_it_connects_replica_aliases_as_a_read_only_role():
    for alias in ("replica", "replica_2"):
        assert fetch(alias, "SELECT current_user") == "forum_reader"
        assert fetch(alias, "SHOW default_transaction_read_only") == "on"


def reader_on_the_primary() -> psycopg.Connection:
    reader = settings.DATABASES["replica"]
    return connect("default", user=reader["USER"], password=reader["PASSWORD"], autocommit=True)


def test_it_keeps_the_reader_read_only_even_on_the_primary():
    # Not just the standby being read-only: the role's default refuses to write.
    with (
        reader_on_the_primary() as connection,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
    ):
        connection.execute("INSERT INTO auth_group (name) VALUES ('via-reader')")

    assert not Group.objects.filter(name="via-reader").exists()


def test_it_refuses_the_readers_write_by_grants_when_the_default_is_overridden():
    with reader_on_the_primary() as connection:
        connection.execute("BEGIN READ WRITE")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute("INSERT INTO auth_group (name) VALUES ('read-write')")

    assert not Group.objects.filter(name="read-write").exists()


def test_it_lets_the_app_role_change_the_apply_delay():
    # The lab changes lag live through the app's own connection to the standby.
    grants = fetch(
        "default",
        "SELECT has_parameter_privilege('forum', 'recovery_min_apply_delay', 'ALTER SYSTEM')",
    )
    assert grants is True
