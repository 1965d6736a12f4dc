"""Lesson 12: the session row a login writes, read back from a replica without it."""

import time
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from routers import RoutingMiddleware, conf, primary_lsn, read_alias

from ..harness import under_strategy
from ..verdicts import FRESH, NOT_RUN, STALE
from .base import Lesson, Outcome, follow, side_by_side


def session_after_login(strategy: str) -> Outcome:
    """A login (a new session row on the primary), then the next page loads the session."""
    user = User.objects.using(conf.primary()).order_by("pk").first()
    if user is None:
        return Outcome(strategy, NOT_RUN, "no user to log in: run manage.py seed_forum")
    store_class = import_module(settings.SESSION_ENGINE).SessionStore

    def log_in(request: HttpRequest) -> HttpResponse:
        with under_strategy(strategy):
            session = store_class()
            session[SESSION_KEY] = str(user.pk)
            session.create()
        return HttpResponse(session.session_key)

    def next_page(request: HttpRequest) -> HttpResponse:
        with under_strategy(strategy):
            found = SESSION_KEY in store_class(session_key=key).load()
            return HttpResponse(f"{found}:{read_alias(Session)}")

    written = RoutingMiddleware(log_in)(RequestFactory().post("/login/"))
    committed = time.monotonic(), primary_lsn()
    key = written.content.decode()
    try:
        found, alias, timeline = follow(written, next_page, committed)
    finally:
        Session.objects.using(conf.primary()).filter(session_key=key).delete()
    if found:
        return Outcome(strategy, FRESH, f"still logged in: {alias} had the session", timeline)
    return Outcome(
        strategy,
        STALE,
        f"logged out: {alias} has no such session yet, Django drops the cookie",
        timeline,
    )


LESSON = Lesson(
    number=12,
    slug="sessions-on-a-lagging-replica",
    title="Logged out right after logging in",
    problem="A login writes a session row on the [primary](../glossary.md#primary). The next page "
    "reads the session from a replica that has not replayed it: Django finds no session, treats "
    "the user as a visitor and deletes the session cookie.",
    fix="[Read-your-writes](../glossary.md#read-your-writes) ([sticky](../glossary.md#sticky) or "
    "[causal](../glossary.md#causal)) covers the login like any write; or read the sessions and "
    "auth apps from the primary; or keep sessions out of the database.",
    run=side_by_side(session_after_login),
)
