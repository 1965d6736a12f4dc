"""Timelines without a database: a history file read as PostgreSQL reads it, the verdict
on a position from an older timeline, the rotation rule, and the formats that carry a
position's timeline (old ones still read)."""

import time

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from routers import conf, timelines
from routers.context import RequestState
from routers.cookies import remember_write, state_from_cookies
from routers.history import parse_history
from routers.positions import Position
from routers.probes import NodeHealth
from routers.rotation import on_primary_timeline
from routers.timelines import Verdict, settle_positions, verdict
from routers.tokens import Write, dumps, later_position, loads

HISTORY_3 = (
    "1\t0/305AFB0\tno recovery target specified\n"
    "\n"
    "# a comment\n"
    "2\t0/5000000\tno recovery target specified\n"
)


def test_it_reads_each_ancestor_and_its_switch_point():
    assert parse_history(HISTORY_3) == {1: 0x305AFB0, 2: 0x5000000}


def test_it_reads_no_ancestors_in_an_empty_history():
    assert parse_history("") == {}


@pytest.mark.parametrize(
    "text", ["1 0/305AFB0", "x\t0/1\tr", "1\tnot-an-lsn\tr", "2\t0/1\tr\n1\t0/2\tr", "0\t0/1\tr"]
)
def test_it_refuses_a_history_it_cannot_read(text):
    with pytest.raises(ValueError, match="timeline"):
        parse_history(text)


HISTORY = {1: 0x305AFB0, 2: 0x5000000}


@pytest.mark.parametrize(
    ("lsn", "timeline", "expected"),
    [
        (0x305AFB0, 1, Verdict.AS_BEFORE),  # at the switch point: kept
        (0x3000000, 1, Verdict.AS_BEFORE),
        (0x305AFB1, 1, Verdict.LOST),  # one byte past it
        (0x4000000, 2, Verdict.AS_BEFORE),
        (0x5000001, 2, Verdict.LOST),
        (0x9000000, 3, Verdict.AS_BEFORE),  # the primary's own timeline
        (0x9000000, 4, Verdict.AS_BEFORE),  # a later one: compared as before
    ],
)
def test_it_judges_a_position_through_the_history(lsn, timeline, expected):
    assert verdict(lsn, timeline, 3, HISTORY) is expected


def test_a_timeline_that_is_no_ancestor_is_lost():
    assert verdict(0x100, 2, 3, {1: 0x305AFB0}) is Verdict.LOST


def test_an_unknown_history_compares_as_before():
    assert verdict(0xFFFFFFFF, 1, 3, None) is Verdict.AS_BEFORE


def node(**facts):
    return NodeHealth("n", True, 0, 0.0, **facts)


@pytest.mark.parametrize(
    ("replica", "expected"),
    [
        (node(timeline=2, receiver="streaming"), True),
        (node(timeline=1, receiver="streaming"), False),  # the old timeline
        (node(timeline=1, receiver="waiting"), False),  # a demoted primary, not rewound
        (node(timeline=None, receiver="none"), False),  # no WAL receiver
        (node(timeline=None, receiver=None), True),  # hidden from the role: as before
    ],
)
def test_a_replica_serves_only_while_it_streams_the_primary_timeline(replica, expected):
    assert on_primary_timeline(replica, node(timeline=2)) is expected


def test_a_primary_down_or_without_a_timeline_sends_no_replica_away():
    replica = node(timeline=1, receiver="waiting")
    assert on_primary_timeline(replica, NodeHealth("p", False, None, 0.0))
    assert on_primary_timeline(replica, node(timeline=None))


def test_of_two_timelines_the_later_one_stands_whatever_the_lsns():
    lost = Position(0x9000000, 7, 1)
    after = Position(0x6000000, 7, 2)
    assert later_position(lost, after) == after
    assert later_position(Position(5, 7, None), Position(4, 7, 2)) == Position(5, 7, None)


def test_a_token_carries_the_timeline_and_reads_one_without():
    write = Write(conf.primary(), time.time(), Position(0x305AFB0, 7714484792588521126, 2))
    (read,) = loads(dumps([write]))
    assert read.position == write.position


def test_a_cookie_carries_the_timeline(rf):
    response = HttpResponse()
    write = Write(conf.primary(), time.time(), Position(0x305AFB0, 77, 3))
    remember_write([write], response)
    request = rf.get("/")
    request.COOKIES[conf.LSN_COOKIE] = response.cookies[conf.LSN_COOKIE].value

    cluster = state_from_cookies(request).cluster()

    assert (cluster.min_lsn, cluster.system_identifier, cluster.timeline) == (0x305AFB0, 77, 3)


def signed_position(value):
    """`value` signed as the routers sign the position cookie."""
    response = HttpResponse()
    response.set_signed_cookie(conf.LSN_COOKIE, value, salt=conf.LSN_COOKIE)
    return response.cookies[conf.LSN_COOKIE].value


@pytest.mark.parametrize("value", ["0/305AFB0", "0/305AFB0@1764224000123", "0/305AFB0@1@77"])
def test_a_cookie_without_a_timeline_is_read_as_before(value):
    request = RequestFactory().get("/")
    request.COOKIES[conf.LSN_COOKIE] = signed_position(value)

    cluster = state_from_cookies(request).cluster()

    assert (cluster.min_lsn, cluster.timeline) == (0x305AFB0, None)


@pytest.mark.parametrize("timeline", ["0", "-1", "x", "12345678901"])
def test_a_cookie_with_a_garbled_timeline_is_ignored(timeline):
    request = RequestFactory().get("/")
    request.COOKIES[conf.LSN_COOKIE] = signed_position(f"0/305AFB0@1@77@{timeline}")

    assert state_from_cookies(request).clusters == {}


def test_a_writing_request_probes_a_primary_that_stays_down_once_before_and_once_after_its_write(
    monkeypatch,
):
    # Every settle of a request (before the view, the app's lost_writes() calls, after
    # the view) would probe afresh while the primary is down: one refused connection or
    # connect timeout each.
    probed = []

    def probe_down(alias: str) -> NodeHealth:
        probed.append(alias)
        return NodeHealth(alias, False, None, time.monotonic())

    monkeypatch.setattr(timelines, "probe", probe_down)
    monkeypatch.setattr(timelines, "health", lambda alias: NodeHealth(alias, False, None, 0.0))
    state = RequestState(intends_to_write=True)
    cluster = state.cluster("default")
    cluster.min_lsn, cluster.timeline, cluster.system_identifier = 0x5000000, 1, 7

    for _ in range(3):  # process_view's, and the app's in its own process_view and view
        settle_positions(state)
    cluster.wrote = True  # the view's write reached a primary found down before
    for _ in range(3):  # the app's process_response, and the one after the view
        settle_positions(state)

    assert probed == ["default", "default"]
