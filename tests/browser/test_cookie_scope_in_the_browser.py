"""The routing cookies reach wherever the session cookie does, in a real headless Chromium
against gunicorn and replicas 3 s behind: a sibling subdomain under a parent-domain
session, a second app on the same host, a cross-site iframe (SameSite=None, HTTPS).

Each reads the session right after a login: a request without the client's routing
cookies reads it from a replica that lacks the login, and Django logs the client out.
"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, Response, expect, sync_playwright

from forum.models import Post
from routers import conf
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.factories import PASSWORD, UserFactory
from tests.helpers import gunicorn, replicated_thread, self_signed_certificate, served_with

pytestmark = [pytest.mark.stack, pytest.mark.browser, pytest.mark.usefixtures("live_db")]

HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the tests' own, as fast
X_FRAME_OPTIONS = "django.middleware.clickjacking.XFrameOptionsMiddleware"
HOSTS = [".forum.test", "127.0.0.1"]  # 127.0.0.1 for the helper's /healthz
SERVERS_ON_LOOPBACK = [
    "--host-resolver-rules=MAP *.forum.test 127.0.0.1, MAP *.embedder.test 127.0.0.1",
    "--ignore-certificate-errors",  # the servers' own self-signed certificate
]


@pytest.fixture
def chromium_args():
    """Every forum.test and embedder.test host reaches the servers on 127.0.0.1."""
    return SERVERS_ON_LOOPBACK


def on_host(url: str, host: str) -> str:
    """The server's URL, reached by another host name."""
    return url.replace("127.0.0.1", host)


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.form button[type=submit]")
    expect(page.locator(".account .me")).to_have_text(username)


def reply(page: Page, thread_url: str, text: str) -> None:
    page.goto(thread_url)
    page.fill("form.reply textarea", text)
    page.click("form.reply button[type=submit]")


@pytest.mark.parametrize("strategy", ["sticky", "causal"])
def test_a_sibling_subdomain_sees_the_login_and_the_write(
    django_db_setup, tmp_path, lagging_replicas, page, strategy
):
    env = served_with(
        SESSION_COOKIE_DOMAIN=".forum.test", ALLOWED_HOSTS=HOSTS, PASSWORD_HASHERS=HASHERS
    )
    with gunicorn(tmp_path, FORUM_ROUTING=strategy, **env) as url:
        a, b = on_host(url, "a.forum.test"), on_host(url, "b.forum.test")
        thread = replicated_thread("Read on a sibling")
        UserFactory(username="sibling")
        lagging_replicas.wait_for_replay()

        log_in(page, a, "sibling")
        reply(page, a + thread.get_absolute_url(), "Written on a.")
        post = Post.objects.using("default").get(body="Written on a.")

        page.goto(b + thread.get_absolute_url())  # within the replicas' 3 s
        expect(page.locator(".account .me")).to_have_text("sibling")
        expect(page.locator(f"#post-{post.pk}")).to_contain_text("Written on a.")
        page.goto(a + "/")  # the shared session cookie was not deleted on b.
        expect(page.locator(".account .me")).to_have_text("sibling")


@contextmanager
def app(tmp_path: Path, name: str) -> Iterator[str]:
    """The forum as an app of its own: its own secret key, session and routing cookies."""
    (tmp_path / name).mkdir()
    env = served_with(
        SECRET_KEY=f"{name}-secret-key",
        SESSION_COOKIE_NAME=f"{name}_session",
        ROUTERS_COOKIE_PREFIX=f"{name}_",
        PASSWORD_HASHERS=HASHERS,
    )
    with gunicorn(tmp_path / name, FORUM_ROUTING="causal", **env) as url:
        yield url


def test_two_apps_on_one_host_keep_their_cookies_apart(
    django_db_setup, tmp_path, lagging_replicas, page
):
    """Cookies ignore the port: two apps on 127.0.0.1 share them, as two apps on one
    host name behind a proxy do. Each has its own SECRET_KEY and session cookie."""
    UserFactory(username="twice")
    lagging_replicas.wait_for_replay()
    with app(tmp_path, "shop") as shop, app(tmp_path, "blog") as blog:
        log_in(page, shop, "twice")
        log_in(page, blog, "twice")  # its cookies beside the shop's, within the 3 s

        page.goto(shop + "/")
        expect(page.locator(".account .me")).to_have_text("twice")
    held = {cookie["name"] for cookie in page.context.cookies()}
    assert {"shop_routers_lsn", "blog_routers_lsn"} <= held


@contextmanager
def site_framing(url: str) -> Iterator[str]:
    """Another site, on 127.0.0.1 (Chromium lets only a local page frame a local
    server), whose page is an iframe of `url`; its URL."""
    page = f'<!doctype html><title>Another site</title><iframe src="{url}"></iframe>'.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def page_with_third_party_cookies(profile: Path) -> Iterator[Page]:
    """A page in a headless Chromium that keeps third-party cookies, as a browser's
    default settings do: a new Playwright context is incognito, which blocks them."""
    preferences = profile / "Default" / "Preferences"
    preferences.parent.mkdir(parents=True)
    preferences.write_text(json.dumps({"profile": {"cookie_controls_mode": 0}}))
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *SERVERS_ON_LOOPBACK]
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def scope(set_cookie: str) -> dict[str, tuple[str, str, str, bool]]:
    """Each cookie a Set-Cookie header sets, with its domain, path, SameSite and Secure."""
    cookies = SimpleCookie(set_cookie)
    return {
        name: (m["domain"], m["path"], m["samesite"], bool(m["secure"]))
        for name, m in cookies.items()
    }


def test_a_cross_site_iframe_keeps_the_login(django_db_setup, tmp_path, lagging_replicas):
    """The forum in an iframe of another site: only SameSite=None cookies (Secure, so
    over HTTPS) go with its requests, the session's and the routing ones."""
    UserFactory(username="framed")
    lagging_replicas.wait_for_replay()
    env = served_with(
        SESSION_COOKIE_SAMESITE="None",
        SESSION_COOKIE_SECURE=True,
        CSRF_COOKIE_SAMESITE="None",  # the login form's POST, from inside the iframe
        CSRF_COOKIE_SECURE=True,
        MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != X_FRAME_OPTIONS],
        ALLOWED_HOSTS=HOSTS,
        PASSWORD_HASHERS=HASHERS,
    )
    certificate = self_signed_certificate(tmp_path, "*.forum.test")
    with (
        gunicorn(tmp_path, tls=certificate, FORUM_ROUTING="causal", **env) as url,
        site_framing(on_host(url, "a.forum.test") + "/login/") as site,
        page_with_third_party_cookies(tmp_path / "profile") as page,
    ):
        set_cookies: dict[str, tuple[str, str, str, bool]] = {}

        def note_set_cookies(response: Response) -> None:
            for header in response.headers_array():
                if header["name"].lower() == "set-cookie":
                    set_cookies.update(scope(header["value"]))

        page.on("response", note_set_cookies)
        page.goto(on_host(site, "www.embedder.test"))
        frame = page.frame_locator("iframe")
        frame.locator("#id_username").fill("framed")
        frame.locator("#id_password").fill(PASSWORD)
        frame.locator("form.form button[type=submit]").click()

        expect(frame.locator(".account .me")).to_have_text("framed")
        session = set_cookies["sessionid"]
        assert session[2:] == ("None", True)
        assert set_cookies[conf.PIN_COOKIE] == set_cookies[conf.LSN_COOKIE] == session
