"""The cluster panel's lag chart: each replica's lag over the last minutes, its stretches
out of rotation shaded, and the same numbers as a table."""

import re
import time

import pytest
from django.contrib.auth.models import Group

from lab import lag_history
from lab.lag_chart import LEFT, PLOT_WIDTH, draw
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
    cells = {row.cells for row in chart.rows}
    assert cells == {("0.5 s",), ("down",), ("12 s, out of rotation",), ("0 s",)}


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
    assert span.to_ago == 100.0


def test_a_lone_measurement_is_a_dot():
    chart = draw(
        [at(30, ("replica", True, 2.0, True)), at(20, ("replica", False, None, False))],
        now=1000.0,
    )

    ((line),) = chart.lines
    assert line.segments == ()
    assert len(line.dots) == 1


def test_lag_below_zero_is_drawn_as_none_and_a_lag_not_a_number_as_unknown():
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

    agos = [row.ago for row in chart.rows]
    assert max(agos) == 170.0
    assert min(agos) == 1.0
    assert ("9 s, out of rotation",) in [row.cells for row in chart.rows]
    assert [(s.from_ago, s.to_ago) for s in chart.spans] == [(100.0, 80.0)]
    assert len(chart.rows) < 30  # one each ten seconds and each change, not all 170


def test_a_clock_set_back_hides_what_it_measured_ahead_and_keeps_what_it_measures_now():
    kept = LagHistory()
    kept.add(nodes(False), at=5000.0)  # before the clock was set back an hour
    kept.add(nodes(True), at=1000.0)

    chart = draw(kept.samples()[0], now=1001.0, shared=False)

    assert chart.spans == ()
    assert [row.ago for row in chart.rows] == [1.0]


@pytest.mark.stack
def test_every_server_process_draws_every_process_measurements(stack, settings):
    one, other = (LagHistory(settings.REDIS_URL) for _ in range(2))
    one.clear()
    one.add(nodes(False), at=time.time() - 2)
    other.add(nodes(True), at=time.time() - 1)

    for history_of_a_process in (one, other):
        samples, shared = history_of_a_process.samples()
        assert shared
        assert [s.replicas[0].in_rotation for s in samples] == [False, True]


@pytest.mark.stack
@pytest.mark.usefixtures("live_db")
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
@pytest.mark.usefixtures("live_db")
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
