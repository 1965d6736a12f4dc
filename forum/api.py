"""The forum's JSON API (Django REST framework), under /api/:

    POST /api/token/                 {"username", "password"} -> {"token"}
    GET  /api/threads/               the threads, latest activity first (?page=)
    POST /api/threads/               {"board", "title", "body", "tags"?}: start a thread
    GET  /api/threads/<id>/          a thread and a page of its posts (?page=)
    POST /api/threads/<id>/posts/    {"body"}: reply

Writes need `Authorization: Token <token>`; reads need nothing. A client that keeps no
cookies keeps the `Routers-Consistency` header of each writing response instead, and
sends it back with every request: then it reads its own writes (routers/README.md).
"""

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.urls import path
from rest_framework import status, views
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import api_view
from rest_framework.exceptions import APIException
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from . import selectors, services
from .models import Thread
from .parsers import JSONParser
from .serializers import PostSerializer, ReplySerializer, ThreadSerializer, ThreadStartSerializer


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than the server accepts."


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST framework's (REST_FRAMEWORK["EXCEPTION_HANDLER"]), and a body past
    DATA_UPLOAD_MAX_MEMORY_SIZE answered in JSON too (Django's own answer is a page)."""
    if isinstance(exc, RequestDataTooBig):
        exc = BodyTooLarge()
    return views.exception_handler(exc, context)


def _thread_json(pk: int, page: str | int | None = None) -> dict[str, object]:
    found = selectors.thread_with_posts(pk=pk, page=page)
    found.thread.post_count = found.posts.paginator.count  # type: ignore[attr-defined]
    return {
        **ThreadSerializer(found.thread).data,
        "page": found.posts.number,
        "pages": found.posts.paginator.num_pages,
        "posts": PostSerializer(found.posts, many=True).data,
    }


@api_view(["GET", "POST"])
def threads(request: Request) -> Response:
    if request.method == "GET":
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.thread_list(), request)
        return paginator.get_paginated_response(ThreadSerializer(page, many=True).data)
    given = ThreadStartSerializer(data=request.data)
    given.is_valid(raise_exception=True)
    fields = given.validated_data
    # One transaction, as the form's view: no thread saved without its tags.
    with transaction.atomic():
        thread = services.thread_create(
            board=fields["board"], author=request.user, title=fields["title"], body=fields["body"]
        )
        services.thread_tag(thread=thread, names=fields["tags"])
    return Response(_thread_json(thread.pk), status=status.HTTP_201_CREATED)


@api_view(["GET"])
def thread(request: Request, pk: int) -> Response:
    return Response(_thread_json(pk, request.query_params.get("page")))


@api_view(["POST"])
def reply(request: Request, pk: int) -> Response:
    replied_to = get_object_or_404(Thread, pk=pk)
    given = ReplySerializer(data=request.data)
    given.is_valid(raise_exception=True)
    post = services.post_create(
        thread=replied_to, author=request.user, body=given.validated_data["body"]
    )
    return Response(PostSerializer(post).data, status=status.HTTP_201_CREATED)


app_name = "api"
urlpatterns = [
    # JSON only, as the rest of the API (REST framework's view takes forms too).
    path("token/", ObtainAuthToken.as_view(parser_classes=[JSONParser]), name="token"),
    path("threads/", threads, name="threads"),
    path("threads/<int:pk>/", thread, name="thread"),
    path("threads/<int:pk>/posts/", reply, name="reply"),
]
