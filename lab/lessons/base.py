"""What every lesson is made of, and the helpers its scenario may share.

A lesson is a module of this package: its scenario (one strategy's run, an Outcome)
and its LESSON. Each has a doc (docs/lessons/NN-slug.md) and a test
(tests/lessons/test_NN_slug.py) under the same name. The scenarios leave nothing
behind: they delete what they create. What a run needs around its scenario (a
strategy for a block, a replica held back, a process to kill, connections through the
pooler) is in lab/harness.py.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory
from django.utils.safestring import SafeString

from analytics.models import Event
from forum.models import OutboxEvent, Tag
from routers import RoutingMiddleware, conf

from ..docs import plain, render_file, render_inline
from ..timeline import Picture, Timeline, watch_replay
from ..trace import Statement, TracePicture
from ..verdicts import ERROR, NOT_RUN, Verdict


@dataclass(frozen=True)
class Outcome:
    """One strategy's run of a scenario: what it measured (its verdict), and what happened."""

    strategy: str
    verdict: Verdict
    summary: str
    #: For a write followed by a read: when each happened, drawn on the lesson page.
    timeline: Timeline | None = None
    #: Every statement of the scenario's story, and the node that ran it.
    trace: tuple[Statement, ...] = field(default=())
    #: The trace's lanes, when they are not the cluster's nodes.
    lanes: tuple[str, ...] = field(default=())

    @property
    def correct(self) -> bool:
        """Is this the outcome the fix is after? (Not when nothing was measured.)"""
        return self.verdict.good is True

    @property
    def picture(self) -> Picture | None:
        return None if self.timeline is None else Picture(self.timeline, found=self.correct)

    @property
    def trace_picture(self) -> TracePicture:
        return TracePicture(self.trace, self.lanes)


@dataclass(frozen=True, kw_only=True)
class Lesson:
    """A lesson. Its problem and fix are a sentence of markdown each, whose terms may
    link to the glossary as the docs do (`[replica](../glossary.md#replica)`)."""

    number: int
    slug: str
    title: str
    problem: str
    fix: str
    run: Callable[[], list[Outcome]]
    #: Its page offers the cluster panel's pause and resume (when LAB_CLUSTER_CONTROLS).
    replica_controls: bool = False
    #: What its rows compare: strategies, for most lessons.
    compares: str = "Strategy"
    #: What Run it does to the cluster to make the failure happen, where the cluster
    #: controls are on (`{max_lag_seconds}` is filled in); empty when it changes nothing.
    before_run: str = ""

    @property
    def doc(self) -> str:
        return f"docs/lessons/{self.number:02d}-{self.slug}.md"

    def doc_html(self) -> SafeString:
        """The lesson's doc, rendered: one source for the repository and the lab page."""
        return render_file(self.doc)

    def problem_html(self) -> SafeString:
        return render_inline(self.problem)

    def fix_html(self) -> SafeString:
        return render_inline(self.fix)

    def problem_text(self) -> str:
        return plain(self.problem)

    def before_run_text(self) -> str:
        return self.before_run.format(max_lag_seconds=conf.max_lag_seconds())

    @property
    def test(self) -> str:
        return f"tests/lessons/test_{self.number:02d}_{self.slug.replace('-', '_')}.py"


# Lessons 6 and 7 draw both databases, whether a statement ran on each or not.
TWO_DATABASES = ("default", "analytics")

# When a write's request returned, and the primary's position then.
Committed = tuple[float, int | None]


@contextmanager
def lab_tag() -> Iterator[str]:
    """A unique tag name for one run; the tag is deleted afterwards."""
    name = f"lab-{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        Tag.objects.using(conf.primary()).filter(name=name).delete()


@contextmanager
def lab_events(name: str) -> Iterator[None]:
    """Delete the run's activity events (titled `name`) afterwards, whatever happened:
    in analytics, and still in the forum's outbox."""
    try:
        yield
    finally:
        Event.objects.using("analytics").filter(title=name).delete()
        OutboxEvent.objects.using("default").filter(title=name).delete()


def follow(
    written: HttpResponseBase, read: Callable[[HttpRequest], HttpResponse], committed: Committed
) -> tuple[bool, str, Timeline | None]:
    """The GET after a write, with the cookies it set, through the real middleware.

    `read` answers "found:alias". Returns whether it found the write, where it read,
    and the timeline of the write `committed` (time, LSN) and this read.
    """
    request = RequestFactory().get("/")
    request.COOKIES = {name: morsel.value for name, morsel in written.cookies.items()}
    read_at = time.monotonic()
    found, alias = RoutingMiddleware(read)(request).content.decode().split(":")
    return found == "True", alias, timeline_of(committed, read_at, alias)


def timeline_of(
    committed: Committed, read_at: float, alias: str, reader: str = "browser"
) -> Timeline | None:
    """The timeline of a write committed at `committed` (time, LSN), read from `alias`
    by `reader`."""
    committed_at, lsn = committed
    watched = alias if alias in conf.replicas() else next(iter(conf.replicas()), None)
    if lsn is None or watched is None:
        return None
    return Timeline(
        commit_lsn=lsn,
        read_ms=round((read_at - committed_at) * 1000, 1),
        served_by=alias,
        replica=watched,
        committed_at=committed_at,
        reader=reader,
    )


# The strategies a side-by-side lesson compares, in the order its table shows them.
COMPARED = ("naive", "sticky", "causal")


def not_run_side_by_side(why: str) -> list[Outcome]:
    """A side-by-side lesson's rows when its setup could not be made: nothing measured."""
    return [Outcome(strategy, NOT_RUN, why) for strategy in COMPARED]


def side_by_side(scenario: Callable[[str], Outcome]) -> Callable[[], list[Outcome]]:
    """Run `scenario` under naive, sticky and causal; then see when the replicas replayed."""

    def run_one(strategy: str) -> Outcome:
        try:
            return scenario(strategy)
        except DatabaseError as error:  # naive meeting a dead replica, typically
            return Outcome(strategy, ERROR, f"the page failed: {error}")

    def run() -> list[Outcome]:
        outcomes = [run_one(strategy) for strategy in COMPARED]
        watched = iter(watch_replay([o.timeline for o in outcomes if o.timeline is not None]))
        return [
            outcome if outcome.timeline is None else replace(outcome, timeline=next(watched))
            for outcome in outcomes
        ]

    return run
