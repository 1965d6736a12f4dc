"""The lag chart of the cluster panel: the samples of `lab.lag_history`, turned into the
coordinates of a server-drawn SVG (lab/_lag_chart.html), and a table of the same numbers
for readers without the picture."""

import math
import time
from dataclasses import dataclass

from .lag_history import WINDOW_SECONDS, Sample

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 8, 22  # room for the axes' labels
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
TABLE_ROWS = 10
SERIES = 3  # colours in lab.css
#: What the template needs of the layout.
GEOMETRY = {
    "width": WIDTH,
    "height": HEIGHT,
    "left": LEFT,
    "top": TOP,
    "right_edge": WIDTH - RIGHT,
    "plot_height": PLOT_HEIGHT,
}


@dataclass(frozen=True)
class Line:
    """One replica's lag: one polyline per stretch its lag was known."""

    alias: str
    series: int  # its colour, by position
    segments: tuple[str, ...]  # SVG points, "x,y x,y ..."


@dataclass(frozen=True)
class Span:
    """A stretch a replica was out of rotation (down or too far behind)."""

    alias: str
    series: int
    x: float
    width: float
    seconds: float


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Row:
    """One sample, for the table: seconds ago, and per replica its lag and rotation."""

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


def x_of(at: float, now: float) -> float:
    return round(max(LEFT, LEFT + PLOT_WIDTH * (1 - (now - at) / WINDOW_SECONDS)), 1)


def draw(samples: list[Sample], now: float | None = None) -> Chart:
    now = time.time() if now is None else now
    samples = [sample for sample in samples if now - sample.at <= WINDOW_SECONDS]
    aliases = tuple(dict.fromkeys(r.alias for s in samples for r in s.replicas))
    lags = [r.lag_seconds for s in samples for r in s.replicas if r.lag_seconds is not None]
    top = float(max(1, math.ceil(max(lags, default=0.0))))

    def y_of(lag: float) -> float:
        return round(TOP + PLOT_HEIGHT * (1 - min(lag, top) / top), 1)

    lines, spans = [], []
    for index, alias in enumerate(aliases):
        series = index % SERIES  # colours repeat past the stylesheet's
        segments: list[list[str]] = [[]]
        out_since: float | None = None
        for sample in samples:
            replica = next((r for r in sample.replicas if r.alias == alias), None)
            if replica is None or replica.lag_seconds is None:
                if segments[-1]:
                    segments.append([])
            else:
                segments[-1].append(f"{x_of(sample.at, now)},{y_of(replica.lag_seconds)}")
            out = replica is not None and not replica.in_rotation
            if out and out_since is None:
                out_since = sample.at
            elif not out and out_since is not None:
                spans.append(span(alias, series, out_since, sample.at, now))
                out_since = None
        if out_since is not None:
            spans.append(span(alias, series, out_since, now, now))
        lines.append(Line(alias, series, tuple(" ".join(s) for s in segments if s)))
    ticks = tuple(Tick(y_of(top * part / 2), f"{top * part / 2:g} s") for part in (0, 1, 2))
    return Chart(
        aliases,
        tuple(lines),
        tuple(spans),
        ticks,
        tuple(row(sample, aliases, now) for sample in reversed(samples[-TABLE_ROWS:])),
        int(WINDOW_SECONDS),
        top,
    )


def span(alias: str, series: int, start: float, end: float, now: float) -> Span:
    x = x_of(start, now)
    return Span(alias, series, x, round(max(x_of(end, now) - x, 1.0), 1), round(end - start, 1))


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
