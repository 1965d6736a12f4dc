"""The lab's lessons: each gotcha, run live against the real stack, naive beside fixed.

Every lesson has a doc (docs/lessons/NN-slug.md) and a test
(tests/lessons/test_NN_slug.py) under the same name. The scenarios here leave nothing
behind: they delete what they create.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import DatabaseError, connection, connections, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from markdown_it import MarkdownIt

from forum.models import Post, Tag
from routers import (
    RequestState,
    conf,
    current_state,
    cursor_for_read,
    read_alias,
    replica_aware_get_or_create,
    replicas,
    request_scope,
)
from routers.middleware import RoutingMiddleware
from routers.views import describe_nodes

from .timeline import Picture, Timeline, watch_replay


@dataclass(frozen=True)
class Outcome:
    """One strategy's run of a scenario: did the page behave, and what happened."""

    strategy: str
    correct: bool
    summary: str
    #: For a write followed by a read: when each happened, drawn on the lesson page.
    timeline: Timeline | None = None

    @property
    def picture(self) -> Picture | None:
        return None if self.timeline is None else Picture(self.timeline, found=self.correct)


_markdown = MarkdownIt("commonmark", {"html": False})


@dataclass(frozen=True)
class Lesson:
    number: int
    slug: str
    title: str
    problem: str
    fix: str
    run: Callable[[], list[Outcome]]

    @property
    def doc(self) -> str:
        return f"docs/lessons/{self.number:02d}-{self.slug}.md"

    def doc_html(self) -> str:
        """The lesson's doc, rendered: one source for the repository and the lab page.

        Its title is left out (the page has its own). Raw HTML in the markdown is
        escaped, not passed through, and markdown-it refuses javascript: links.
        """
        text = (settings.BASE_DIR / self.doc).read_text(encoding="utf-8")
        if text.startswith("# "):
            text = text.split("\n", 1)[1]
        return _markdown.render(text)

    @property
    def test(self) -> str:
        return f"tests/lessons/test_{self.number:02d}_{self.slug.replace('-', '_')}.py"


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


def post_then_redirect(strategy: str) -> Outcome:
    """A POST that writes, then the GET it redirects to, through the real middleware."""
    factory = RequestFactory()
    with lab_tag() as name:

        def write(request: HttpRequest) -> HttpResponse:
            current_state().strategy = strategy  # type: ignore[union-attr]
            Tag.objects.create(name=name)
            return HttpResponse(status=302)

        def read(request: HttpRequest) -> HttpResponse:
            current_state().strategy = strategy  # type: ignore[union-attr]
            found = Tag.objects.filter(name=name).exists()
            return HttpResponse(f"{found}:{read_alias(Tag)}")

        written = RoutingMiddleware(write)(factory.post("/"))
        committed = time.monotonic(), replicas.primary_lsn()
        found, alias, timeline = follow(written, read, committed)
    if found:
        return Outcome(strategy, True, f"the redirect found the new row on {alias}", timeline)
    return Outcome(strategy, False, f"404: {alias} has not replayed the write yet", timeline)


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


def timeline_of(committed: Committed, read_at: float, alias: str) -> Timeline | None:
    """The timeline of a write committed at `committed` (time, LSN), read from `alias`."""
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
    )


def reads_inside_atomic(strategy: str) -> Outcome:
    with (
        lab_tag() as name,
        request_scope(RequestState(strategy=strategy)),
        transaction.atomic(using=conf.primary()),
    ):
        Tag.objects.create(name=name)
        alias = read_alias(Tag)
        found = Tag.objects.filter(name=name).exists()
        transaction.set_rollback(True, using=conf.primary())
    if found:
        return Outcome(strategy, True, f"read back inside the block, on {alias}")
    return Outcome(strategy, False, f"missed its own write: {alias} cannot see it")


def get_or_create(strategy: str) -> Outcome:
    """Look up a tag that exists everywhere: which alias answers each way?"""
    tag = Tag.objects.using(conf.primary()).first()
    if tag is None:
        return Outcome(strategy, False, "no tag to look up: run manage.py seed_forum")
    with request_scope(RequestState(strategy=strategy)):
        read_alias(Tag)  # decide the request's alias first: count only the lookup
        with CaptureQueriesContext(connections[conf.primary()]) as on_primary:
            if strategy == "naive":
                Tag.objects.get_or_create(name=tag.name)
            else:
                replica_aware_get_or_create(Tag.objects, name=tag.name)
    if on_primary.captured_queries:
        return Outcome(strategy, False, "get_or_create looked it up on the primary")
    return Outcome(strategy, True, "the helper found it without touching the primary")


def generic_relation_writes(strategy: str) -> Outcome:
    post = Post.objects.using(conf.primary()).first()
    if post is None:
        return Outcome(strategy, False, "no post to try it on: run manage.py seed_forum")
    with request_scope(RequestState(strategy=strategy)):
        alias = post.reactions.all().db
        try:
            # Matches no row: a harmless write, but a write all the same.
            post.reactions.filter(kind="no-such-kind").update(kind="like")
        except DatabaseError as error:
            return Outcome(strategy, False, f"the update went to {alias}: {error}")
    return Outcome(strategy, True, f"the update went to {alias}")


def raw_sql(strategy: str) -> Outcome:
    with lab_tag() as name:
        Tag.objects.create(name=name)
        with request_scope(RequestState(strategy=strategy)):
            orm_alias = read_alias(Tag)
            orm = Tag.objects.filter(name=name).count()
            cursor = connection.cursor() if strategy == "naive" else cursor_for_read(Tag)
            with cursor:
                cursor.execute("SELECT count(*) FROM forum_tag WHERE name = %s", [name])
                raw = cursor.fetchone()[0]
            raw_alias = cursor.db.alias
    if raw_alias == orm_alias:
        return Outcome(strategy, True, f"ORM and raw SQL both read {orm_alias} ({orm} = {raw})")
    return Outcome(
        strategy,
        False,
        f"ORM read {orm_alias} ({orm} rows), raw SQL read {raw_alias} ({raw} rows)",
    )


def dead_or_lagging_replica(strategy: str) -> Outcome:
    nodes = describe_nodes()
    down = [r["alias"] for r in nodes["replicas"] if not r["up"]]
    with request_scope(RequestState(strategy=strategy)):
        try:
            # A page's worth of reads: a per-query choice meets every replica.
            for _ in range(2 * len(conf.replicas())):
                Tag.objects.exists()
            alias = read_alias(Tag)
        except DatabaseError as error:
            return Outcome(strategy, False, f"the read failed: {error}")
    state = f"down: {', '.join(down)}" if down else "every replica is up"
    return Outcome(strategy, True, f"read from {alias} ({state})")


def replica_per_query(strategy: str) -> Outcome:
    with request_scope(RequestState(strategy=strategy)):
        aliases = {read_alias(Tag) for _ in range(6)}
    if len(aliases) > 1:
        return Outcome(strategy, False, f"one page read {', '.join(sorted(aliases))}")
    return Outcome(strategy, True, f"every query of the page read {aliases.pop()}")


def session_after_login(strategy: str) -> Outcome:
    """A login (a new session row on the primary), then the next page loads the session."""
    factory = RequestFactory()
    user = User.objects.using(conf.primary()).order_by("pk").first()
    if user is None:
        return Outcome(strategy, False, "no user to log in: run manage.py seed_forum")
    store_class = import_module(settings.SESSION_ENGINE).SessionStore

    def log_in(request: HttpRequest) -> HttpResponse:
        current_state().strategy = strategy  # type: ignore[union-attr]
        session = store_class()
        session[SESSION_KEY] = str(user.pk)
        session.create()
        return HttpResponse(session.session_key)

    def next_page(request: HttpRequest) -> HttpResponse:
        current_state().strategy = strategy  # type: ignore[union-attr]
        found = SESSION_KEY in store_class(session_key=key).load()
        return HttpResponse(f"{found}:{read_alias(Session)}")

    written = RoutingMiddleware(log_in)(factory.post("/login/"))
    committed = time.monotonic(), replicas.primary_lsn()
    key = written.content.decode()
    try:
        found, alias, timeline = follow(written, next_page, committed)
    finally:
        Session.objects.using(conf.primary()).filter(session_key=key).delete()
    if found:
        return Outcome(strategy, True, f"still logged in: {alias} had the session", timeline)
    return Outcome(
        strategy,
        False,
        f"logged out: {alias} has no such session yet, Django drops the cookie",
        timeline,
    )


def side_by_side(scenario: Callable[[str], Outcome]) -> Callable[[], list[Outcome]]:
    """Run `scenario` under naive, sticky and causal; then see when the replicas replayed."""

    def run() -> list[Outcome]:
        outcomes = [scenario(strategy) for strategy in ("naive", "sticky", "causal")]
        watched = iter(watch_replay([o.timeline for o in outcomes if o.timeline is not None]))
        return [
            outcome if outcome.timeline is None else replace(outcome, timeline=next(watched))
            for outcome in outcomes
        ]

    return run


LESSONS = [
    Lesson(
        1,
        "post-redirect-lag",
        "Post, redirect, 404",
        "A write goes to the primary; the page the browser is redirected to is read from "
        "a replica that has not replayed it yet.",
        "sticky pins the writer to the primary for a few seconds; causal waits for a "
        "replica that has replayed the writer's WAL position.",
        side_by_side(post_then_redirect),
    ),
    Lesson(
        2,
        "reads-inside-atomic",
        "Reads inside atomic()",
        "Inside a transaction, a read sent to a replica cannot see the transaction's own, "
        "uncommitted writes.",
        "While the primary has a transaction open, read from the primary.",
        side_by_side(reads_inside_atomic),
    ),
    Lesson(
        3,
        "get-or-create",
        "get_or_create always hits the primary",
        "get_or_create may write, so Django sends even its lookup to the primary.",
        "replica_aware_get_or_create looks on a replica first.",
        side_by_side(get_or_create),
    ),
    Lesson(
        4,
        "generic-relation-writes",
        "Generic relations: writes routed as reads",
        "A GenericRelation's manager binds its queryset with db_for_read, so update() and "
        "delete() through it go to a replica (Django ticket #36389).",
        "Read models with generic relations from the primary.",
        side_by_side(generic_relation_writes),
    ),
    Lesson(
        5,
        "raw-sql-bypasses-routers",
        "Raw SQL bypasses the routers",
        "django.db.connection is always the default alias: raw SQL reads the primary "
        "while the ORM reads a replica.",
        "cursor_for_read(Model) opens the cursor where the ORM would read.",
        side_by_side(raw_sql),
    ),
    Lesson(
        8,
        "dead-or-lagging-replica",
        "A dead or far-behind replica",
        "A router that picks replicas blindly sends queries to one that is down or minutes "
        "behind. Stop one (the Cluster page gives the command) and run this again.",
        "Pick among replicas that answer and are not too far behind; else the primary.",
        side_by_side(dead_or_lagging_replica),
    ),
    Lesson(
        9,
        "replica-per-query",
        "A replica per query",
        "With several replicas at different lag, choosing one per query mixes two points in "
        "time on one page. Needs two replicas: make demo REPLICAS=2.",
        "Choose the replica once per request.",
        side_by_side(replica_per_query),
    ),
    Lesson(
        12,
        "sessions-on-a-lagging-replica",
        "Logged out right after logging in",
        "A login writes a session row on the primary. The next page reads the session from "
        "a replica that has not replayed it: Django finds no session, treats the user as a "
        "visitor and deletes the session cookie.",
        "Read-your-writes (sticky or causal) covers the login like any write; or read the "
        "sessions and auth apps from the primary; or keep sessions out of the database.",
        side_by_side(session_after_login),
    ),
]
LESSONS_BY_SLUG = {lesson.slug: lesson for lesson in LESSONS}
