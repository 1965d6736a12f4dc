"""Positions per member: a member's write on one device (or API token), read on another.

The cookies carry a client's writes to that client only. With
ROUTERS_MEMBER_POSITIONS_CACHE (the test stack's real Redis), a member's writing request
keeps its writes under the member's id, and any request of that member absorbs them once
it knows who the member is: after its session and user were read, from a replica, so
the replica chosen by then must still be checked. The replicas hold each commit back for
3 s here, so a read right after a write always reaches them first.
"""

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import OperationalError
from django.test import Client
from rest_framework.authtoken.models import Token

from routers import CausalRouter, conf, member_authenticated, request_scope
from routers.members import (
    cache_outage,
    keep_writes,
    kept_writes,
    later,
    member_id,
    merged,
)
from routers.positions import Position
from routers.strategies import SafeRouter
from routers.tokens import Write, dumps
from tests.factories import PASSWORD, UserFactory
from tests.helpers import (
    Stack,
    gunicorn,
    replica_aliases,
    served_with,
    unreachable,
    wait_until,
)

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]

SYSTEM = 7714484792588521126  # a cluster's identifier, for writes made up here


def write(lsn: int, at: float | None = None, system: int = SYSTEM) -> Write:
    return Write(conf.primary(), time.time() if at is None else at, Position(lsn, system))


# --- Which of two writes stands: pure ------------------------------------------------


def test_the_later_position_of_one_cluster_stands_whichever_came_last():
    older, newer = write(100, at=10.0), write(200, at=11.0)
    # A slow request's store arrives last with the older position and the newer time.
    slow = write(100, at=12.0)

    assert later(older, newer).position == newer.position
    assert later(newer, older).position == newer.position
    kept = later(newer, slow)
    assert kept.position == newer.position
    assert kept.at == 12.0  # the more recent time pins the longest


def test_of_two_clusters_the_more_recent_write_stands():
    replaced, current = write(900, at=10.0, system=1), write(100, at=11.0, system=2)

    assert later(replaced, current) == current
    assert later(current, replaced) == current


def test_a_write_without_a_position_keeps_the_other_ones_with_its_time():
    positioned = write(100, at=10.0)
    unknown = Write(conf.primary(), 11.0, None)

    assert later(positioned, unknown) == Write(conf.primary(), 11.0, positioned.position)


def test_merged_keeps_one_write_per_primary_and_drops_those_older_than_a_cookie_lives():
    old = write(50, at=time.time() - conf.LSN_COOKIE_SECONDS - 1)
    analytics = Write("analytics", time.time(), Position(7, SYSTEM))

    kept = merged([old, write(100)], [write(300), analytics], [write(200)])

    assert {w.primary: w.position.lsn for w in kept} == {conf.primary(): 300, "analytics": 7}
    assert merged([old]) == []


def test_only_a_saved_member_has_positions_kept():
    assert member_id(User(pk=7)) == "7"
    assert member_id(User()) is None  # unsaved: all would share one key
    assert member_id(AnonymousUser()) is None
    assert member_id(None) is None


# --- Two devices of one member, on the real stack -------------------------------------


@pytest.fixture
def member():
    return UserFactory(username="two-devices")


@pytest.fixture
def devices(member, stack) -> tuple[Client, Client]:
    """Two browsers logged in as the member, their sessions on every replica: each
    reads its session and user from a replica."""
    first, second = Client(), Client()
    first.force_login(member)
    second.force_login(member)
    stack.wait_for_replay()
    return first, second


def read_on_second(second: Client, name: str) -> dict[str, Any]:
    response = second.get(f"/tag-read-on/{name}")
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.usefixtures("causal")
def test_a_second_device_reads_the_first_ones_write_stale_without_positions_per_member(
    settings, devices, lagging_replicas, tag_name
):
    settings.ROUTERS_MEMBER_POSITIONS_CACHE = None
    first, second = devices

    first.get(f"/create/{tag_name}")
    answer = read_on_second(second, tag_name)

    assert answer["found"] is False
    assert answer["alias"] in replica_aliases()


@pytest.mark.usefixtures("causal")
def test_a_second_device_reads_the_first_ones_write_with_positions_per_member(
    devices, lagging_replicas, tag_name
):
    first, second = devices

    first.get(f"/create/{tag_name}")
    answer = read_on_second(second, tag_name)

    assert answer["found"] is True
    assert answer["alias"] == conf.primary()
    # Its session and user came from a replica, before the member was known: the
    # rest of the request moved to the primary, forward, once it was.
    (replica,) = set(answer["aliases"]) - {conf.primary()}
    assert replica in replica_aliases()


@pytest.mark.usefixtures("causal")
def test_a_replica_that_has_the_members_write_keeps_serving_the_second_device(
    devices, stack, tag_name
):
    first, second = devices
    first.get(f"/create/{tag_name}")
    stack.wait_for_replay()

    answer = read_on_second(second, tag_name)

    assert answer["found"] is True
    assert answer["aliases"] == [answer["alias"]]
    assert answer["alias"] in replica_aliases()


@pytest.mark.parametrize("strategy", ["sticky", "causal"])
def test_both_strategies_serve_the_second_device(
    causal, settings, devices, lagging_replicas, tag_name, strategy
):
    settings.ROUTERS_STRATEGY = strategy
    first, second = devices

    first.get(f"/create/{tag_name}")

    assert read_on_second(second, tag_name)["found"] is True


@pytest.mark.usefixtures("causal")
def test_another_member_gets_nothing_of_it(devices, stack, lagging_replicas, tag_name):
    first, _ = devices
    other = Client()
    other.force_login(UserFactory(username="someone-else"))
    stack.wait_for_replay()

    first.get(f"/create/{tag_name}")

    assert read_on_second(other, tag_name)["found"] is False


@pytest.mark.usefixtures("causal")
def test_a_visitors_write_is_kept_for_nobody(client, member, tag_name):
    client.get(f"/create/{tag_name}")

    assert kept_writes(str(member.pk)) == []
    assert caches["positions"].get(f"routers:member:{member.pk}") is None


@pytest.mark.usefixtures("causal")
def test_a_login_keeps_its_writes_for_the_member_who_logged_in(client, member):
    client.post("/login/", {"username": member.username, "password": PASSWORD})

    (kept,) = kept_writes(str(member.pk))
    assert kept.primary == conf.primary()
    assert kept.position is not None


# --- Two devices racing ----------------------------------------------------------------


def test_a_store_of_an_older_position_does_not_undo_a_newer_one(member):
    keep_writes(str(member.pk), [write(2000)])
    keep_writes(str(member.pk), [write(1000)])  # a slower request of another device

    (kept,) = kept_writes(str(member.pk))
    assert kept.position.lsn == 2000


def test_a_store_made_between_anothers_read_and_write_is_not_undone(member, monkeypatch):
    """Device one's store has read what is kept and not written its merge yet when device
    two stores a further position. Without the lock around the read and the write, one's
    merge, written last, holds the nearer position and undoes two's."""
    key = f"routers:member:{member.pk}"
    one_has_read, one_may_write, two_tried = threading.Event(), threading.Event(), threading.Event()
    real_get, real_add = RedisCache.get, RedisCache.add

    def get(self, cache_key, *args, **kwargs):  # type: ignore[no-untyped-def]
        value = real_get(self, cache_key, *args, **kwargs)
        if cache_key == key and threading.current_thread().name == "one":
            one_has_read.set()
            one_may_write.wait(5)
        return value

    def add(self, cache_key, *args, **kwargs):  # type: ignore[no-untyped-def]
        added = real_add(self, cache_key, *args, **kwargs)
        if not added and threading.current_thread().name == "two":
            two_tried.set()
        return added

    monkeypatch.setattr(RedisCache, "get", get)
    monkeypatch.setattr(RedisCache, "add", add)
    one = threading.Thread(target=keep_writes, args=(str(member.pk), [write(2000)]), name="one")
    two = threading.Thread(target=keep_writes, args=(str(member.pk), [write(3000)]), name="two")
    one.start()
    assert one_has_read.wait(5)
    two.start()
    # Two either waits for one's lock or, without a lock, stores at once.
    wait_until(lambda: two_tried.is_set() or not two.is_alive(), timeout=5, what="device two")
    one_may_write.set()
    one.join(5)
    two.join(5)

    (kept,) = kept_writes(str(member.pk))
    assert kept.position.lsn == 3000


# --- What the cache holds, bad or gone ------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        "not a token",
        dumps([write(100)])[:-3] + "abc",  # a signature that does not match
        "default=1@1/0@1:bad",
        12345,
        ["a", "list"],
        "x" * 10_000,
    ],
    ids=["text", "forged", "unsigned", "number", "list", "long"],
)
@pytest.mark.usefixtures("causal")
def test_garbage_kept_for_a_member_is_ignored(devices, member, tag_name, garbage):
    caches["positions"].set(f"routers:member:{member.pk}", garbage)

    assert kept_writes(str(member.pk)) == []
    assert devices[1].get(f"/tag-read-on/{tag_name}").status_code == 200
    assert cache_outage.allows()


def test_a_token_signed_with_another_key_is_ignored(settings, member):
    ours = settings.SECRET_KEY
    settings.SECRET_KEY = "another-project"
    forged = dumps([write(100)])
    settings.SECRET_KEY = ours
    caches["positions"].set(f"routers:member:{member.pk}", forged)

    assert kept_writes(str(member.pk)) == []


@pytest.fixture
def cache_calls(monkeypatch) -> list[str]:
    """Every call the routers make to the positions cache, by method."""
    cache = caches["positions"]
    calls: list[str] = []
    for name in ("get", "set", "add", "delete"):
        real = getattr(cache, name)

        def counted(*args: Any, real: Any = real, name: str = name, **kwargs: Any) -> Any:
            calls.append(name)
            return real(*args, **kwargs)

        monkeypatch.setattr(cache, name, counted)
    return calls


@pytest.fixture(params=["stopped", "hung"])
def cache_down(request, stack: Stack) -> Iterator[str]:
    """The stack's Redis stopped (refuses connections) or hung (SIGSTOP: accepts them,
    answers nothing) for the test."""
    outage = stack.redis_stopped() if request.param == "stopped" else stack.redis_hung()
    with outage:
        yield request.param


@pytest.mark.usefixtures("causal")
def test_a_cache_down_costs_the_positions_not_the_page(
    devices, lagging_replicas, tag_name, cache_calls, cache_down
):
    first, second = devices
    timings = []
    for path in (f"/create/{tag_name}", f"/tag-read-on/{tag_name}"):
        client = first if path.startswith("/create") else second
        started = time.monotonic()
        response = client.get(path)
        timings.append(time.monotonic() - started)
        assert response.status_code == 200

    # The first call waited its timeout (0.25 s, hung) or was refused (stopped); then the
    # cache was left alone, by the write's store and the second device's lookup alike.
    assert cache_calls == ["get"]
    assert max(timings) < 2
    assert not cache_outage.allows()
    # Cookies only: the second device reads as if no position were kept.
    assert second.get(f"/tag-read-on/{tag_name}").json()["found"] is False


def test_the_cache_is_asked_again_a_few_seconds_after_it_failed(monkeypatch):
    monkeypatch.setattr("routers.members.CACHE_RETRY_SECONDS", 0.2)

    cache_outage.failed(ConnectionError("made up"))

    assert not cache_outage.allows()
    wait_until(cache_outage.allows, timeout=2, what="the cache to be asked again")


@pytest.mark.usefixtures("causal")
def test_positions_per_member_come_back_with_the_cache(
    devices, lagging_replicas, tag_name, stack, monkeypatch
):
    monkeypatch.setattr("routers.members.CACHE_RETRY_SECONDS", 0.2)
    first, second = devices
    stack.run("stop", "redis")
    try:
        first.get(f"/create/{tag_name[:20]}-down")
        assert not cache_outage.allows()
    finally:
        stack.run("start", "redis")
    wait_until(cache_outage.allows, timeout=2, what="the cache to be asked again")

    first.get(f"/create/{tag_name}")

    assert read_on_second(second, tag_name)["found"] is True


def test_a_hung_cache_holds_a_lookup_for_its_timeout_only(member, stack):
    with stack.redis_hung():
        started = time.monotonic()
        with request_scope():
            member_authenticated(member)
        waited = time.monotonic() - started
        assert not cache_outage.allows()

    assert waited < 1  # the cache's socket_timeout: 0.25 s


# --- Django REST framework, token authentication --------------------------------------


@pytest.fixture
def api_token(member, stack) -> str:
    """The member's API token, on every replica (the token is read like any row)."""
    token = Token.objects.create(user=member)
    stack.wait_for_replay()
    return token.key


def api(token: str) -> Client:
    return Client(headers={"Authorization": f"Token {token}"})


@pytest.mark.usefixtures("causal")
def test_a_token_client_reads_the_members_browser_write_once_wired(
    devices, api_token, lagging_replicas, tag_name
):
    browser, _ = devices
    browser.get(f"/create/{tag_name}")

    unwired = api(api_token).get(f"/api/unwired/tag/{tag_name}")
    wired = api(api_token).get(f"/api/tag/{tag_name}")

    # DRF authenticates inside the view: without the hook, the routers never learn
    # who the client is, and its replica lacks the write.
    assert unwired.status_code == 404
    assert unwired.json()["alias"] in replica_aliases()
    assert wired.status_code == 200
    assert wired.json()["alias"] == conf.primary()
    # The token was read from a replica, before the member was known.
    assert set(wired.json()["aliases"]) - {conf.primary()} <= set(replica_aliases())


@pytest.mark.usefixtures("causal")
def test_a_browser_reads_the_members_token_client_write(
    devices, api_token, lagging_replicas, tag_name
):
    _, browser = devices

    created = api(api_token).post(f"/api/create/{tag_name}")
    assert created.status_code == 201
    answer = read_on_second(browser, tag_name)

    # Kept for its member without the hook: DRF set the user on the request.
    assert answer["found"] is True


# --- Where the position learned late leads ------------------------------------------


@pytest.mark.usefixtures("causal")
def test_the_primary_down_gives_the_second_device_the_saved_page_not_a_stale_one(
    devices, lagging_replicas, tag_name
):
    first, second = devices
    first.get(f"/create/{tag_name}")

    with unreachable(conf.primary()):
        response = second.get(f"/tag-read-on/{tag_name}")

    assert response.status_code == 503
    assert b"on its way" in response.content


@pytest.mark.usefixtures("causal")
def test_a_device_whose_cookies_already_carry_whats_kept_is_not_checked_again(
    devices, lagging_replicas, tag_name, monkeypatch
):
    first, second = devices
    first.get(f"/create/{tag_name}")
    revisited: list[str] = []
    real = SafeRouter.writes_learned_late

    def noted(router, primary, state):  # type: ignore[no-untyped-def]
        revisited.append(primary)
        real(router, primary, state)

    monkeypatch.setattr(SafeRouter, "writes_learned_late", noted)

    first.get(f"/tag-read-on/{tag_name}")
    assert revisited == []
    second.get(f"/tag-read-on/{tag_name}")
    assert revisited == [conf.primary()]


class WrappingRouter:
    """A project's router around CausalRouter, by composition."""

    def __init__(self) -> None:
        self.inner = CausalRouter()

    def db_for_read(self, model, **hints):  # type: ignore[no-untyped-def]
        return self.inner.db_for_read(model, **hints)

    def db_for_write(self, model, **hints):  # type: ignore[no-untyped-def]
        return self.inner.db_for_write(model, **hints)


@pytest.mark.usefixtures("causal")
def test_a_router_wrapping_ours_does_not_revisit_the_replica_it_chose(
    settings, devices, lagging_replicas, tag_name
):
    """A limit (routers/README.md): active_router() cannot see inside another router."""
    settings.DATABASE_ROUTERS = [f"{__name__}.WrappingRouter"]
    first, second = devices

    first.get(f"/create/{tag_name}")

    assert read_on_second(second, tag_name)["found"] is False


def test_two_devices_under_asgi(member, stack, lagging_replicas, tag_name, tmp_path):
    """The same through gunicorn's ASGI worker: the middleware's async path stores the
    write, and the lookup runs in Django's thread (process_view)."""
    sessions = []
    for _ in range(2):
        device = Client()
        device.force_login(member)
        sessions.append(device.cookies[django_settings.SESSION_COOKIE_NAME].value)
    stack.wait_for_replay()

    def open_as(session: str, path: str) -> tuple[int, str]:
        cookie = f"{django_settings.SESSION_COOKIE_NAME}={session}; lab_strategy=causal"
        request = urllib.request.Request(url + path, headers={"Cookie": cookie})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    with gunicorn(tmp_path, asgi=True, **served_with(ROOT_URLCONF="tests.routers.urls")) as url:
        assert open_as(sessions[0], f"/create/{tag_name}")[0] == 200
        status, body = open_as(sessions[1], f"/tag-read-on/{tag_name}")

    assert status == 200
    assert json.loads(body)["found"] is True


def test_a_lock_left_by_a_request_that_died_delays_a_store_a_moment_only(member):
    caches["positions"].add(f"routers:member:{member.pk}:lock", "1", 60)  # never released
    try:
        started = time.monotonic()
        keep_writes(str(member.pk), [write(5000)])
        waited = time.monotonic() - started
    finally:
        caches["positions"].delete(f"routers:member:{member.pk}:lock")

    assert waited < 1  # 0.1 s of tries, then the merge anyway
    (kept,) = kept_writes(str(member.pk))
    assert kept.position.lsn == 5000


@pytest.mark.usefixtures("causal")
def test_a_database_error_while_the_middleware_reads_the_member_is_the_views_to_meet(
    devices, tag_name, monkeypatch
):
    """A node lost while the session is read before the view: the view reads it again,
    as it did before the routers read it early, instead of a 500 from the middleware."""
    from django.contrib.auth import middleware

    real = middleware.auth.get_user
    failures = iter([OperationalError("the replica went away")])

    def get_user_once_failing(request):  # type: ignore[no-untyped-def]
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real(request)

    monkeypatch.setattr(middleware.auth, "get_user", get_user_once_failing)

    answer = read_on_second(devices[1], tag_name)

    assert answer["found"] is False  # no such tag: the page was served all the same
