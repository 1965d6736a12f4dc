"""The lab's first page: how streaming replication works, one idea per step.

After "The Secret Lives of Data": every step draws every node (Django, the primary, the
standby) and the WAL records on each, and says one thing in a sentence under the
picture. The pictures are server-rendered SVG (lab/_replication_step.html), described
in words for a screen reader, so they read without JavaScript. The story is the one
the lab's lessons start from: a reply written on the primary, read from a standby with
the demo's 2 s apply delay. Its positions are made up, in PostgreSQL's format.
"""

from dataclasses import dataclass

from django.utils.safestring import SafeString

from .docs import render_inline


@dataclass(frozen=True)
class Record:
    kind: str  # INSERT, COMMIT
    lsn: str  # where it starts in the WAL


# Two transactions: the reply (an INSERT and its COMMIT), and a later one.
RECORDS = (
    Record("INSERT", "0/3000060"),
    Record("COMMIT", "0/30000D0"),
    Record("INSERT", "0/3000108"),
    Record("COMMIT", "0/3000178"),
)

# Where things go in the SVG (viewBox 640 x 250).
FIRST_RECORD_X, RECORD_WIDTH, RECORD_GAP = 150, 104, 8
LANES = {"django": 30, "primary": 105, "standby": 190}
RECORD_HEIGHT = 36
STATE_WORDS = {
    "written": "written",
    "flushed": "flushed",
    "received": "received",
    "replayed": "replayed",
    "held": "held back",
}


@dataclass(frozen=True)
class Box:
    x: int
    record: Record
    state: str  # one of STATE_WORDS, or "" for a record the node does not have

    @property
    def middle(self) -> int:
        return self.x + RECORD_WIDTH // 2

    @property
    def word(self) -> str:
        return STATE_WORDS.get(self.state, "")


@dataclass(frozen=True)
class Query:
    """Django's statement in this step, and the node it runs on."""

    node: str  # "primary" or "standby"
    label: str
    ok: bool = True


@dataclass(frozen=True)
class Step:
    #: The sentence under the picture: markdown, its terms linked to the glossary.
    text: str
    primary: tuple[str, ...]  # each record's state on the primary
    standby: tuple[str, ...] = ("", "", "", "")  # ... and on the standby
    query: Query | None = None
    streaming: bool = False
    #: A line of numbers drawn under the standby (how far behind it is).
    note: str = ""

    @property
    def html(self) -> SafeString:
        return render_inline(self.text)

    @property
    def lanes(self) -> dict[str, int]:
        return LANES

    def _boxes(self, states: tuple[str, ...]) -> list[Box]:
        return [
            Box(FIRST_RECORD_X + index * (RECORD_WIDTH + RECORD_GAP), record, state)
            for index, (record, state) in enumerate(zip(RECORDS, states, strict=True))
        ]

    @property
    def primary_boxes(self) -> list[Box]:
        return self._boxes(self.primary)

    @property
    def standby_boxes(self) -> list[Box]:
        return self._boxes(self.standby)

    @property
    def description(self) -> str:
        """The picture in words, for a screen reader."""

        def node(name: str, boxes: list[Box]) -> str:
            held = [
                f"{box.record.kind} at {box.record.lsn} {box.word}" for box in boxes if box.state
            ]
            return f"{name}: {', '.join(held) if held else 'none of these records'}"

        parts = [node("primary", self.primary_boxes), node("standby", self.standby_boxes)]
        if self.query is not None:
            parts.append(f"Django's {self.query.label} runs on the {self.query.node}")
        if self.note:
            parts.append(self.note)
        return "; ".join(parts) + "."


STEPS = (
    Step(
        "Django sends every write through the [alias](../glossary.md#alias) `default`, which "
        "points at the [primary](../glossary.md#primary). The primary first writes the change "
        "as a record of its [WAL](../glossary.md#wal), at a position called its "
        "[LSN](../glossary.md#lsn): here an INSERT at `0/3000060`.",
        primary=("written", "", "", ""),
        query=Query("primary", "INSERT"),
    ),
    Step(
        "At COMMIT the primary [flushes](../glossary.md#flush) its WAL to disk, up to the "
        "commit record, and only then tells Django the write is done. The "
        "[standby](../glossary.md#standby) has none of it yet.",
        primary=("flushed", "flushed", "", ""),
        query=Query("primary", "COMMIT: done"),
    ),
    Step(
        "The standby streams the WAL the primary has flushed and writes it to its own disk: "
        "it has [received](../glossary.md#receive) the reply. Received is not applied: no "
        "query on the standby sees the new row yet.",
        primary=("flushed", "flushed", "", ""),
        standby=("received", "received", "", ""),
        streaming=True,
    ),
    Step(
        "[Replay](../glossary.md#replay) applies the records in order. The INSERT is "
        "applied at once, but the [apply delay](../glossary.md#apply-delay) "
        "(`recovery_min_apply_delay = 2s` in the demo) holds the COMMIT back until the "
        "standby's clock is 2 s past the commit's time on the primary.",
        primary=("flushed", "flushed", "", ""),
        standby=("replayed", "held", "", ""),
        streaming=True,
    ),
    Step(
        "A read through the alias `replica` runs on the standby and sees its data as of "
        "what it has replayed: without the reply, whose commit is still held back. This is "
        "the 404 of lesson 1: the standby [lags](../glossary.md#lag).",
        primary=("flushed", "flushed", "", ""),
        standby=("replayed", "held", "", ""),
        query=Query("standby", "SELECT: not there", ok=False),
        streaming=True,
    ),
    Step(
        "The primary goes on: another transaction, from `0/3000108`. The standby receives "
        "it, but replay goes in order, so everything after the held commit waits behind it.",
        primary=("flushed", "flushed", "flushed", "flushed"),
        standby=("replayed", "held", "received", "received"),
        streaming=True,
    ),
    Step(
        "2 s after the commit, replay applies it, and the reply is visible on the standby: "
        "its replay position (`pg_last_wal_replay_lsn()`) has passed the commit's LSN. The "
        "same read now finds it.",
        primary=("flushed", "flushed", "flushed", "flushed"),
        standby=("replayed", "replayed", "replayed", "held"),
        query=Query("standby", "SELECT: found"),
        streaming=True,
    ),
    Step(
        "How far behind is it? [In bytes](../glossary.md#lag-in-bytes): the WAL the primary "
        "wrote past the standby's replay position. [In seconds](../glossary.md#lag-in-seconds): "
        "how old the oldest commit it has not applied is. They are not the same thing: a "
        "standby [paused](../glossary.md#pause) behind a quiet primary stays a few bytes "
        "behind while its data ages, and behind a busy one its bytes grow with every write.",
        primary=("flushed", "flushed", "flushed", "flushed"),
        standby=("replayed", "replayed", "replayed", "held"),
        streaming=True,
        note="behind: the WAL from 0/3000178 on (in bytes), and that commit's age (in seconds)",
    ),
    Step(
        "So a read right after a write must not trust any standby. The lab's fixes: "
        "[sticky](../glossary.md#sticky) sends the writer's reads to the primary for a few "
        "seconds; [causal](../glossary.md#causal) remembers the primary's LSN after the "
        "write and reads from a standby only once its replay position has reached it. The "
        "lessons show what else goes wrong.",
        primary=("flushed", "flushed", "flushed", "flushed"),
        standby=("replayed", "replayed", "replayed", "held"),
        query=Query("primary", "SELECT after a write: found"),
        streaming=True,
    ),
)
