"""Lesson 18: the same member on a second device, reading what the first one just wrote.

Each device keeps its own cookies, and the routing cookies carry a write's position to
the device that made it, nowhere else. With positions per member
(ROUTERS_MEMBER_POSITIONS_CACHE, a Redis here), the writing request also keeps its
writes under the member's id, and a request of that member absorbs them once its
session says who the member is.

A run makes a member of its own, logged in on two devices (two sessions), and waits
until every replica in rotation has both. Then, per row: device A writes a tag, device
B reads it at once; both requests are served as Django serves one (the whole middleware,
each device's session cookie). "Cookies only" drops what A's request kept before B
reads, as a project without the cache would never have kept it. The member, its
sessions, the tags and what was kept for it are deleted afterwards.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from forum.models import Tag
from routers import conf, forget_member, primary_lsn, read_alias, replayed, usable_replicas

from ..harness import served
from ..middleware import STRATEGY_COOKIE
from ..trace import traced
from ..verdicts import FRESH, NOT_RUN, STALE
from .base import Lesson, Outcome, lab_tag

COOKIES_ONLY = "causal, cookies only"
CAUSAL_PER_MEMBER = "causal, position per member"
STICKY_PER_MEMBER = "sticky, position per member"
ROWS = ((COOKIES_ONLY, "causal"), (CAUSAL_PER_MEMBER, "causal"), (STICKY_PER_MEMBER, "sticky"))

# How long a run waits for the replicas to replay the devices' sessions.
SETUP_TIMEOUT = 15.0


# --- The devices' requests: only served() reaches these views ----------------------


@csrf_exempt  # the device is a lab's session, with no form to take a token from
def device_writes(request: HttpRequest, name: str) -> HttpResponse:
    Tag.objects.create(name=name)
    return HttpResponse("written")


def device_reads(request: HttpRequest, name: str) -> HttpResponse:
    found = Tag.objects.filter(name=name).exists()
    return HttpResponse(f"{found}:{read_alias(Tag)}")


urlpatterns = [
    path("write/<str:name>", device_writes),
    path("read/<str:name>", device_reads),
]


# --- The member and its two devices --------------------------------------------------


@dataclass(frozen=True)
class Devices:
    member: User
    #: Each device's session key.
    first: str
    second: str


def session_of(member: User) -> str:
    """A new session logged in as `member`, as django.contrib.auth.login leaves one."""
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(member.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = member.get_session_auth_hash()
    session.create()
    key: str = session.session_key
    return key


@contextmanager
def two_devices() -> Iterator[Devices | None]:
    """A member of the run's own, logged in on two devices, all on every replica in
    rotation (None if they did not replay it in time); deleted afterwards."""
    primary = conf.primary()
    member = User.objects.db_manager(primary).create_user(f"lab-{uuid.uuid4().hex[:10]}")
    devices = Devices(member, session_of(member), session_of(member))
    try:
        position = primary_lsn()
        everywhere = position is not None and all(
            replayed(alias, position, SETUP_TIMEOUT) for alias in usable_replicas()
        )
        yield devices if everywhere else None
    finally:
        forget_member(member)
        keys = [devices.first, devices.second]
        Session.objects.using(primary).filter(session_key__in=keys).delete()
        member.delete(using=primary)


def cookies(session_key: str, strategy: str) -> dict[str, str]:
    return {settings.SESSION_COOKIE_NAME: session_key, STRATEGY_COOKIE: strategy}


# --- The run -------------------------------------------------------------------------


def positions_off() -> str | None:
    """Why positions per member cannot be shown here, if they cannot."""
    alias = conf.member_positions_cache()
    if alias is None:
        return (
            "not run: positions per member are off here (ROUTERS_MEMBER_POSITIONS_CACHE "
            "unset; the forum sets it from REDIS_URL, which postgres/stack.sh env prints "
            "where Debian's redis-server is installed)"
        )
    try:
        caches[alias].get("lab-second-device")
    # The cache's own error, whichever backend: the lab says what it was.
    except Exception as error:
        return f"not run: the positions cache {alias!r} did not answer ({error})"
    return None


def write_then_read(devices: Devices, label: str, strategy: str) -> Outcome:
    """Device A writes, device B reads at once, each request served in full."""
    with lab_tag() as name, traced() as statements:
        served(f"/write/{name}", __name__, method="POST", cookies=cookies(devices.first, strategy))
        if label == COOKIES_ONLY:
            forget_member(devices.member)  # what a project without the cache never kept
        written = len(statements)
        answer = served(f"/read/{name}", __name__, cookies=cookies(devices.second, strategy))
    found, alias = answer.content.decode().split(":")
    trace = tuple(statements)
    # Device B's reads before the tag's: its session and its user.
    read_elsewhere = sorted({s.alias for s in trace[written:-1]} - {alias})
    if found != "True":
        return Outcome(
            label,
            STALE,
            f"404: device B read on {alias}, which had not replayed device A's write; B's "
            "cookies carry B's own writes only",
            trace=trace,
        )
    moved = (
        f"device B's session and user were read on {', '.join(read_elsewhere)} before the "
        "member was known; then the position device A's request kept for the member moved "
        f"B's next read to {alias}"
        if read_elsewhere
        else f"device B read on {alias}"
    )
    return Outcome(label, FRESH, f"found: {moved}", trace=trace)


def run() -> list[Outcome]:
    off = positions_off()
    with two_devices() as devices:
        if devices is None:
            why = f"not run: the replicas did not replay the devices' logins in {SETUP_TIMEOUT} s"
            return [Outcome(label, NOT_RUN, why) for label, _ in ROWS]
        return [
            Outcome(label, NOT_RUN, off)
            if off is not None and label != COOKIES_ONLY
            else write_then_read(devices, label, strategy)
            for label, strategy in ROWS
        ]


LESSON = Lesson(
    number=18,
    slug="second-device",
    title="The same member on a second device",
    problem="A member writes on one device (a browser, a phone, an API client) and opens the "
    "page on another at once. The cookies that keep "
    "[read-your-writes](../glossary.md#read-your-writes) carry the write's position to the "
    "device that made it only: the second device reads a "
    "[replica](../glossary.md#replica) that has not [replayed](../glossary.md#replay) it.",
    fix="Keep each member's positions on the server (a Redis every app server shares): any "
    "request of that member, once authenticated, is served as if it carried them; a replica "
    "already chosen that lacks them hands the rest of the request to the "
    "[primary](../glossary.md#primary).",
    run=run,
    compares="Setup",
)
