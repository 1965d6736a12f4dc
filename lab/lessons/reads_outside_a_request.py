"""Lesson 14: a script writes a row, then reads it back, with no request around it."""

from ..cluster import ControlError
from ..harness import manage_py_json
from ..verdicts import ERROR, FRESH, STALE
from .base import Lesson, Outcome, lab_tag, side_by_side, timeline_of

# Seconds a run of the script may take: Django's start-up and a few reads.
SCRIPT_TIMEOUT = 60


def write_then_read(strategy: str) -> Outcome:
    """`manage.py write_then_read`, in a process of its own as a deployment runs a
    command, routed with `strategy` (FORUM_ROUTING), as the demo's processes are."""
    with lab_tag() as name:
        try:
            story = manage_py_json(
                "write_then_read", name, timeout=SCRIPT_TIMEOUT, env={"FORUM_ROUTING": strategy}
            )
        except ControlError as error:
            return Outcome(strategy, ERROR, str(error))
    reads = story["reads"]
    missed = [read for read in reads if not read["found"]]
    where = ", ".join(read["alias"] for read in reads)
    timeline = timeline_of(
        (story["committed_at"], story["lsn"]), reads[0]["at"], reads[0]["alias"], reader="script"
    )
    if missed:
        return Outcome(
            strategy,
            STALE,
            f"{len(missed)} of {len(reads)} reads missed the script's own row (read on {where})",
            timeline,
        )
    return Outcome(strategy, FRESH, f"all {len(reads)} reads found it (read on {where})", timeline)


LESSON = Lesson(
    number=14,
    slug="reads-outside-a-request",
    title="A script reads back its own write",
    problem="A management command, a shell or a script creates a row and reads it back at "
    "once. No request carries a cookie for it, so the read goes to a "
    "[replica](../glossary.md#replica) that has not [replayed](../glossary.md#replay) the "
    "write yet.",
    fix="Code outside a request remembers its own writes in its context: its next reads are "
    "routed as a client carrying that write's [position](../glossary.md#lsn) would be, and "
    "each management command starts with a clean slate.",
    run=side_by_side(write_then_read),
)
