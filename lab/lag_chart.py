"""The lag chart of the cluster panel: the samples of `lab.lag_history`, turned into the
coordinates of a server-drawn SVG (lab/_lag_chart.html), and the same facts in words
and a table for readers without the picture."""

import math
import time
from dataclasses import dataclass

from .lag_history import WINDOW_SECONDS, Sample, same_rotation

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 52, 8, 8, 22  # room for the axes' labels
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
# The panel measures each second, compose's healthcheck each 5 s and a bit (its interval
# runs from the end of the last check): two measurements further apart than this have a
# stretch between them nobody measured, drawn as a gap, not as a line or a shading.
GAP_SECONDS = 12.0
# The table: the newest measurement, one per this many seconds before it, and each
# change of rotation.
TABLE_EVERY_SECONDS = 10.0
SERIES = 6  # line styles in lab.css: three colours and dashes, then the same thicker
#: What the template needs of the layout.
GEOMETRY = {
    "table_every": int(TABLE_EVERY_SECONDS),
    "gap_seconds": int(GAP_SECONDS),
    "width": WIDTH,
    "height": HEIGHT,
    "left": LEFT,
    "top": TOP,
    "right_edge": WIDTH - RIGHT,
    "plot_height": PLOT_HEIGHT,
}


@dataclass(frozen=True)
class Line:
    """One replica's lag: one polyline per stretch its lag was known and measured, a dot
    where such a stretch is one measurement."""

    alias: str
    series: int  # its line style, by position
    segments: tuple[str, ...]  # SVG points, "x,y x,y ..."
    dots: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Span:
    """A stretch a replica was measured out of rotation (down or too far behind): from
    the first measurement that found it out to the first that found it back; or to the
    last that found it out, where nothing was measured after for GAP_SECONDS; or, when
    the last measurement found it out, until now (`ongoing`)."""

    alias: str
    series: int
    x: float
    width: float
    seconds: float
    from_ago: float
    to_ago: float
    ongoing: bool


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Row:
    """One measurement, for the table: seconds ago, and per replica its lag and rotation."""

    ago: float
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Chart:
    aliases: tuple[str, ...]
    lines: tuple[Line, ...]
    spans: tuple[Span, ...]
    ticks: tuple[Tick, ...]
    rows: tuple[Row, ...]
    window_seconds: int
    top_seconds: float
    measured: bool  # any measurement in the window
    shared: bool  # every server process's measurements, not only this one's


def x_of(at: float, now: float) -> float:
    x = LEFT + PLOT_WIDTH * (1 - (now - at) / WINDOW_SECONDS)
    return round(min(WIDTH - RIGHT, max(LEFT, x)), 1)


def duration(seconds: float) -> str:
    """An axis label: seconds, or minutes or hours where seconds grow long."""
    if seconds >= 7200:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 120:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:g} s"


def draw(samples: list[Sample], now: float | None = None, shared: bool = True) -> Chart:
    """The chart of the samples (in time order) of the last WINDOW_SECONDS before `now`;
    any after it (a clock set back) are left out."""
    now = time.time() if now is None else now
    samples = [s for s in samples if 0 <= now - s.at <= WINDOW_SECONDS]
    aliases = tuple(dict.fromkeys(r.alias for s in samples for r in s.replicas))
    lags = [r.lag_seconds for s in samples for r in s.replicas if r.lag_seconds is not None]
    top = float(max(1, math.ceil(max(lags, default=0.0))))

    def y_of(lag: float) -> float:
        return round(TOP + PLOT_HEIGHT * (1 - min(lag, top) / top), 1)

    lines, spans = [], []
    for index, alias in enumerate(aliases):
        series = index % SERIES  # styles repeat past the stylesheet's
        segments: list[list[tuple[float, float]]] = [[]]
        out_since: float | None = None
        previous: Sample | None = None
        for sample in samples:
            replica = next((r for r in sample.replicas if r.alias == alias), None)
            unmeasured = previous is not None and sample.at - previous.at > GAP_SECONDS
            if unmeasured and out_since is not None and previous is not None:
                spans.append(span(alias, series, out_since, previous.at, now, ongoing=False))
                out_since = None
            lag = replica.lag_seconds if replica is not None else None
            if (lag is None or unmeasured) and segments[-1]:
                segments.append([])
            if lag is not None:
                segments[-1].append((x_of(sample.at, now), y_of(lag)))
            out = replica is not None and not replica.in_rotation
            if out and out_since is None:
                out_since = sample.at
            elif not out and out_since is not None:
                spans.append(span(alias, series, out_since, sample.at, now, ongoing=False))
                out_since = None
            previous = sample
        if out_since is not None and previous is not None:
            ongoing = now - previous.at <= GAP_SECONDS
            end = now if ongoing else previous.at
            spans.append(span(alias, series, out_since, end, now, ongoing))
        lines.append(
            Line(
                alias,
                series,
                tuple(" ".join(f"{x},{y}" for x, y in s) for s in segments if len(s) > 1),
                tuple(s[0] for s in segments if len(s) == 1),
            )
        )
    ticks = tuple(Tick(y_of(top * part / 2), duration(top * part / 2)) for part in (0, 1, 2))
    return Chart(
        aliases,
        tuple(lines),
        tuple(spans),
        ticks,
        tuple(row(sample, aliases, now) for sample in reversed(tabled(samples))),
        int(WINDOW_SECONDS),
        top,
        bool(samples),
        shared,
    )


def span(alias: str, series: int, start: float, end: float, now: float, ongoing: bool) -> Span:
    x = x_of(start, now)
    return Span(
        alias,
        series,
        x,
        round(max(x_of(end, now) - x, 1.0), 1),
        round(end - start, 1),
        round(now - start, 1),
        round(now - end, 1),
        ongoing,
    )


def tabled(samples: list[Sample]) -> list[Sample]:
    """The samples the table shows, in time order: the first of each TABLE_EVERY_SECONDS,
    counted back from the newest; each that changed a replica's rotation; the newest."""
    kept: list[Sample] = []
    for index, sample in enumerate(samples):
        previous = samples[index - 1] if index else None
        if (
            previous is None
            or sample is samples[-1]
            or not same_rotation(previous, sample)
            or bucket(previous, samples[-1]) != bucket(sample, samples[-1])
        ):
            kept.append(sample)
    return kept


def bucket(sample: Sample, newest: Sample) -> int:
    return math.floor((newest.at - sample.at) / TABLE_EVERY_SECONDS)


def row(sample: Sample, aliases: tuple[str, ...], now: float) -> Row:
    cells = []
    for alias in aliases:
        replica = next((r for r in sample.replicas if r.alias == alias), None)
        if replica is None or not replica.up:
            cells.append("down")
        else:
            lag = "?" if replica.lag_seconds is None else f"{round(replica.lag_seconds, 1):g} s"
            cells.append(lag if replica.in_rotation else f"{lag}, out of rotation")
    return Row(round(now - sample.at, 1), tuple(cells))
