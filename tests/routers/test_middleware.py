"""RoutingMiddleware with RequestFactory and no database: cookies in, cookies out."""

import asyncio
import threading
import time

import pytest
from django.core import signing
from django.http import HttpResponse
from django.test import RequestFactory

from routers import NodeHealth, RoutingMiddleware, conf, current_state, db_write, use_primary
from routers.context import primary_forced
from routers.cookies import PIN_CLOCK_SKEW_SECONDS
from routers.positions import Position

factory = RequestFactory()


def cookie_value(name: str, value: str) -> str:
    """What the middleware's `set_signed_cookie(name, value, salt=name)` stores."""
    response = HttpResponse()
    response.set_signed_cookie(name, value, salt=name)
    return response.cookies[name].value


def unsign(name: str, value: str) -> str:
    request = factory.get("/")
    request.COOKIES[name] = value
    return request.get_signed_cookie(name, salt=name)


def run(request, view):
    return RoutingMiddleware(view)(request)


def seen_state(request):
    captured = {}

    def view(request):
        captured["state"] = current_state()
        return HttpResponse("ok")

    run(request, view)
    return captured["state"]


@pytest.fixture
def strategy(settings):
    def choose(name):
        settings.ROUTERS_STRATEGY = name

    return choose


# The test stack's cluster, say (`SELECT system_identifier FROM pg_control_system()`).
CLUSTER = 7714484792588521126


@pytest.fixture(autouse=True)
def primary_at(stub):
    """The primary's position, as the middleware reads it after a write (no database)."""
    stub("primary_position", lambda primary=None: Position(0x16_B374D848, CLUSTER))


def test_it_reads_a_genuine_pin_cookie():
    request = factory.get(
        "/", HTTP_COOKIE=f"{conf.PIN_COOKIE}={cookie_value(conf.PIN_COOKIE, '1')}"
    )

    assert seen_state(request).cluster().pinned


def test_it_ignores_an_lsn_cookie_older_than_its_lifetime(monkeypatch):
    """The browser drops it after LSN_COOKIE_SECONDS; a client that kept it anyway."""
    now = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now - conf.LSN_COOKIE_SECONDS - 60)
    old = cookie_value(conf.LSN_COOKIE, "16/B374D848")
    monkeypatch.setattr(signing.time, "time", lambda: now)
    request = factory.get("/")
    request.COOKIES[conf.LSN_COOKIE] = old

    assert seen_state(request).cluster().min_lsn is None


@pytest.mark.parametrize(
    "value",
    [
        "1",  # forged: unsigned
        "1:AAAAAA:badsignature",
        cookie_value(conf.LSN_COOKIE, "1"),  # signed for the other cookie
        "%ff%fe\x00garbage",
        "",
    ],
    # Fixed ids: a signature changes each second, and pytest-xdist's workers must
    # collect the same names.
    ids=["unsigned", "bad-signature", "other-cookie", "garbage", "empty"],
)
def test_it_ignores_a_forged_or_garbled_pin_cookie(value):
    request = factory.get("/")
    request.COOKIES[conf.PIN_COOKIE] = value

    assert not seen_state(request).cluster().pinned


def test_it_ignores_an_expired_pin_cookie(monkeypatch):
    """The browser drops it after ROUTERS_STICKY_SECONDS; a client that kept it anyway,
    past the allowance for app servers' clocks that disagree."""
    now = time.time()
    signed_at = now - conf.sticky_seconds() - PIN_CLOCK_SKEW_SECONDS - 1
    monkeypatch.setattr(signing.time, "time", lambda: signed_at)
    old = cookie_value(conf.PIN_COOKIE, "1")
    monkeypatch.setattr(signing.time, "time", lambda: now)
    request = factory.get("/")
    request.COOKIES[conf.PIN_COOKIE] = old

    assert not seen_state(request).cluster().pinned


def test_it_reads_a_pin_signed_by_a_clock_behind_within_the_allowance(monkeypatch, settings):
    """Signed 2.5 s ago by a server whose clock is 3 s behind: 5.5 s old by its time
    stamp, but the browser, counting the 5 s Max-Age from the response, still sends it."""
    settings.ROUTERS_STICKY_SECONDS = 5
    now = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now - 2.5 - 3)
    pin = cookie_value(conf.PIN_COOKIE, "1")
    monkeypatch.setattr(signing.time, "time", lambda: now)
    request = factory.get("/")
    request.COOKIES[conf.PIN_COOKIE] = pin

    assert seen_state(request).cluster().pinned


def test_it_reads_a_genuine_lsn_cookie():
    request = factory.get("/")
    request.COOKIES[conf.LSN_COOKIE] = cookie_value(conf.LSN_COOKIE, "16/B374D848")

    assert seen_state(request).cluster().min_lsn == 0x16_B374D848


@pytest.mark.parametrize(
    ("value", "wrote_at", "cluster"),
    [
        ("16/B374D848@1764224000123@7714484792588521126", 1764224000.123, CLUSTER),
        # pg_control_system() shows the unsigned identifier as a bigint: past 2**63, < 0.
        ("16/B374D848@1764224000123@-42", 1764224000.123, -42),
        # Today's cookies, carried for an hour after an upgrade: read as they were.
        ("16/B374D848@1764224000123", 1764224000.123, None),
        ("16/B374D848", None, None),
    ],
)
def test_it_reads_the_cluster_of_a_genuine_lsn_cookie_when_it_names_one(value, wrote_at, cluster):
    request = factory.get("/")
    request.COOKIES[conf.LSN_COOKIE] = cookie_value(conf.LSN_COOKIE, value)

    state = seen_state(request).cluster()

    assert (state.min_lsn, state.wrote_at, state.system_identifier) == (
        0x16_B374D848,
        wrote_at,
        cluster,
    )


@pytest.mark.parametrize(
    "value",
    [
        "16/B374D848",  # forged: unsigned
        cookie_value(conf.LSN_COOKIE, "zz/zz"),  # signed, but not an LSN
        cookie_value(conf.LSN_COOKIE, "1/2/3"),
        cookie_value(conf.LSN_COOKIE, "16/B374D848@1764224000123@"),
        cookie_value(conf.LSN_COOKIE, "16/B374D848@1764224000123@cluster"),
        cookie_value(conf.LSN_COOKIE, "16/B374D848@@7714484792588521126"),
        cookie_value(conf.PIN_COOKIE, "16/B374D848"),  # signed for the other cookie
        "\x00",
    ],
    ids=[
        "unsigned",
        "not-an-lsn",
        "three-parts",
        "empty-cluster",
        "cluster-not-a-number",
        "empty-time",
        "other-cookie",
        "nul",
    ],
)
def test_it_ignores_a_forged_or_garbled_lsn_cookie(value):
    request = factory.get("/")
    request.COOKIES[conf.LSN_COOKIE] = value

    assert seen_state(request).cluster().min_lsn is None


def writing_view(request):
    current_state().cluster().wrote = True
    return HttpResponse("saved")


def idle_view(request):
    return HttpResponse("nothing written")


def test_it_pins_a_client_after_a_request_that_wrote(strategy):
    strategy("sticky")

    response = run(factory.post("/"), writing_view)

    morsel = response.cookies[conf.PIN_COOKIE]
    assert morsel["httponly"]
    assert unsign(conf.PIN_COOKIE, morsel.value) == "1"


@pytest.mark.parametrize("name", ["primary", "naive", "sticky", "causal"])
def test_it_sets_both_cookies_after_a_write_whatever_the_strategy(strategy, name):
    strategy(name)

    response = run(factory.post("/"), writing_view)

    assert unsign(conf.PIN_COOKIE, response.cookies[conf.PIN_COOKIE].value) == "1"
    assert unsign(conf.LSN_COOKIE, response.cookies[conf.LSN_COOKIE].value).startswith(
        "16/B374D848@"
    )


def test_it_pins_nothing_after_a_post_that_wrote_nothing(strategy):
    strategy("sticky")

    response = run(factory.post("/"), idle_view)

    assert conf.PIN_COOKIE not in response.cookies


def test_it_stores_the_primarys_lsn_and_the_time_after_a_write(strategy):
    strategy("causal")

    before = time.time()
    response = run(factory.post("/"), writing_view)

    request = factory.get("/")
    request.COOKIES[conf.LSN_COOKIE] = response.cookies[conf.LSN_COOKIE].value
    state = seen_state(request)
    assert state.cluster().min_lsn == 0x16_B374D848
    assert before - 0.001 <= state.cluster().wrote_at <= time.time()


def test_it_stores_the_cluster_of_the_position_after_a_write(strategy):
    strategy("causal")

    response = run(factory.post("/"), writing_view)

    value = unsign(conf.LSN_COOKIE, response.cookies[conf.LSN_COOKIE].value)
    assert value.startswith("16/B374D848@")
    assert value.endswith(f"@{CLUSTER}")


def test_it_notices_writes_a_db_write_view_declares(strategy):
    strategy("sticky")

    response = run(factory.post("/"), db_write(idle_view))

    assert conf.PIN_COOKIE in response.cookies


def test_it_never_deletes_a_cookie(strategy):
    strategy("causal")
    request = factory.get("/")
    request.COOKIES[conf.LSN_COOKIE] = cookie_value(conf.LSN_COOKIE, "0/1")

    response = run(request, idle_view)

    assert conf.LSN_COOKIE not in response.cookies


@pytest.mark.parametrize("secure", [True, False])
def test_it_marks_its_cookies_secure_like_the_session_cookie(strategy, settings, secure):
    strategy("sticky")
    settings.SESSION_COOKIE_SECURE = secure

    response = run(factory.post("/"), writing_view)

    assert bool(response.cookies[conf.PIN_COOKIE]["secure"]) is secure


@pytest.mark.parametrize(
    ("domain", "path", "samesite"),
    [
        (None, "/", "Lax"),
        (".forum.test", "/forum/", "Strict"),
        (None, "/", "None"),
        (None, "/", False),
    ],
)
def test_it_scopes_its_cookies_as_the_session_cookie(strategy, settings, domain, path, samesite):
    strategy("causal")
    settings.SESSION_COOKIE_DOMAIN = domain
    settings.SESSION_COOKIE_PATH = path
    settings.SESSION_COOKIE_SAMESITE = samesite

    response = run(factory.post("/"), writing_view)

    for name in (conf.PIN_COOKIE, conf.LSN_COOKIE):
        morsel = response.cookies[name]
        assert (morsel["domain"], morsel["path"]) == (domain or "", path)
        assert morsel["samesite"] == (samesite or "")  # False: no SameSite, as Django's


def test_it_puts_the_prefix_in_front_of_its_cookie_names(strategy, settings):
    strategy("causal")
    settings.ROUTERS_COOKIE_PREFIX = "shop_"

    response = run(factory.post("/"), writing_view)

    assert set(response.cookies) == {"shop_routers_pin", "shop_routers_lsn"}
    request = factory.get("/")
    request.COOKIES["shop_routers_lsn"] = response.cookies["shop_routers_lsn"].value
    assert seen_state(request).cluster().min_lsn == 0x16_B374D848


def test_it_reads_the_cookies_clients_hold_from_before_the_prefix():
    # What every earlier version set: these names, each salted with its name.
    request = factory.get("/")
    request.COOKIES["routers_pin"] = cookie_value("routers_pin", "1")
    request.COOKIES["routers_lsn"] = cookie_value("routers_lsn", "16/B374D848@1764224000123")

    cluster = seen_state(request).cluster()

    assert cluster.pinned
    assert cluster.min_lsn == 0x16_B374D848


def test_it_ignores_the_cookies_of_an_app_with_another_prefix(strategy, settings):
    strategy("causal")
    request = factory.get("/")
    request.COOKIES[conf.LSN_COOKIE] = cookie_value(conf.LSN_COOKIE, "16/B374D848")
    settings.ROUTERS_COOKIE_PREFIX = "shop_"

    assert seen_state(request).clusters == {}


@pytest.mark.parametrize("cache_control", [None, "public, max-age=600"])
def test_it_keeps_a_response_that_sets_its_cookies_out_of_shared_caches(strategy, cache_control):
    strategy("causal")

    def view(request):
        response = writing_view(request)
        if cache_control:
            response["Cache-Control"] = cache_control
        return response

    response = run(factory.get("/"), view)

    assert "Cookie" in response["Vary"]
    assert "private" in response["Cache-Control"]
    assert "public" not in response["Cache-Control"]


def test_it_leaves_the_caching_of_a_response_without_its_cookies_alone(strategy):
    strategy("causal")

    response = run(factory.get("/"), idle_view)

    assert not response.has_header("Vary")
    assert not response.has_header("Cache-Control")


@pytest.mark.parametrize(
    ("method", "writes"),
    [("get", False), ("head", False), ("post", True), ("put", True), ("delete", True)],
)
def test_it_notes_whether_the_method_may_write(method, writes):
    assert seen_state(getattr(factory, method)("/")).intends_to_write is writes


def test_it_keeps_state_apart_between_threads():
    seen = {}
    barrier = threading.Barrier(2)

    def view(request):
        current_state().cluster().wrote = request.path == "/writer"
        barrier.wait(timeout=5)  # both requests are in flight at once
        seen[request.path] = current_state().wrote
        return HttpResponse()

    threads = [
        threading.Thread(target=run, args=(factory.get(path), view))
        for path in ("/writer", "/reader")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)

    assert seen == {"/writer": True, "/reader": False}
    assert current_state() is None


def test_it_keeps_state_apart_between_asyncio_tasks():
    async def view(request):
        current_state().cluster().wrote = request.path == "/writer"
        await asyncio.sleep(0)  # let the other task run in between
        return HttpResponse(str(current_state().wrote))

    middleware = RoutingMiddleware(view)

    async def both():
        return await asyncio.gather(
            middleware(factory.get("/writer")), middleware(factory.get("/reader"))
        )

    writer, reader = asyncio.run(both())

    assert (writer.content, reader.content) == (b"True", b"False")
    assert current_state() is None


def test_it_sets_no_lsn_cookie_when_the_primary_vanished_mid_request(strategy, stub):
    strategy("causal")
    stub("primary_position", lambda primary=None: None)

    response = run(factory.post("/"), writing_view)

    assert response.status_code == 200
    assert conf.LSN_COOKIE not in response.cookies


def test_it_turns_a_failed_write_below_it_into_the_read_only_page(stub):
    down = NodeHealth("default", False, None, 0.0)
    stub("probe", lambda alias: down)

    def failing(request):
        return HttpResponse("Server Error", status=500)

    posted = run(factory.post("/", {"body": "keep me"}), failing)
    fetched = run(factory.get("/"), failing)

    assert posted.status_code == 503
    assert b"keep me" in posted.content
    assert fetched.status_code == 500


def test_it_marks_async_views_as_writing_too(strategy):
    strategy("sticky")

    @db_write
    async def view(request):
        return HttpResponse("queued")

    async def call():
        return await RoutingMiddleware(view)(factory.post("/"))

    response = asyncio.run(call())

    assert conf.PIN_COOKIE in response.cookies


def test_it_keeps_use_primary_in_force_inside_an_async_view():
    @use_primary()
    async def view(request):
        await asyncio.sleep(0)
        return HttpResponse(str(primary_forced()))

    async def call():
        return await RoutingMiddleware(view)(factory.get("/"))

    assert asyncio.run(call()).content == b"True"
    assert not primary_forced()
