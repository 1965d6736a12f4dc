"""Views that write and read in the ways real projects do, for the read-your-writes tests.

Each writing view creates a tag through some path the ORM does not take (raw COPY, a
function, a composed statement, a worker thread...). `/tag/<name>` then answers 200 if
the request's reads can see the tag and 404 if not, naming the alias that served it.
"""

import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.db import DataError, connections, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from psycopg import sql
from rest_framework.authentication import TokenAuthentication
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.models import Event
from forum.models import Board, Tag, Thread
from routers import (
    conf,
    current_state,
    in_request_context,
    lost_writes,
    member_authenticated,
    read_alias,
    request_scope,
    use_primary,
)
from tests.helpers import connect, free_port, refuse_connections


def tag_found(name: str) -> str:
    return f"{Tag.objects.filter(name=name).exists()}:{read_alias(Tag)}"


def show_tag(request: HttpRequest, name: str) -> HttpResponse:
    found, alias = tag_found(name).split(":")
    return HttpResponse(alias, status=200 if found == "True" else 404)


def write_then_stream(request: HttpRequest, name: str) -> StreamingHttpResponse:
    Tag.objects.create(name=name)

    def body() -> Iterator[str]:
        yield "streamed:"
        yield tag_found(name)

    return StreamingHttpResponse(body())


async def write_then_stream_async(request: HttpRequest, name: str) -> StreamingHttpResponse:
    await Tag.objects.acreate(name=name)

    async def body() -> AsyncIterator[str]:
        yield "streamed:"
        yield await sync_to_async(tag_found)(name)

    return StreamingHttpResponse(body())


def aliases_read() -> list[str]:
    """The aliases this request's statements ran on so far, the routers' probes excluded."""
    state = current_state()
    return sorted(state.queries) if state is not None else []


# aiterator() asks the routers for its alias on the event loop, where no query may run.
@csrf_exempt
async def tag_names_async(request: HttpRequest) -> JsonResponse:
    names = [tag.name async for tag in Tag.objects.aiterator()]
    return JsonResponse({"names": names, "aliases": aliases_read()})


async def tag_names_after_a_read_async(request: HttpRequest) -> JsonResponse:
    """The same, after a first read that runs in Django's thread (as every async ORM call
    but aiterator() does): the routers choose there."""
    await Tag.objects.aexists()
    names = [tag.name async for tag in Tag.objects.aiterator()]
    return JsonResponse({"names": names, "aliases": aliases_read()})


async def stream_tag_names_async(request: HttpRequest) -> StreamingHttpResponse:
    async def body() -> AsyncIterator[str]:
        yield "streamed:"
        async for tag in Tag.objects.aiterator():
            yield f"{tag.name},"
        yield f":{','.join(aliases_read())}:end"

    return StreamingHttpResponse(body())


@csrf_exempt
async def create_tag_async(request: HttpRequest, name: str) -> JsonResponse:
    """Create a tag, then list them all as tag_names_async does."""
    await Tag.objects.acreate(name=name)
    names = [tag.name async for tag in Tag.objects.aiterator()]
    return JsonResponse({"names": names, "aliases": aliases_read()})


def stream_write_then_read(request: HttpRequest, name: str) -> StreamingHttpResponse:
    def body() -> Iterator[str]:
        Tag.objects.create(name=name)
        yield "streamed:"
        yield tag_found(name)

    return StreamingHttpResponse(body())


def primary_cursor():  # type: ignore[no-untyped-def]
    return connections[conf.primary()].cursor()


def copy_in(request: HttpRequest, name: str) -> HttpResponse:
    with primary_cursor() as cursor, cursor.copy("COPY forum_tag (name) FROM STDIN") as copy:
        copy.write_row((name,))
    return HttpResponse("copied")


def call_function(request: HttpRequest, name: str) -> HttpResponse:
    with primary_cursor() as cursor:
        cursor.execute("SELECT routers_test_add_tag(%s)", [name])
    return HttpResponse("called")


def several_statements(request: HttpRequest, name: str) -> HttpResponse:
    with primary_cursor() as cursor:
        # Parameters would make psycopg use the extended protocol, one statement only.
        quoted = name.replace("'", "''")
        cursor.execute(
            f"SET search_path TO public; INSERT INTO forum_tag (name) VALUES ('{quoted}')"
        )
    return HttpResponse("sent")


def server_side_cursor(request: HttpRequest, name: str) -> HttpResponse:
    # What QuerySet.iterator() uses: a named cursor Django builds itself.
    with connections[conf.primary()].chunked_cursor() as cursor:
        cursor.execute("SELECT routers_test_add_tag(%s)", [name])
        cursor.fetchall()
    return HttpResponse("iterated")


def psycopg_named_cursor(request: HttpRequest, name: str) -> HttpResponse:
    primary = connections[conf.primary()]
    # psycopg's own named cursor, on Django's connection; it needs a transaction.
    with (
        transaction.atomic(using=conf.primary()),
        primary.connection.cursor(name="routers_test") as cursor,
    ):
        cursor.execute("SELECT routers_test_add_tag(%s)", [name])
        cursor.fetchall()
    return HttpResponse("fetched")


def write_then_lose_connection(request: HttpRequest, name: str) -> HttpResponse:
    """Write, then have the server drop this request's connection to the primary."""
    Tag.objects.create(name=name)
    primary = connections[conf.primary()]
    pid = primary.connection.info.backend_pid
    with connect(conf.primary(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    return HttpResponse("written, then disconnected")


def commit_then_fail(request: HttpRequest, name: str) -> HttpResponse:
    quoted = name.replace("'", "''")
    try:
        with primary_cursor() as cursor:
            # The insert commits, then the statement string fails: a batch that
            # commits part-way through, as a procedure may.
            cursor.execute(
                f"INSERT INTO forum_tag (name) VALUES ('{quoted}'); COMMIT; SELECT 1 / 0"
            )
    except DataError:
        return HttpResponse("partly failed")
    return HttpResponse("did not fail")


def composed_write(request: HttpRequest, name: str) -> HttpResponse:
    statement = sql.SQL("INSERT INTO {} (name) VALUES ({})").format(
        sql.Identifier("forum_tag"), sql.Literal(name)
    )
    with primary_cursor() as cursor:
        cursor.execute(statement)
    return HttpResponse("composed")


def composed_read(request: HttpRequest) -> HttpResponse:
    with primary_cursor() as cursor:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("forum_tag")))
        count = cursor.fetchone()[0]
    return HttpResponse(str(count))


def write_in_worker(request: HttpRequest, name: str) -> HttpResponse:
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(in_request_context(Tag.objects.create), name=name).result()
    return HttpResponse("worker wrote")


def write_in_worker_without_helper(request: HttpRequest, name: str) -> HttpResponse:
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(Tag.objects.create, name=name).result()
    return HttpResponse("worker wrote, untracked")


def write_in_nested_scope(request: HttpRequest, name: str) -> HttpResponse:
    with request_scope():
        Tag.objects.create(name=name)
    found, alias = tag_found(name).split(":")
    return HttpResponse(alias, status=200 if found == "True" else 404)


#: Set by a test to hold /slow/ until the test lets it finish.
slow_release = threading.Event()
slow_started = threading.Event()


#: What the cleanup of a streamed body saw: filled in by stream_with_cleanup.
cleanup_saw: dict[str, str] = {}


def stream_with_cleanup(request: HttpRequest, name: str) -> StreamingHttpResponse:
    Tag.objects.create(name=name)

    def body() -> Iterator[str]:
        try:
            for _ in range(1000):
                yield "row\n"
        finally:  # runs when the client goes away early, too
            cleanup_saw["read"] = tag_found(name)

    return StreamingHttpResponse(body())


def slow(request: HttpRequest) -> HttpResponse:
    """A page that reads, then takes a while: a slow tab or a long poll."""
    Tag.objects.exists()
    slow_started.set()
    slow_release.wait(timeout=20)
    return HttpResponse("slow page")


def create_tag(request: HttpRequest, name: str) -> HttpResponse:
    Tag.objects.create(name=name)
    return HttpResponse("created")


def read_write_read(request: HttpRequest, name: str) -> HttpResponse:
    """A GET that reads, writes, then reads its write back: three decisions."""
    before = Tag.objects.filter(name=name).exists()
    Tag.objects.create(name=name)
    return HttpResponse(f"{before}:{Tag.objects.filter(name=name).exists()}")


def raw_replica_read(request: HttpRequest) -> HttpResponse:
    """A read on a replica alias the view names itself: no router call chooses it."""
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("read")


def write_read_loop(request: HttpRequest, name: str) -> HttpResponse:
    """Fifty rounds of a write and a read of it, in one GET."""
    Tag.objects.create(name=name)
    for _ in range(50):
        Tag.objects.filter(name=name).update(name=name)
        Tag.objects.filter(name=name).exists()
    return HttpResponse("done")


def assign_unsaved_relation(request: HttpRequest) -> HttpResponse:
    """Assigning a related object asks db_for_write, and writes nothing."""
    Tag.objects.exists()
    Thread(board=Board())
    Tag.objects.exists()
    return HttpResponse("assigned")


def touch_tag(request: HttpRequest, name: str) -> HttpResponse:
    """A public page that writes on every GET, as a visit counter does: an UPDATE,
    whether the row exists or not."""
    Tag.objects.filter(name=name).update(name=name)
    return HttpResponse("visited")


# Tag name -> the replica its first read lost (see read_then_lose_replica).
lost_replica: dict[str, str] = {}


def terminate_from_elsewhere(alias: str) -> None:
    """Kill this thread's connection to `alias` from another session, as a server that
    dies does: run by the request itself, the statement would count as a write."""
    pid = connections[alias].connection.info.backend_pid
    with connect(alias, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])  # gone on return


def read_then_lose_replica(request: HttpRequest, name: str) -> HttpResponse:
    """A page whose connection goes away between two reads, the first time it is served."""
    Tag.objects.exists()
    alias = read_alias(Tag)
    if name not in lost_replica:
        lost_replica[name] = alias
        terminate_from_elsewhere(alias)
    return show_tag(request, name)


def primary_read_then_lose_primary(request: HttpRequest, name: str) -> HttpResponse:
    """A page read from the primary that loses its connection to it, the first time."""
    with use_primary():
        Tag.objects.exists()
        if name not in lost_replica:
            lost_replica[name] = conf.primary()
            terminate_from_elsewhere(conf.primary())
        return show_tag(request, name)


def write_while_primary_restarts(request: HttpRequest, name: str) -> HttpResponse:
    """A write that cannot connect to the primary, which is back a moment later."""
    primary = connections[conf.primary()]
    primary.close()
    port = primary.settings_dict["PORT"]
    primary.settings_dict["PORT"] = "1"  # nothing listens there: refused, like a restart
    try:
        Tag.objects.create(name=name)
    finally:
        primary.settings_dict["PORT"] = port
    return HttpResponse("created")


def write_then_lose_the_primary_mid_request(request: HttpRequest, name: str) -> HttpResponse:
    """A write that commits (autocommit); the primary then drops the connection, and the
    request's next write fails."""
    Tag.objects.create(name=name)
    terminate_from_elsewhere(conf.primary())
    Tag.objects.create(name=f"{name}-2")
    return HttpResponse("created both")


def lose_the_primary() -> None:
    """The primary goes away: this thread's connection to it dropped, new ones refused
    (the test puts its port back)."""
    terminate_from_elsewhere(conf.primary())
    refuse_connections(conf.primary())


def write_in_a_transaction_then_lose_the_primary(request: HttpRequest, name: str) -> HttpResponse:
    """Two writes in one transaction, the primary going away between them: no COMMIT
    was sent, so neither can be saved."""
    with transaction.atomic(using=conf.primary()):
        Tag.objects.create(name=name)
        lose_the_primary()
        Tag.objects.create(name=f"{name}-2")
    return HttpResponse("created both")


def commit_then_lose_the_primary(request: HttpRequest, name: str) -> HttpResponse:
    """A transaction that commits, then a second one that the primary's going away cuts
    off."""
    with transaction.atomic(using=conf.primary()):
        Tag.objects.create(name=name)
    lose_the_primary()
    with transaction.atomic(using=conf.primary()):
        Tag.objects.create(name=f"{name}-2")
    return HttpResponse("created both")


def create_then_lose_the_primary(request: HttpRequest, name: str) -> HttpResponse:
    """A write that commits, then the primary goes away before the response is made, so
    nothing can read the write's position."""
    Tag.objects.create(name=name)
    lose_the_primary()
    return HttpResponse("created")


# Alias -> its own port, while a test points it at a refused one until a view puts it back.
port_to_restore: dict[str, str] = {}


def create_once_the_primary_is_back(request: HttpRequest, name: str) -> HttpResponse:
    """A write that finds the primary up, which was unreachable until the view began (a
    new leader mid-promotion when the routers probed it, say)."""
    primary = connections[conf.primary()]
    primary.close()
    primary.settings_dict["PORT"] = port_to_restore.pop(conf.primary())
    Tag.objects.create(name=name)
    return HttpResponse("created")


def show_tag_while_the_pooler_is_busy(request: HttpRequest, name: str) -> HttpResponse:
    """`/tag/<name>`, with another client taking a pooled server between the routers'
    decision (and its replay check) and the read, as a busy site's other requests do."""
    alias = read_alias(Tag)
    other = connect(alias, autocommit=True)
    try:
        other.execute("BEGIN")
        other.execute("SELECT 1")  # holds a server connection until it ends
        return show_tag(request, name)
    finally:
        other.close()


def create_event(request: HttpRequest, name: str) -> HttpResponse:
    Event.objects.create(kind="lab", title=name, occurred_at=timezone.now())
    return HttpResponse("recorded")


def show_event(request: HttpRequest, name: str) -> HttpResponse:
    found = Event.objects.filter(title=name).exists()
    return HttpResponse(read_alias(Event), status=200 if found else 404)


def show_both(request: HttpRequest, name: str) -> HttpResponse:
    """The aliases that read a tag and an event, one query each."""
    Tag.objects.filter(name=name).exists()
    Event.objects.filter(title=name).exists()
    return HttpResponse(f"{read_alias(Tag)} {read_alias(Event)}")


def time_out(request: HttpRequest) -> HttpResponse:
    """A write request whose statement is cancelled: an error, not a lost primary."""
    with transaction.atomic(using="default"), connections["default"].cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 1")
        cursor.execute("SELECT pg_sleep(1)")
    return HttpResponse("slept")


@csrf_exempt  # the subject is the session's save; a CSRF check would need a page first
def save_draft(request: HttpRequest) -> HttpResponse:
    """A draft kept, or a wizard's step: a POST whose only write is the session."""
    request.session["draft"] = request.POST["body"]
    return HttpResponse("draft saved")


def count_visit(request: HttpRequest) -> HttpResponse:
    """A page that counts the visitor's visits: a GET whose only write is the session."""
    visits = request.session.get("visits", 0) + 1
    request.session["visits"] = visits
    return HttpResponse(f"visit {visits}, tags read from {read_alias(Tag)}")


def visit_after_a_logout_elsewhere(request: HttpRequest) -> HttpResponse:
    """A page that changes the session while another tab's logout deletes it."""
    request.session["visits"] = request.session.get("visits", 0) + 1
    with connect(conf.primary(), autocommit=True) as other:
        other.execute(
            "DELETE FROM django_session WHERE session_key = %s", [request.session.session_key]
        )
    return HttpResponse("visit counted")


def write_then_lose_the_primary(request: HttpRequest, name: str) -> HttpResponse:
    """A write, committed; then the primary goes away before the session is saved. The
    primary's port stays changed: the test puts it back."""
    Tag.objects.create(name=name)
    request.session["last_tag"] = name
    primary = connections[conf.primary()]
    primary.close()
    primary.settings_dict["PORT"] = str(free_port())  # refused, as by a server that is down
    return HttpResponse("created")


def show_tag_and_aliases(request: HttpRequest, name: str) -> JsonResponse:
    """`/tag/<name>`, and every alias the request read so far (its session and user too)."""
    found, alias = tag_found(name).split(":")
    return JsonResponse({"found": found == "True", "alias": alias, "aliases": aliases_read()})


class MemberTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, wired to the positions per member as routers/README.md
    says: the member is known once DRF has authenticated, inside the view."""

    def authenticate(self, request):  # type: ignore[no-untyped-def]
        found = super().authenticate(request)
        if found is not None:
            member_authenticated(found[0])
        return found


def api_tag(request: Request, name: str) -> Response:
    found, alias = tag_found(name).split(":")
    return Response(
        {"alias": alias, "aliases": aliases_read()}, status=200 if found == "True" else 404
    )


api_tag_member = api_view(["GET"])(
    authentication_classes([MemberTokenAuthentication])(
        permission_classes([IsAuthenticated])(api_tag)
    )
)
# DRF's own token authentication, not wired: the member is never known to the routers.
api_tag_unwired = api_view(["GET"])(
    authentication_classes([TokenAuthentication])(permission_classes([IsAuthenticated])(api_tag))
)


@api_view(["POST"])
@authentication_classes([TokenAuthentication])
@permission_classes([IsAuthenticated])
def api_create_tag(request: Request, name: str) -> Response:
    """A write by a token client whose authentication tells the routers nothing."""
    Tag.objects.create(name=name)
    return Response({"created": name}, status=201)


def show_lost_writes(request: HttpRequest) -> JsonResponse:
    """The writes of this client that a failover lost, as `routers.lost_writes()` says."""
    return JsonResponse({"lost": [vars(lost) for lost in lost_writes()]})


urlpatterns = [
    path("lost-writes", show_lost_writes),
    path("tag-read-on/<str:name>", show_tag_and_aliases),
    path("api/tag/<str:name>", api_tag_member),
    path("api/unwired/tag/<str:name>", api_tag_unwired),
    path("api/create/<str:name>", api_create_tag),
    path("visit-logged-out", visit_after_a_logout_elsewhere),
    path("write-then-lose-primary/<str:name>", write_then_lose_the_primary),
    path("draft", save_draft),
    path("visit", count_visit),
    path("time-out", time_out),
    path("event/create/<str:name>", create_event),
    path("event/<str:name>", show_event),
    path("both/<str:name>", show_both),
    path("tag-contended/<str:name>", show_tag_while_the_pooler_is_busy),
    path("write-while-restarting/<str:name>", write_while_primary_restarts),
    path("create-once-the-primary-is-back/<str:name>", create_once_the_primary_is_back),
    path("write-then-lose-primary-mid-request/<str:name>", write_then_lose_the_primary_mid_request),
    path("transaction-then-lose-primary/<str:name>", write_in_a_transaction_then_lose_the_primary),
    path("commit-then-lose-primary/<str:name>", commit_then_lose_the_primary),
    path("create-then-lose-primary/<str:name>", create_then_lose_the_primary),
    path("lose-replica/<str:name>", read_then_lose_replica),
    path("lose-primary/<str:name>", primary_read_then_lose_primary),
    path("tag/<str:name>", show_tag),
    path("create/<str:name>", create_tag),
    path("read-write-read/<str:name>", read_write_read),
    path("raw-replica-read", raw_replica_read),
    path("write-read-loop/<str:name>", write_read_loop),
    path("assign-unsaved-relation", assign_unsaved_relation),
    path("touch/<str:name>", touch_tag),
    path("stream/<str:name>", write_then_stream),
    path("stream-async/<str:name>", write_then_stream_async),
    path("stream-writes/<str:name>", stream_write_then_read),
    path("async/tags", tag_names_async),
    path("async/tags-after-a-read", tag_names_after_a_read_async),
    path("async/stream-tags", stream_tag_names_async),
    path("async/create/<str:name>", create_tag_async),
    path("stream-cleanup/<str:name>", stream_with_cleanup),
    path("server-cursor/<str:name>", server_side_cursor),
    path("commit-then-fail/<str:name>", commit_then_fail),
    path("named-cursor/<str:name>", psycopg_named_cursor),
    path("lose-connection/<str:name>", write_then_lose_connection),
    path("copy/<str:name>", copy_in),
    path("function/<str:name>", call_function),
    path("statements/<str:name>", several_statements),
    path("composed/<str:name>", composed_write),
    path("composed-read", composed_read),
    path("worker/<str:name>", write_in_worker),
    path("worker-untracked/<str:name>", write_in_worker_without_helper),
    path("nested/<str:name>", write_in_nested_scope),
    path("slow", slow),
    # The project's own pages, so the error pages' templates can name them.
    path("", include("config.urls")),
]
