"""The cluster panel's lag chart: each replica's lag over the last minutes, its stretches
out of rotation shaded, and the same numbers as a table."""

import re
import time

import pytest
from django.contrib.auth.models import Group

from lab.lag_chart import LEFT, PLOT_WIDTH, draw
from lab.lag_history import WINDOW_SECONDS, LagHistory, ReplicaSample, Sample, history
from tests.helpers import wait_until


def at(seconds_ago, *replicas):
    return Sample(1000.0 - seconds_ago, tuple(ReplicaSample(*r) for r in replicas))


def test_it_shades_a_stretch_out_of_rotation_and_breaks_the_line_where_a_replica_was_down():
    samples = [
        at(90, ("replica", True, 0.0, True)),
        at(60, ("replica", True, 12.0, False)),
        at(30, ("replica", False, None, False)),
        at(10, ("replica", True, 0.5, True)),
    ]

    chart = draw(samples, now=1000.0)

    ((span),) = chart.spans
    per_second = PLOT_WIDTH / WINDOW_SECONDS
    assert span.x == pytest.approx(LEFT + (WINDOW_SECONDS - 60) * per_second, abs=0.1)
    assert span.width == pytest.approx(50 * per_second, abs=0.2)
    assert span.seconds == 50.0
    ((line),) = chart.lines
    assert [len(points.split()) for points in line.segments] == [2, 1]  # down: a gap
    assert chart.top_seconds == 12.0
    assert [row.cells for row in chart.rows] == [
        ("0.5 s",),
        ("down",),
        ("12 s, out of rotation",),
        ("0 s",),
    ]


def nodes(in_rotation):
    return {
        "replicas": [{"alias": "replica", "up": True, "lag_seconds": 1, "in_rotation": in_rotation}]
    }


def test_it_keeps_a_window_and_takes_two_measurements_close_together_as_one():
    kept = LagHistory()
    kept.add(nodes(True), at=0.0)
    kept.add(nodes(True), at=0.1)
    kept.add(nodes(True), at=WINDOW_SECONDS + 1)

    assert [sample.at for sample in kept.samples()] == [WINDOW_SECONDS + 1]


def test_it_leaves_out_what_is_older_than_the_window():
    samples = [
        at(WINDOW_SECONDS + 5, ("replica", True, 9.0, False)),
        at(1, ("replica", True, 0.0, True)),
    ]

    chart = draw(samples, now=1000.0)

    assert chart.spans == ()
    assert chart.top_seconds == 1.0


def test_it_keeps_a_change_of_rotation_however_close():
    kept = LagHistory()
    kept.add(nodes(True), at=0.0)
    kept.add(nodes(False), at=0.1)
    kept.add(nodes(False), at=0.2)

    assert [sample.at for sample in kept.samples()] == [0.0, 0.1]


@pytest.mark.stack
@pytest.mark.usefixtures("live_db")
def test_the_panel_draws_a_replica_the_routers_took_out_of_rotation(client, stack, settings):
    settings.ROUTERS_MAX_LAG_SECONDS = 1
    history.clear()

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
