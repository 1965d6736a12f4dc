"""Positions and replicas across a real timeline switch (lab/failover_pair.py):
a write at or before the switch point is one the new primary has, a write after it is
reported lost once and then dropped, and no standby of the old timeline serves reads."""

from dataclasses import dataclass

import pytest
from django.db import connections
from django.test import Client, RequestFactory, override_settings

from forum.models import Tag
from lab.failover_pair import DATABASE, Pair, aliases_at, wait_for
from routers import conf, forget, parse_lsn, probe, usable_replicas
from routers.checks import check_failover_grants
from routers.cookies import state_from_cookies
from routers.probes import mark_down
from routers.tokens import dumps, loads, writes_known
from tests.helpers import fetch, unreachable, wait_until
from tests.routers.urls import port_to_restore

pytestmark = pytest.mark.stack


@dataclass
class Failover:
    pair: Pair
    #: The position cookies of a write replicated before the failover, and of one after
    #: the promoted standby was cut off.
    kept_cookie: str
    lost_cookie: str
    lost_lsn: int
    switch_point: int


def position_of(cookie: str) -> str:
    """The LSN text at the head of a signed position cookie's value."""
    return cookie.split("@", 1)[0]


@pytest.fixture(scope="module")
def failover(django_db_setup, django_db_blocker):
    pair = Pair()
    routing = override_settings(ROOT_URLCONF="tests.routers.urls", ROUTERS_STRATEGY="causal")
    try:
        with django_db_blocker.unblock(), routing:
            pair.init_primary("A")
            with aliases_at(pair, default="A"), connections["default"].schema_editor() as editor:
                editor.create_model(Tag)
            pair.clone("B", "A")
            pair.clone("C", "A")
            writer = Client()
            with aliases_at(pair, default="A", replica="B", replica_2="C"):
                assert writer.get("/create/kept").status_code == 200
                kept_cookie = writer.cookies[conf.LSN_COOKIE].value
                for name in "BC":
                    wait_until(lambda name=name: pair.replayed(name, position_of(kept_cookie)))
                # B hears no more of A: the next write never reaches it.
                pair.sql("B", "ALTER SYSTEM SET primary_conninfo = ''")
                pair.sql("B", "SELECT pg_reload_conf()")
                wait_for(pair, "B", "none")
                assert writer.get("/create/lost").status_code == 200
                lost_cookie = writer.cookies[conf.LSN_COOKIE].value
                wait_until(lambda: pair.replayed("C", position_of(lost_cookie)))
            assert pair.sql("B", "SELECT pg_promote()") == "t"
            # The deposed primary comes back as a standby of the new one, not rewound.
            pair.stop("A")
            pair.follow("A", "B")
            pair.clone("D", "B")
            wait_for(pair, "D", "streaming 2")
            history = pair.sql("B", "SELECT routers_timeline_history(2)", DATABASE)
        switch_point = parse_lsn(history.split("\t")[1])
        lost_lsn = parse_lsn(position_of(lost_cookie))
        assert parse_lsn(position_of(kept_cookie)) <= switch_point < lost_lsn
        yield Failover(pair, kept_cookie, lost_cookie, lost_lsn, switch_point)
    finally:
        pair.remove()


@pytest.fixture
def after_failover(failover, django_db_blocker, settings):
    """The aliases as they are after the failover: default reaches the new primary,
    replica its standby on timeline 2, replica_2 the standby left on timeline 1."""
    settings.ROOT_URLCONF = "tests.routers.urls"
    settings.ROUTERS_STRATEGY = "causal"
    with (
        django_db_blocker.unblock(),
        aliases_at(failover.pair, default="B", replica="D", replica_2="C"),
    ):
        yield failover


def test_it_reads_a_write_from_before_the_switch_point_where_the_new_timeline_has_it(
    after_failover,
):
    client = Client()
    client.cookies[conf.LSN_COOKIE] = after_failover.kept_cookie

    found = client.get("/tag/kept")
    told = client.get("/lost-writes")

    assert (found.status_code, found.content.decode()) == (200, "replica")
    assert told.json() == {"lost": []}
    assert conf.LSN_COOKIE not in told.cookies  # kept, not deleted


def test_it_reports_a_write_after_the_switch_point_lost_once_and_then_drops_it(after_failover):
    client = Client()
    client.cookies[conf.LSN_COOKIE] = after_failover.lost_cookie

    first = client.get("/lost-writes")
    second = client.get("/lost-writes")

    (lost,) = first.json()["lost"]
    assert lost["primary"] == "default"
    assert (lost["lsn"], lost["timeline"]) == (after_failover.lost_lsn, 1)
    assert (lost["switch_point"], lost["current_timeline"]) == (after_failover.switch_point, 2)
    assert lost["written_at"] is not None
    assert first.cookies[conf.LSN_COOKIE]["max-age"] == 0  # deleted
    assert second.json() == {"lost": []}


def test_it_reports_a_lost_write_brought_in_the_header_once(after_failover):
    request = RequestFactory().get("/")
    request.COOKIES[conf.LSN_COOKIE] = after_failover.lost_cookie
    token = dumps(writes_known(state_from_cookies(request), made=[]))
    client = Client()  # keeps no cookies: the header carries its write

    first = client.get("/lost-writes", headers={conf.TOKEN_HEADER: token})
    again = client.get("/lost-writes", headers={conf.TOKEN_HEADER: first[conf.TOKEN_HEADER]})

    assert len(first.json()["lost"]) == 1
    assert loads(first[conf.TOKEN_HEADER]) == []
    assert again.json() == {"lost": []}


def test_it_never_serves_a_visitor_from_a_standby_of_the_old_timeline(after_failover):
    assert fetch("replica_2", "SELECT count(*) FROM forum_tag WHERE name = 'lost'") == 1

    pages = [Client().get("/tag/lost") for _ in range(6)]

    assert usable_replicas() == ["replica"]
    assert {(page.status_code, page.content.decode()) for page in pages} == {(404, "replica")}


def test_the_old_primary_restarted_as_a_standby_without_rewind_is_out_of_rotation(
    after_failover,
):
    with aliases_at(after_failover.pair, replica_2="A"):
        assert fetch("replica_2", "SELECT count(*) FROM forum_tag WHERE name = 'lost'") == 1
        forget()
        assert usable_replicas() == ["replica"]


def replayed_on_d(pair):
    """Wait until D, the new timeline's standby, has replayed all of B's WAL so far."""
    target = pair.sql("B", "SELECT pg_current_wal_flush_lsn()")
    wait_until(lambda: pair.replayed("D", target), what="D to replay B's WAL")


@pytest.fixture
def reader_without_stats(after_failover):
    pair = after_failover.pair
    pair.sql("B", "REVOKE pg_read_all_stats FROM forum_reader")
    replayed_on_d(pair)
    forget()
    yield after_failover
    pair.sql("B", "GRANT pg_read_all_stats TO forum_reader")
    replayed_on_d(pair)
    forget()


def test_a_reader_that_cannot_see_the_wal_receiver_keeps_the_replica_and_is_warned(
    reader_without_stats,
):
    problems = check_failover_grants(None, databases=["replica"])

    assert [problem.id for problem in problems] == ["routers.W017"]
    assert probe("replica").receiver is None
    assert usable_replicas() == ["replica"]  # as before timelines were looked at


@pytest.fixture
def without_history_function(after_failover):
    pair = after_failover.pair
    function = "routers_timeline_history(integer)"
    definition = pair.sql("B", f"SELECT pg_get_functiondef('{function}'::regprocedure)", DATABASE)
    pair.sql("B", f"DROP FUNCTION {function}", DATABASE)
    forget()
    yield after_failover
    pair.sql("B", definition, DATABASE)
    pair.sql("B", f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC", DATABASE)
    pair.sql("B", f"GRANT EXECUTE ON FUNCTION {function} TO forum", DATABASE)
    forget()


def test_without_the_history_function_no_write_is_reported_lost_and_a_check_warns(
    without_history_function,
):
    client = Client()
    client.cookies[conf.LSN_COOKIE] = without_history_function.lost_cookie

    told = client.get("/lost-writes")

    assert [problem.id for problem in check_failover_grants(None, databases=["default"])] == [
        "routers.W018"
    ]
    assert told.json() == {"lost": []}
    assert conf.LSN_COOKIE not in told.cookies


def test_the_forum_tells_the_member_once_on_their_next_page(after_failover, settings):
    settings.ROOT_URLCONF = "config.urls"
    client = Client()
    client.cookies[conf.LSN_COOKIE] = after_failover.lost_cookie

    first, second = client.get("/login/"), client.get("/login/")  # pages that need no forum rows

    assert "may have been lost when the database switched" in first.content.decode()
    assert "may have been lost when the database switched" not in second.content.decode()


def test_with_the_new_primary_down_nothing_is_reported_and_the_position_is_kept(after_failover):
    client = Client()
    client.cookies[conf.LSN_COOKIE] = after_failover.lost_cookie

    with unreachable("default"):
        told = client.get("/lost-writes")

    assert (told.status_code, told.json()) == (200, {"lost": []})
    assert conf.LSN_COOKIE not in told.cookies  # told once the primary answers


def test_a_write_made_while_the_primary_was_last_seen_down_still_tells_the_lost_one(
    after_failover,
):
    client = Client()
    client.cookies[conf.LSN_COOKIE] = after_failover.lost_cookie
    # A request saw the old primary die: "down" stays cached for ROUTERS_HEALTH_TTL, and
    # the new write's position would replace the lost one before a probe says otherwise.
    mark_down("default")

    wrote = client.post("/create/after-the-failover")
    page = client.get("/login/").content.decode()  # the forum's page, with its messages

    assert wrote.status_code == 200
    assert "may have been lost when the database switched" in page


def test_a_write_whose_primary_was_down_before_the_view_still_tells_the_lost_one(
    after_failover,
):
    # Probed before the view, the primary is down (the new leader mid-promotion); the
    # view's write then reaches it, and its position would replace the lost one.
    client = Client()
    client.cookies[conf.LSN_COOKIE] = after_failover.lost_cookie
    port_to_restore["default"] = connections["default"].settings_dict["PORT"]
    with unreachable("default"):  # the view puts the port back
        wrote = client.post("/create-once-the-primary-is-back/after-the-promotion")
    page = client.get("/login/").content.decode()  # the forum's page, with its messages

    assert wrote.status_code == 200
    assert "may have been lost when the database switched" in page
