"""Lesson 17: an API client keeps no cookies: its reply, read back from a replica without it.

Each row is one client of the forum's JSON API (forum/api.py) with a token and no
cookie jar: it posts a reply, then reads the thread back at once, through the real API
views under RoutingMiddleware. The rows differ in the strategy and in whether the
client sends back the Routers-Consistency header the reply's response carried.

The run makes what it needs and deletes it afterwards: a member with a token and a
thread, waited for on every replica that is up (by their rows, not by a WAL position),
so that only the reply is missing there.
"""

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

from django.contrib.auth.models import User
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponseBase
from django.test import RequestFactory
from django.urls import resolve, reverse
from rest_framework.authtoken.models import Token

from forum.models import Board, Post, Thread
from routers import RoutingMiddleware, conf, forget_member, primary_lsn, probe, read_alias

from ..harness import under_strategy
from ..timeline import watch_replay
from ..verdicts import ERROR, FRESH, NOT_RUN, STALE
from .base import Lesson, Outcome, lab_events, timeline_of

# How long the run waits at most for the replicas to replay its member and thread.
SETUP_TIMEOUT = 35.0
POLL = 0.02


class Client(NamedTuple):
    """A row: an API client, routed with `strategy`, that sends the header back or not."""

    label: str
    strategy: str
    sends_header: bool


# The row of the fix: the client that does what the lesson teaches.
WITH_THE_HEADER = "causal, header sent back"
CLIENTS = (
    Client("naive", "naive", True),
    Client("causal, header not sent back", "causal", False),
    Client("sticky, header sent back", "sticky", True),
    Client(WITH_THE_HEADER, "causal", True),
)


def served(request: HttpRequest, strategy: str) -> tuple[HttpResponseBase, str]:
    """`request` answered by the API view its path names, under RoutingMiddleware and
    `strategy`; and the alias its reads of posts went to."""
    match = resolve(request.path_info)
    read_from = []

    def view(request: HttpRequest) -> HttpResponseBase:
        with under_strategy(strategy):
            response = match.func(request, *match.args, **match.kwargs)
            response.render()  # type: ignore[attr-defined]
            read_from.append(read_alias(Post))
            return response

    return RoutingMiddleware(view)(request), read_from[0]


def api_request(
    method: str, path: str, token: str, consistency: str = "", body: str = ""
) -> HttpRequest:
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    if consistency:
        headers[conf.TOKEN_HEADER] = consistency
    return RequestFactory().generic(
        method, path, body, content_type="application/json", headers=headers
    )


def reply_then_read(client: Client, thread: Thread, member: User, token: str) -> Outcome:
    """Post a reply through the API, then read the thread back, as `client` does."""
    body = f"Reply from an API client ({client.label})"
    posted, _ = served(
        api_request(
            "POST", reverse("api:reply", args=[thread.pk]), token, body=json.dumps({"body": body})
        ),
        client.strategy,
    )
    committed = time.monotonic(), primary_lsn()
    if posted.status_code != 201:
        return Outcome(client.label, ERROR, f"the reply was refused: {posted.status_code}")
    # This lesson is the header alone: where the demo keeps positions per member too
    # (lesson 18), they would carry the reply to the read without it.
    forget_member(member)
    consistency = posted[conf.TOKEN_HEADER] if client.sends_header else ""
    read_at = time.monotonic()
    read, alias = served(
        api_request("GET", reverse("api:thread", args=[thread.pk]), token, consistency),
        client.strategy,
    )
    timeline = timeline_of(committed, read_at, alias)
    bodies = [post["body"] for post in json.loads(read.content).get("posts", [])]
    if body in bodies:
        return Outcome(
            client.label, FRESH, f"the thread, read from {alias}, shows the reply", timeline
        )
    return Outcome(
        client.label,
        STALE,
        f"the thread, read from {alias}, lacks the reply: not replayed yet",
        timeline,
    )


def on_every_replica(found: Callable[[str], bool]) -> bool:
    """Wait until `found(alias)` holds on every replica that is up; whether it did."""
    deadline = time.monotonic() + SETUP_TIMEOUT
    pending = [alias for alias in conf.replicas() if probe(alias).up]
    while pending and time.monotonic() < deadline:
        pending = [alias for alias in pending if not found(alias)]
        time.sleep(POLL)
    return not pending


def not_run(why: str) -> list[Outcome]:
    return [Outcome(client.label, NOT_RUN, why) for client in CLIENTS]


def run() -> list[Outcome]:
    primary = conf.primary()
    board = Board.objects.using(primary).order_by("position", "pk").first()
    if board is None:
        return not_run("no board to post on: run manage.py seed_forum")
    name = f"lab-{uuid.uuid4().hex[:10]}"
    member = User.objects.db_manager(primary).create_user(name)
    try:
        with lab_events(name):
            thread = Thread.objects.using(primary).create(board=board, author=member, title=name)
            Post.objects.using(primary).create(thread=thread, author=member, body="Opening post")
            token = Token.objects.using(primary).create(user=member).key
            # The token came last: a replica that has it has the thread too.
            if not on_every_replica(
                lambda alias: Token.objects.using(alias).filter(key=token).exists()
            ):
                return not_run(
                    f"the replicas did not replay the run's thread in {SETUP_TIMEOUT:.0f} s"
                )
            outcomes = []
            for client in CLIENTS:
                try:
                    outcomes.append(reply_then_read(client, thread, member, token))
                except DatabaseError as error:  # naive meeting a dead replica, typically
                    outcomes.append(Outcome(client.label, ERROR, f"the request failed: {error}"))
    finally:
        User.objects.using(primary).filter(pk=member.pk).delete()  # its token, thread, posts
    watched = iter(watch_replay([o.timeline for o in outcomes if o.timeline is not None]))
    return [o if o.timeline is None else replace(o, timeline=next(watched)) for o in outcomes]


LESSON = Lesson(
    number=17,
    slug="api-client-without-cookies",
    title="An API client reads its own reply stale",
    problem="An API client (a script, a mobile app) keeps no cookies, so nothing carries its "
    "write to its next request: the thread it reads back right after replying comes from a "
    "[replica](../glossary.md#replica) that has not [replayed](../glossary.md#replay) the "
    "reply, under [causal](../glossary.md#causal) as much as under naive.",
    fix="Every writing response carries the client's writes in a `Routers-Consistency` header; "
    "a client that sends it back with its next requests is routed as if it had the cookies "
    "([read-your-writes](../glossary.md#read-your-writes)).",
    run=run,
    compares="Client",
)
