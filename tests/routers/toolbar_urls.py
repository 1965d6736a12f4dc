"""A page the debug toolbar can sit on (it needs a </body>), the write it reads back,
and the toolbar's own URLs."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from forum.models import Tag
from routers.views import healthz


def create(request: HttpRequest, name: str) -> HttpResponse:
    Tag.objects.create(name=name)
    return HttpResponse("created")


def page(request: HttpRequest, name: str) -> HttpResponse:
    found = Tag.objects.filter(name=name).exists()
    return HttpResponse(f"<!doctype html><html><body><p>{found}</p></body></html>")


urlpatterns = [
    path("healthz", healthz),  # what the tests' gunicorn waits for
    path("create/<str:name>", create),
    path("page/<str:name>", page),
    path("__debug__/", include("debug_toolbar.urls")),
]
