"""Timelines for the lab: one write, the read after it, and the replica's replay, drawn.

A lesson whose scenario writes and then reads records a Timeline per strategy. After
the run, `watch_replay` notes when the replica replayed each write, and `Picture`
turns a timeline into the coordinates of a small server-rendered SVG (see
lab/_timeline.html), readable without JavaScript.
"""

import time
from dataclasses import dataclass, field, replace

from routers import conf, format_lsn, probe

# The longest the lab waits to see a replica replay the writes of one run.
REPLAY_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Timeline:
    """A write and the read after it; times in milliseconds after the write's commit."""

    commit_lsn: int
    read_ms: float
    served_by: str
    replica: str
    committed_at: float = field(repr=False)  # time.monotonic() when the write returned
    # When the lab first saw `replica` past the write (it polls after the run, so this
    # is an upper bound); None: not seen within REPLAY_WAIT_SECONDS.
    replayed_ms: float | None = None
    #: Who read: the lane's label.
    reader: str = "browser"


def watch_replay(timelines: list[Timeline]) -> list[Timeline]:
    """The same timelines, with the moment each replica replayed its write."""
    pending = list(timelines)
    done: dict[int, Timeline] = {}
    deadline = time.monotonic() + REPLAY_WAIT_SECONDS
    while pending and time.monotonic() < deadline:
        for timeline in list(pending):
            position = probe(timeline.replica).lsn
            if position is not None and position >= timeline.commit_lsn:
                elapsed = (time.monotonic() - timeline.committed_at) * 1000
                done[id(timeline)] = replace(timeline, replayed_ms=round(elapsed))
                pending.remove(timeline)
        time.sleep(0.02)
    return [done.get(id(timeline), timeline) for timeline in timelines]


WIDTH, LEFT, RIGHT = 640, 96, 24
LANES = {"primary": 34, "replica": 84, "reader": 134}


@dataclass(frozen=True)
class Picture:
    """Where everything of one timeline goes in the SVG (viewBox 640 x 160)."""

    timeline: Timeline
    found: bool  # did the read find the write?

    @property
    def span_ms(self) -> float:
        replayed = self.timeline.replayed_ms
        if replayed is None:
            replayed = REPLAY_WAIT_SECONDS * 1000
        return max(self.timeline.read_ms, replayed, 100.0) * 1.08

    def x(self, ms: float) -> float:
        return round(LEFT + ms / self.span_ms * (WIDTH - LEFT - RIGHT), 1)

    @property
    def commit_x(self) -> float:
        return self.x(0)

    @property
    def read_x(self) -> float:
        return self.x(self.timeline.read_ms)

    @property
    def replay_x(self) -> float:
        replayed = self.timeline.replayed_ms
        return self.x(self.span_ms if replayed is None else replayed)

    @property
    def replay_anchor(self) -> str:
        """Where the replay's label hangs: never past the picture's right edge."""
        return "end" if self.replay_x > WIDTH - 110 else "middle"

    @property
    def missing_width(self) -> float:
        """The replica's stretch without the write: from the commit to its replay."""
        return round(self.replay_x - self.commit_x, 1)

    @property
    def missing_middle(self) -> float:
        return round((self.commit_x + self.replay_x) / 2, 1)

    @property
    def end_x(self) -> float:
        return WIDTH - RIGHT

    @property
    def on_primary(self) -> bool:
        return self.timeline.served_by == conf.primary()

    @property
    def served_y(self) -> int:
        return LANES["primary"] if self.on_primary else LANES["replica"]

    @property
    def lanes(self) -> dict[str, int]:
        return LANES

    @property
    def commit_text(self) -> str:
        return f"write committed at {format_lsn(self.timeline.commit_lsn)}"

    @property
    def read_text(self) -> str:
        return f"read at +{self.timeline.read_ms:.0f} ms"

    @property
    def caption(self) -> str:
        """What the picture shows, in one sentence: also what a screen reader reads."""
        timeline = self.timeline
        read = f"The read came {timeline.read_ms:.0f} ms after the commit"
        replayed = (
            f"{timeline.replica} was seen with the write {timeline.replayed_ms / 1000:.1f} s "
            "after the commit"
            if timeline.replayed_ms is not None
            else f"{timeline.replica} had not replayed it {REPLAY_WAIT_SECONDS:.0f} s later"
        )
        if self.on_primary:
            return f"{read} and went to the primary, which has every commit. ({replayed}.)"
        if not self.found:
            return f"{read} and went to {timeline.served_by}, too early: {replayed}."
        return f"{read} and went to {timeline.served_by}, which already had it."

    @property
    def replay_text(self) -> str:
        if self.timeline.replayed_ms is None:
            return f"not replayed within {REPLAY_WAIT_SECONDS:.0f} s"
        return f"replayed by +{self.timeline.replayed_ms / 1000:.1f} s"
