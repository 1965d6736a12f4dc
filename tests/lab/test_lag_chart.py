"""The cluster panel's lag chart: each replica's lag over the last minutes, its stretches
out of rotation shaded, and the same numbers as a table."""

import re
import time

import pytest
import redis
from django.contrib.auth.models import Group
from django.template.loader import render_to_string

from lab import lag_history
from lab.lag_chart import GEOMETRY, LEFT, PLOT_WIDTH, draw
from lab.lag_history import (
    WINDOW_SECONDS,
    LagHistory,
    ReplicaSample,
    Sample,
    history,
    sample_of,
    thinned,
)
from tests.helpers import wait_until


def at(seconds_ago, *replicas):
    return Sample(1000.0 - seconds_ago, tuple(ReplicaSample(*r) for r in replicas))


def test_it_shades_a_stretch_out_of_rotation_and_breaks_the_line_where_a_replica_was_down():
    samples = [at(ago, ("replica", True, 0.0, True)) for ago in range(90, 60, -1)]
    samples += [at(ago, ("replica", True, 12.0, False)) for ago in range(60, 30, -1)]
    samples += [at(ago, ("replica", False, None, False)) for ago in range(30, 10, -1)]
    samples += [at(ago, ("replica", True, 0.5, True)) for ago in range(10, 0, -1)]

    chart = draw(samples, now=1000.0)

    ((span),) = chart.spans
    per_second = PLOT_WIDTH / WINDOW_SECONDS
    assert span.x == pytest.approx(LEFT + (WINDOW_SECONDS - 60) * per_second, abs=0.1)
    assert span.width == pytest.approx(50 * per_second, abs=0.2)
    assert span.seconds == 50.0
    ((line),) = chart.lines
    assert [len(points.split()) for points in line.segments] == [60, 10]  # down: a gap
    assert chart.top_seconds == 12.0
    # Newest first: the newest, then one each 10 s (here also where rotation changed).
    assert [(row.ago, *row.cells) for row in chart.rows] == [
        (1.0, "0.5 s"),
        (10.0, "0.5 s"),
        (20.0, "down"),
        (30.0, "down"),
        (40.0, "12 s, out of rotation"),
        (50.0, "12 s, out of rotation"),
        (60.0, "12 s, out of rotation"),
        (70.0, "0 s"),
        (80.0, "0 s"),
        (90.0, "0 s"),
    ]


def nodes(in_rotation, lag=1):
    return {
        "replicas": [
            {"alias": "replica", "up": True, "lag_seconds": lag, "in_rotation": in_rotation}
        ]
    }


def test_it_draws_two_measurements_close_together_as_one_but_keeps_a_change_of_rotation():
    samples = [
        sample_of(nodes(True), at=0.0),
        sample_of(nodes(True), at=0.1),
        sample_of(nodes(False), at=0.2),
        sample_of(nodes(False), at=0.3),
        sample_of(nodes(False), at=0.9),
    ]

    assert [sample.at for sample in thinned(samples)] == [0.0, 0.2, 0.9]


def test_it_leaves_out_what_is_older_than_the_window():
    samples = [
        at(WINDOW_SECONDS + 5, ("replica", True, 9.0, False)),
        at(1, ("replica", True, 0.0, True)),
    ]

    chart = draw(samples, now=1000.0)

    assert chart.spans == ()
    assert chart.top_seconds == 1.0


def test_a_stretch_nobody_measured_is_a_gap_not_a_line_nor_an_outage():
    samples = [
        at(170, ("replica", True, 0.5, True)),
        at(169, ("replica", True, 4.0, False)),
        at(168, ("replica", True, 4.0, False)),
        at(20, ("replica", True, 0.5, True)),  # the next anybody asked
        at(19, ("replica", True, 0.5, True)),
    ]

    chart = draw(samples, now=1000.0)

    ((span),) = chart.spans
    assert (span.from_ago, span.to_ago, span.seconds) == (169.0, 168.0, 1.0)
    ((line),) = chart.lines
    assert [len(points.split()) for points in line.segments] == [3, 2]


def test_a_replica_out_of_rotation_when_last_measured_long_ago_is_not_out_until_now():
    chart = draw([at(100, ("replica", False, None, False))], now=1000.0)

    ((span),) = chart.spans
    assert (span.to_ago, span.ongoing) == (100.0, False)


def test_a_replica_back_a_moment_ago_is_not_out_until_now():
    samples = [at(ago, ("replica", False, None, False)) for ago in range(30, 0, -1)]
    samples.append(at(0.02, ("replica", True, 0.1, True)))

    chart = draw(samples, now=1000.0)

    ((span),) = chart.spans
    assert (span.to_ago, span.ongoing) == (0.0, False)
    html = render_to_string("lab/_lag_chart.html", {"chart": chart, **GEOMETRY})
    assert "out of rotation from 30.0 s ago to 0.0 s ago (30.0 s)" in html


def test_a_replica_still_out_is_out_until_now():
    samples = [at(ago, ("replica", True, 20.0, False)) for ago in range(30, 0, -1)]

    ((span),) = draw(samples, now=1000.0).spans

    assert (span.to_ago, span.ongoing) == (0.0, True)


def test_measurements_only_a_healthcheck_makes_are_a_line_not_dots():
    every_five = [at(150 - 5.1 * n, ("replica", True, 0.5, True)) for n in range(25)]

    ((line),) = draw(every_five, now=1000.0).lines

    assert (len(line.segments), line.dots) == (1, ())


def test_a_lone_measurement_is_a_dot():
    chart = draw(
        [at(30, ("replica", True, 2.0, True)), at(20, ("replica", False, None, False))],
        now=1000.0,
    )

    ((line),) = chart.lines
    assert line.segments == ()
    assert len(line.dots) == 1


def test_lag_below_zero_is_drawn_as_zero_and_a_lag_not_a_number_as_unknown():
    assert sample_of(nodes(True, lag=-2.5), at=0).replicas[0].lag_seconds == 0.0
    assert sample_of(nodes(True, lag=float("nan")), at=0).replicas[0].lag_seconds is None
    assert sample_of(nodes(True, lag=float("inf")), at=0).replicas[0].lag_seconds is None


def test_hours_of_lag_are_labelled_in_minutes_and_hours():
    chart = draw([at(1, ("replica", True, 3 * 3600.0, False))], now=1000.0)

    assert [tick.label for tick in chart.ticks] == ["0 s", "90 min", "3 h"]


def test_the_table_and_the_words_carry_the_whole_window():
    samples = [at(ago, ("replica", True, 0.2, True)) for ago in range(170, 100, -1)]
    samples += [at(ago, ("replica", True, 9.0, False)) for ago in range(100, 80, -1)]
    samples += [at(ago, ("replica", True, 0.2, True)) for ago in range(80, 0, -1)]

    chart = draw(samples, now=1000.0)

    out = {90.0, 100.0}  # 100 s ago it left rotation, 80 s ago it was back
    assert [(row.ago, row.cells) for row in chart.rows] == [
        (float(ago), ("9 s, out of rotation",) if ago in out else ("0.2 s",))
        for ago in (1, *range(10, 171, 10))
    ]
    assert [(s.from_ago, s.to_ago, s.ongoing) for s in chart.spans] == [(100.0, 80.0, False)]


def test_a_clock_set_back_hides_what_it_measured_ahead_and_keeps_what_it_measures_now():
    kept = LagHistory()
    kept.add(nodes(False), at=5000.0)  # before the clock was set back an hour
    kept.add(nodes(True), at=1000.0)

    chart = draw(kept.samples()[0], now=1001.0, shared=False)

    assert chart.spans == ()
    assert [row.ago for row in chart.rows] == [1.0]


@pytest.fixture
def own_redis_key(monkeypatch, settings):
    """A Redis list of the test's own: other tests' measurements stay out of it."""
    key = f"lab:lag-history:test-{time.time_ns()}"
    monkeypatch.setattr(lag_history, "REDIS_KEY", key)
    yield key
    LagHistory(settings.REDIS_URL).clear()


@pytest.mark.stack
@pytest.mark.usefixtures("own_redis_key")
def test_every_server_process_draws_every_process_measurements(stack, settings):
    one, other = (LagHistory(settings.REDIS_URL) for _ in range(2))
    one.add(nodes(False), at=time.time() - 2)
    other.add(nodes(True), at=time.time() - 1)

    for history_of_a_process in (one, other):
        samples, shared = history_of_a_process.samples()
        assert shared
        assert [s.replicas[0].in_rotation for s in samples] == [False, True]


@pytest.mark.stack
@pytest.mark.usefixtures("live_db")
def test_an_entry_in_the_list_it_cannot_read_is_left_out(client, stack, settings, own_redis_key):
    process = LagHistory(settings.REDIS_URL)
    process.add(nodes(True), at=time.time() - 2)
    foreign = redis.Redis.from_url(settings.REDIS_URL)
    foreign.rpush(own_redis_key, b"hello", b'[1.0, [["replica", true, 0.5]]]', b'{"at": "x"}')
    process.add(nodes(False), at=time.time() - 1)

    samples, shared = LagHistory(settings.REDIS_URL).samples()

    assert shared
    assert [s.replicas[0].in_rotation for s in samples] == [True, False]
    history.cache_clear()
    try:
        assert client.get("/lab/cluster/lag").status_code == 200
    finally:
        history.cache_clear()


@pytest.mark.stack
@pytest.mark.usefixtures("own_redis_key")
def test_what_a_process_measured_while_redis_was_away_stays_drawn(stack, settings, monkeypatch):
    monkeypatch.setattr(lag_history, "REDIS_RETRY_SECONDS", 0)
    process = LagHistory(settings.REDIS_URL)
    with stack.redis_stopped():
        process.add(nodes(False), at=time.time() - 2)
    process.add(nodes(True), at=time.time() - 1)

    samples, shared = process.samples()

    assert shared
    assert [s.replicas[0].in_rotation for s in samples] == [False, True]


@pytest.mark.stack
@pytest.mark.usefixtures("live_db", "own_redis_key")
def test_with_redis_down_a_process_draws_its_own_and_says_so(client, stack, settings, monkeypatch):
    monkeypatch.setattr(lag_history, "REDIS_RETRY_SECONDS", 600)
    with stack.redis_stopped():
        process = LagHistory(settings.REDIS_URL)
        process.add(nodes(True))
        samples, shared = process.samples()
        assert len(samples) == 1
        assert not shared

        history.cache_clear()
        try:
            fragment = client.get("/lab/cluster/lag")
        finally:
            history.cache_clear()

    assert fragment.status_code == 200
    assert "by this server process alone" in fragment.content.decode()
    # Redis is back, and the process leaves it alone until its retry is due: a hung
    # Redis costs its timeout once, not on each /healthz.
    assert process.samples() == (samples, False)


@pytest.mark.stack
@pytest.mark.usefixtures("live_db", "own_redis_key")
def test_the_panel_draws_a_replica_the_routers_took_out_of_rotation(client, stack, settings):
    settings.ROUTERS_MAX_LAG_SECONDS = 1
    history().clear()

    def rotation():
        return {r["alias"]: r["in_rotation"] for r in client.get("/healthz").json()["replicas"]}

    with stack.lagging("3s"):
        stack.set_lag("0", "replica_2")
        Group.objects.create(name=f"held-back-for-the-chart-{time.time_ns()}")
        wait_until(
            lambda: rotation() == {"replica": False, "replica_2": True},
            what="replica out of rotation",
        )
        stack.wait_for_replay()
        wait_until(
            lambda: rotation() == {"replica": True, "replica_2": True},
            what="replica back in rotation",
        )
        # Drawn while replica_2 still applies at once: nothing may take it out meanwhile.
        page = client.get("/lab/cluster/").content.decode()
        fragment = client.get("/lab/cluster/lag").content.decode()

    for drawn in (page, fragment):
        assert re.search(
            r'<rect class="out-of-rotation series-0"[^>]*><title>replica out of rotation', drawn
        )
        assert 'series-1" x=' not in drawn  # replica_2 never left
        assert "out of rotation</td>" in drawn  # the table says so too
        assert drawn.count('<polyline class="lag series-') >= 2
