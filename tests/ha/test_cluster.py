"""The HA stack comes up as one synchronous cluster: a leader, two standbys streaming from
it (one synchronous), applying the stack's delay, with the roles and databases of
postgres/primary/init.sh."""

import pytest
from django.db import OperationalError

from tests.ha.cluster import HaCluster

pytestmark = pytest.mark.ha


def test_it_has_a_leader_and_two_streaming_standbys(ha: HaCluster) -> None:
    leader = ha.wait_for_leader()

    assert sorted(ha.streaming(leader).values()) == ["async", "sync"]
    roles = sorted(member["role"] for member in ha.members())
    assert roles == ["leader", "replica", "sync_standby"]


def test_it_runs_in_synchronous_mode(ha: HaCluster) -> None:
    leader = ha.wait_for_leader()
    sync_standby = next(m["name"] for m in ha.members() if m["role"] == "sync_standby")

    assert ha.config()["synchronous_mode"] is True
    assert ha.superuser_query(leader, "SHOW synchronous_standby_names") == [(sync_standby,)]


def test_it_delays_apply_on_the_standbys(ha: HaCluster) -> None:
    leader = ha.wait_for_leader()

    for standby in set(ha.streaming(leader)):
        delay = ha.superuser_query(standby, "SHOW recovery_min_apply_delay")
        assert delay == [(ha.env["REPLICA_LAG"],)]


def test_it_has_the_app_roles_and_databases(ha: HaCluster) -> None:
    urls = ha.urls()
    primary = ha.django(urls["DATABASE_URL"])
    analytics = ha.django(urls["ANALYTICS_DATABASE_URL"])
    try:
        for connection, name in ((primary, ha.env["APP_DB"]), (analytics, ha.env["ANALYTICS_DB"])):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT current_user, current_database(), pg_is_in_recovery(),"
                    " (SELECT count(*) FROM pg_extension WHERE extname = 'pg_walinspect')"
                )
                assert cursor.fetchone() == ("forum", name, False, 1)
    finally:
        primary.close()
        analytics.close()


def test_it_connects_the_replica_urls_to_standbys_as_the_reader(ha: HaCluster) -> None:
    leader = ha.wait_for_leader()
    replicas = ha.urls()["REPLICA_URLS"].split(",")
    standbys = [ha.django(url) for url in replicas if f":{ha.pg_port(leader)}/" not in url]
    try:
        assert len(standbys) == 2
        for connection in standbys:
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user, pg_is_in_recovery()")
                assert cursor.fetchone() == ("forum_reader", True)
    finally:
        for connection in standbys:
            connection.close()


def test_it_refuses_the_leaders_replica_url(ha: HaCluster) -> None:
    # target_session_attrs=standby: the alias of the node that leads is a dead replica.
    leader = ha.wait_for_leader()
    url = next(u for u in ha.urls()["REPLICA_URLS"].split(",") if f":{ha.pg_port(leader)}/" in u)
    connection = ha.django(url)

    with pytest.raises(OperationalError, match="not in hot standby mode"):
        connection.ensure_connection()
