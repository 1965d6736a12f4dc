"""Lesson 16: ATOMIC_REQUESTS wraps every view in atomic(), and a router that reads the
primary inside any atomic block reads every page from the primary.

The demo's settings leave ATOMIC_REQUESTS off, and the lab's own process serves other
visitors meanwhile: it must not change DATABASES under them. So the run serves its
requests in a process of its own, whose settings turn it on for the primary
(`lab.atomic_requests_settings`, through `harness.run_under_atomic_requests`), with
Django's test client: the whole middleware, and the view wrapped by Django's own
handler. Under the naive router (the rule the routers had before: any block means the
primary), then under the routers.
"""

from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client, override_settings

from forum.models import Tag, Thread
from forum.views import thread
from routers import CausalRouter, conf, read_alias

from ..cluster import ControlError
from ..harness import run_under_atomic_requests
from ..trace import Statement, traced
from ..verdicts import EXTRA_PRIMARY_LOAD, FRESH, NOT_RUN, REPLICA_READ, STALE
from .base import Lesson, Outcome, lab_tag

# The rows of the run.
OUTSIDE = "no ATOMIC_REQUESTS"
NAIVE = "ATOMIC_REQUESTS, naive"
FIXED = "ATOMIC_REQUESTS, routers"
AFTER_A_WRITE = "ATOMIC_REQUESTS, a GET that writes"
AFTER_A_LOCK = "ATOMIC_REQUESTS, select_for_update()"
ROWS = (OUTSIDE, NAIVE, FIXED, AFTER_A_WRITE, AFTER_A_LOCK)

COMMAND = "lab_atomic_requests"


class InAtomicBlockRouter(CausalRouter):
    """The routers' rule before they told ATOMIC_REQUESTS's block apart: a read inside
    any atomic block open on the primary goes to the primary."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        primary = conf.primary_for(model._meta.app_label)
        if connections[primary].in_atomic_block:
            return primary
        return super().db_for_read(model, **hints)


# The views of the run, reached only through lab.atomic_requests_urls (in the run's
# process).


@transaction.non_atomic_requests
def thread_outside(request: HttpRequest, pk: int, slug: str) -> HttpResponse:
    """A thread's page, which Django does not wrap (a view of its own: the decorator
    marks the very function it is given)."""
    return thread(request, pk, slug)


def where_read(name: str) -> dict[str, Any]:
    return {"found": Tag.objects.filter(name=name).exists(), "alias": read_alias(Tag)}


def visit(request: HttpRequest, name: str) -> JsonResponse:
    """A GET that writes, as a visit counter does: a read, the write, a read."""
    where_read(name)
    Tag.objects.create(name=name)
    return JsonResponse(where_read(name))


def lock(request: HttpRequest, name: str) -> JsonResponse:
    """A GET that locks the tag's row to change it later in the request, then reads it."""
    where_read(name)
    list(Tag.objects.select_for_update().filter(name=name))
    return JsonResponse(where_read(name))


def show(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse(where_read(name))


def new_client() -> Client:
    """A client without cookies, served through the whole MIDDLEWARE, as a host the
    settings allow."""
    allowed = next(iter(settings.ALLOWED_HOSTS), "localhost")
    return Client(HTTP_HOST="localhost" if allowed == "*" else allowed.lstrip("."))


def fetched(url: str, client: Client | None = None) -> dict[str, Any]:
    """GET `url`: its status, its JSON body (if any), and every statement it ran, on
    which node."""
    with traced() as statements:
        response = (client or new_client()).get(url)
    json_body = response.headers.get("Content-Type") == "application/json"
    return {
        "status": response.status_code,
        "body": response.json() if json_body else {},
        "statements": [[s.at_ms, s.alias, s.verb, s.failed] for s in statements],
    }


def runs() -> dict[str, dict[str, Any]]:
    """Every row's requests, in the run's process (ATOMIC_REQUESTS on the primary)."""
    primary = conf.primary()
    if not connections.settings[primary].get("ATOMIC_REQUESTS"):
        raise ControlError(f"ATOMIC_REQUESTS is off on {primary!r} in this process")
    # The oldest thread: every replica has had time to replay it.
    page = Thread.objects.using(primary).order_by("pk").first()
    if page is None:
        raise ControlError("no thread to read: run manage.py seed_forum")
    found: dict[str, dict[str, Any]] = {}
    with override_settings(DATABASE_ROUTERS=[f"{__name__}.InAtomicBlockRouter"]):
        found[NAIVE] = fetched(page.get_absolute_url())
    with override_settings(DATABASE_ROUTERS=["routers.CausalRouter"]):
        found[OUTSIDE] = fetched(f"/lab-atomic-requests/outside{page.get_absolute_url()}")
        found[FIXED] = fetched(page.get_absolute_url())
        with lab_tag() as name:
            writer = new_client()
            wrote = fetched(f"/lab-atomic-requests/visit/{name}", writer)
            # The next request of the same client, with the cookies the write set.
            found[AFTER_A_WRITE] = {
                **fetched(f"/lab-atomic-requests/show/{name}", writer),
                "wrote": wrote,
            }
        with lab_tag() as name:
            Tag.objects.create(name=name)
            found[AFTER_A_LOCK] = fetched(f"/lab-atomic-requests/lock/{name}")
    return found


def statements_of(row: dict[str, Any]) -> tuple[Statement, ...]:
    return tuple(Statement(*each) for each in row["statements"])


def page_outcome(setup: str, row: dict[str, Any]) -> Outcome:
    """The thread page: the share of its statements a replica ran."""
    if (not_run := failed(setup, row)) is not None:
        return not_run
    trace = statements_of(row)
    if not trace:
        return Outcome(setup, NOT_RUN, "the page ran no statement")
    on_replicas = sum(1 for statement in trace if statement.alias in conf.replicas())
    share = f"{on_replicas} of {len(trace)} statements on a replica"
    percent = round(100 * on_replicas / len(trace))
    if on_replicas:
        return Outcome(setup, REPLICA_READ, f"{share} ({percent} %)", trace=trace)
    return Outcome(setup, EXTRA_PRIMARY_LOAD, f"{share} (0 %): all on the primary", trace=trace)


def failed(setup: str, *rows: dict[str, Any]) -> Outcome | None:
    """A NOT_RUN row for the first of `rows` that did not answer 200 (a node down, say)."""
    for row in rows:
        if row["status"] != 200:
            return Outcome(setup, NOT_RUN, f"a request answered {row['status']}")
    return None


def write_outcome(row: dict[str, Any]) -> Outcome:
    """The request after a GET that wrote: did it read the write?"""
    trace = statements_of(row["wrote"]) + statements_of(row)
    if (not_run := failed(AFTER_A_WRITE, row["wrote"], row)) is not None:
        return not_run
    if row["body"]["found"]:
        summary = (
            f"in the GET, the read after the write ran on {row['wrote']['body']['alias']}; "
            f"the next request read it back on {row['body']['alias']}"
        )
        return Outcome(AFTER_A_WRITE, FRESH, summary, trace=trace)
    summary = f"the next request missed it on {row['body']['alias']}"
    return Outcome(AFTER_A_WRITE, STALE, summary, trace=trace)


def lock_outcome(row: dict[str, Any]) -> Outcome:
    """The read after select_for_update(): on the primary, which has the locked row."""
    if (not_run := failed(AFTER_A_LOCK, row)) is not None:
        return not_run
    trace, alias = statements_of(row), row["body"]["alias"]
    if alias == conf.primary():
        summary = f"the read after the lock ran on {alias}, where the locked row is"
        return Outcome(AFTER_A_LOCK, FRESH, summary, trace=trace)
    summary = f"the read after the lock ran on {alias}, which may hold an older version"
    return Outcome(AFTER_A_LOCK, STALE, summary, trace=trace)


def run() -> list[Outcome]:
    try:
        found = run_under_atomic_requests(COMMAND)
    except ControlError as error:
        return [Outcome(setup, NOT_RUN, str(error)) for setup in ROWS]
    return [
        page_outcome(OUTSIDE, found[OUTSIDE]),
        page_outcome(NAIVE, found[NAIVE]),
        page_outcome(FIXED, found[FIXED]),
        write_outcome(found[AFTER_A_WRITE]),
        lock_outcome(found[AFTER_A_LOCK]),
    ]


LESSON = Lesson(
    number=16,
    slug="atomic-requests",
    title="ATOMIC_REQUESTS reads every page from the primary",
    problem="ATOMIC_REQUESTS wraps every view in atomic() on the "
    "[primary](../glossary.md#primary). A router that reads the primary inside any atomic "
    "block (a replica lacks the block's uncommitted writes) then reads every page there: "
    "the [replicas](../glossary.md#replica) serve nothing.",
    fix="Read ATOMIC_REQUESTS's own block like no block until the request writes or locks "
    "rows (select_for_update()); keep every other block, and the rest of such a request, on "
    "the primary.",
    run=run,
    compares="Setup",
)
