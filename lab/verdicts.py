"""What a lesson's result says it measured: one word from a small vocabulary, with a mark.

Every row of every lesson's results gets one of these, so "✘" always means the same
kind of thing in the lab: a word says what was measured (stale or fresh data, extra
load on the primary, a half-done change...), and the mark whether that is the outcome
the fix is after. The glossary page lists them all, each with an anchor its word links to.
"""

from dataclasses import dataclass

GOOD, BAD, NOT_RUN_MARK = "✔", "✘", "⊘"


@dataclass(frozen=True)
class Verdict:
    word: str
    #: Is this the outcome the fix is after? None: nothing was measured.
    good: bool | None
    meaning: str

    @property
    def mark(self) -> str:
        return NOT_RUN_MARK if self.good is None else GOOD if self.good else BAD

    @property
    def anchor(self) -> str:
        return "verdict-" + self.word.replace(" ", "-")


FRESH = Verdict("fresh", True, "Every read saw the writes it was looking for.")
STALE = Verdict(
    "stale",
    False,
    "A read missed a write the primary had already committed: it was served by a replica "
    "that had not replayed it yet.",
)
COHERENT = Verdict(
    "coherent",
    True,
    "Every read of the page ran on one node, so the page shows one point in time "
    "(an old one, if that node is behind).",
)
MIXED = Verdict(
    "mixed",
    False,
    "The reads of one page ran on different nodes, which can be at different points in "
    "time: a count and the list it counts may disagree.",
)
REPLICA_READ = Verdict("replica read", True, "The read was served by a replica.")
EXTRA_PRIMARY_LOAD = Verdict(
    "extra primary load",
    False,
    "A read a replica could have served went to the primary: no wrong data, but load the "
    "replicas were there to take.",
)
NO_ERROR = Verdict("no error", True, "Every statement ran on a node that could run it.")
ERROR = Verdict(
    "error",
    False,
    "A statement failed: a write sent to a standby, a node that is down, a cursor that "
    "another server connection never had.",
)
ALL_OR_NOTHING = Verdict(
    "all or nothing",
    True,
    "Both databases ended up agreeing: the whole change is there, or none of it.",
)
HALF_DONE = Verdict(
    "half-done",
    False,
    "One database kept its part of the change and the other lost (or doubled) its part.",
)
CHECKED = Verdict(
    "checked",
    True,
    "The read ran on the server connection the replay check had looked at.",
)
UNCHECKED = Verdict(
    "unchecked",
    False,
    "The read ran on a server connection the replay check never looked at: nothing says "
    "that server has the write.",
)
SHOWS_LAG = Verdict("shows lag", True, "The test setup meets the replication lag that users meet.")
HIDES_LAG = Verdict(
    "hides lag",
    False,
    "The test setup never meets the replication lag, so a test of it passes whatever the "
    "router does.",
)
LOSS_HIDDEN = Verdict(
    "loss hidden",
    False,
    "A write the database had acknowledged is on no node left after a failover, and "
    "nothing told the member who made it.",
)
LOSS_REPORTED = Verdict(
    "loss reported",
    True,
    "A write a failover lost was reported to the member who made it, once; their position "
    "was dropped and routing went on.",
)
NONE_LOST = Verdict(
    "none lost",
    True,
    "Every write the database acknowledged is on the node promoted in the failover.",
)
NOT_RUN = Verdict(
    "not run",
    None,
    "This stack lacks what the setup needs (the row says what): nothing was measured.",
)

VERDICTS = (
    FRESH,
    STALE,
    COHERENT,
    MIXED,
    REPLICA_READ,
    EXTRA_PRIMARY_LOAD,
    NO_ERROR,
    ERROR,
    ALL_OR_NOTHING,
    HALF_DONE,
    CHECKED,
    UNCHECKED,
    SHOWS_LAG,
    HIDES_LAG,
    LOSS_HIDDEN,
    LOSS_REPORTED,
    NONE_LOST,
    NOT_RUN,
)
