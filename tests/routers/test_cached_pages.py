"""Django's cache middleware never gives one client's routing cookies to another.

A public GET that writes (a visit counter) sets the visitor's cookies. Cached with its
Set-Cookie, it would hand that visitor's older position to every client that opens
the page after, a writer included, whose own newer write is then read stale. gunicorn
with UpdateCacheMiddleware and FetchFromCacheMiddleware around the project's
middleware, its default cache (local memory, in the server), replicas 3 s behind.
"""

import pytest
import requests
from django.conf import settings

from routers import conf
from tests.helpers import gunicorn, served_with

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture(scope="module")
def cached_site(django_db_setup, tmp_path_factory):
    """The tests' views, behind Django's per-site cache, under causal."""
    middleware = [
        "django.middleware.cache.UpdateCacheMiddleware",
        *settings.MIDDLEWARE,
        "django.middleware.cache.FetchFromCacheMiddleware",
    ]
    env = served_with(MIDDLEWARE=middleware, ROOT_URLCONF="tests.routers.urls")
    with gunicorn(tmp_path_factory.mktemp("cached"), FORUM_ROUTING="causal", **env) as url:
        yield url


def test_a_writer_opening_a_page_another_visit_wrote_keeps_its_own_position(
    cached_site, lagging_replicas, tag_name
):
    visitor, writer = requests.Session(), requests.Session()
    page = f"{cached_site}/touch/{tag_name}"
    visited = visitor.get(page, timeout=10)
    assert conf.LSN_COOKIE in visited.cookies  # the visit wrote
    lagging_replicas.wait_for_replay()  # every replica has the visitor's position

    writer.get(f"{cached_site}/create/{tag_name}", timeout=10)  # a newer write
    opened = writer.get(page, timeout=10)
    read = writer.get(f"{cached_site}/tag/{tag_name}", timeout=10)

    assert read.status_code == 200, f"read from {read.text}"
    assert opened.cookies.get(conf.LSN_COOKIE) != visited.cookies[conf.LSN_COOKIE]


def test_a_response_that_sets_the_cookies_is_kept_out_of_shared_caches(cached_site, tag_name):
    response = requests.get(f"{cached_site}/touch/{tag_name}", timeout=10)

    assert conf.LSN_COOKIE in response.cookies
    # RFC 9111: a shared cache (a CDN, a proxy) must not store a private response.
    assert "private" in response.headers["Cache-Control"]
    assert "Cookie" in response.headers["Vary"]
