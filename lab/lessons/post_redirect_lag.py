"""Lesson 1: a POST writes to the primary; the page it redirects to reads a replica."""

import time

from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from forum.models import Tag
from routers import RoutingMiddleware, primary_lsn, read_alias

from ..harness import under_strategy
from ..verdicts import FRESH, STALE
from .base import Lesson, Outcome, follow, lab_tag, side_by_side


def post_then_redirect(strategy: str) -> Outcome:
    """A POST that writes, then the GET it redirects to, through the real middleware."""
    with lab_tag() as name:

        def write(request: HttpRequest) -> HttpResponse:
            with under_strategy(strategy):
                Tag.objects.create(name=name)
            return HttpResponse(status=302)

        def read(request: HttpRequest) -> HttpResponse:
            with under_strategy(strategy):
                found = Tag.objects.filter(name=name).exists()
                return HttpResponse(f"{found}:{read_alias(Tag)}")

        written = RoutingMiddleware(write)(RequestFactory().post("/"))
        committed = time.monotonic(), primary_lsn()
        found, alias, timeline = follow(written, read, committed)
    if found:
        return Outcome(strategy, FRESH, f"the redirect found the new row on {alias}", timeline)
    return Outcome(strategy, STALE, f"404: {alias} has not replayed the write yet", timeline)


LESSON = Lesson(
    number=1,
    slug="post-redirect-lag",
    title="Post, redirect, 404",
    problem="A write goes to the [primary](../glossary.md#primary); the page the browser is "
    "redirected to is read from a [replica](../glossary.md#replica) that has not "
    "[replayed](../glossary.md#replay) it yet.",
    fix="[sticky](../glossary.md#sticky) pins the writer to the primary for a few seconds; "
    "[causal](../glossary.md#causal) waits for a replica that has replayed the writer's "
    "[WAL](../glossary.md#wal) position ([LSN](../glossary.md#lsn)).",
    run=side_by_side(post_then_redirect),
)
