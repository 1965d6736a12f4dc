"""Views that read tags inside and around ATOMIC_REQUESTS's block, for
tests/routers/test_atomic_requests.py and lesson 16's test: each answers whether a read of
the tag found it, and the alias the routers send it to (`read_alias`), at each step."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import include, path
from django.utils import timezone

from analytics.models import Event
from forum.models import Tag
from routers import in_request_context, read_alias


def where_read(name: str) -> list[object]:
    """[did a read of tag `name` find it, the alias the routers send it to]"""
    return [Tag.objects.filter(name=name).exists(), read_alias(Tag)]


def read_tag(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse({"read": where_read(name)})


def write_then_read(request: HttpRequest, name: str) -> JsonResponse:
    before = where_read(name)
    Tag.objects.create(name=name)
    return JsonResponse({"before": before, "after": where_read(name)})


def lock_then_read(request: HttpRequest, name: str) -> JsonResponse:
    before = where_read(name)
    list(Tag.objects.select_for_update().filter(name=name))
    return JsonResponse({"before": before, "after": where_read(name)})


def nested_block(request: HttpRequest, name: str) -> JsonResponse:
    with transaction.atomic():
        inside = where_read(name)
    return JsonResponse({"inside": inside, "after": where_read(name)})


@transaction.atomic
def atomic_view(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse({"read": where_read(name)})


@transaction.non_atomic_requests
def non_atomic_view(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse({"read": where_read(name)})


def write_an_event(request: HttpRequest, name: str) -> JsonResponse:
    """A write on the analytics primary only: the forum's block stays clean."""
    Event.objects.create(kind="lab", title=name, occurred_at=timezone.now())
    return JsonResponse({"tag": read_alias(Tag), "event": read_alias(Event)})


def no_query(request: HttpRequest) -> HttpResponse:
    return HttpResponse("nothing read")


def block_in_a_worker(request: HttpRequest, name: str) -> JsonResponse:
    def in_block() -> list[object]:
        try:
            with transaction.atomic():
                return where_read(name)
        finally:
            connections.close_all()  # the worker's own

    with ThreadPoolExecutor(max_workers=1) as pool:
        inside = pool.submit(in_request_context(in_block)).result()
    return JsonResponse({"inside": inside})


def streamed_block(request: HttpRequest, name: str) -> StreamingHttpResponse:
    where_read(name)

    def body() -> Iterator[str]:
        yield f"{where_read(name)[1]} "
        with transaction.atomic():
            yield where_read(name)[1]

    return StreamingHttpResponse(body())


urlpatterns = [
    path("tag/<str:name>", read_tag),
    path("write/<str:name>", write_then_read),
    path("lock/<str:name>", lock_then_read),
    path("nested/<str:name>", nested_block),
    path("atomic-view/<str:name>", atomic_view),
    path("non-atomic/<str:name>", non_atomic_view),
    path("stream/<str:name>", streamed_block),
    path("worker/<str:name>", block_in_a_worker),
    path("no-query", no_query),
    path("event/<str:name>", write_an_event),
    path("", include("config.urls")),  # the forum, and the pages the 503 pages link to
]
