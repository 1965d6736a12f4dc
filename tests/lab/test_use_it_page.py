"""The "use it in your project" page says what the package really accepts: its settings
pass the routers' own checks, its defaults are routers/conf.py's, every router and check
it names exists, and its URLconf serves /healthz."""

import copy
import html
import os
import re
import warnings

import pytest
from django.conf import settings as project_settings
from django.core import checks
from django.db import connections
from django.test import override_settings
from django.urls import resolve
from django.utils.module_loading import import_string

from routers import conf
from routers.views import healthz
from tests.helpers import REPO

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]

# Where a project's settings.py starts from: what `django-admin startproject` writes.
STARTPROJECT = {
    "INSTALLED_APPS": [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "django.contrib.staticfiles",
    ],
}


def snippets(client, language: str) -> list[str]:
    page = client.get("/lab/use-it-in-your-project/").content.decode()
    blocks = re.findall(rf'<code class="language-{language}">(.*?)</code>', page, re.S)
    return [html.unescape(block) for block in blocks]


@pytest.fixture
def page_settings(client, monkeypatch) -> dict:
    """The page's settings snippets, run in order as a settings.py would run them."""
    monkeypatch.setenv("APP_DB_PASSWORD", "app")
    monkeypatch.setenv("APP_READER_PASSWORD", "reader")
    namespace = {"os": os, **{name: list(value) for name, value in STARTPROJECT.items()}}
    for block in snippets(client, "python"):
        if "urlpatterns" not in block:
            exec(block, namespace)
    return {name: value for name, value in namespace.items() if name.isupper()}


def routers_checks() -> list[str]:
    """The ids of what `manage.py check` finds wrong with routing."""
    return [m.id for m in checks.run_checks() if m.id and m.id.startswith("routers.")]


@pytest.fixture
def as_the_page_says(settings, page_settings):
    """The project's settings, with the page's routing settings instead of its own. Its
    INSTALLED_APPS and DATABASES are checked apart: this process keeps its apps and
    connections (the page's two aliases are the project's first two)."""

    for name in [n for n in dir(project_settings) if n.startswith("ROUTERS_")]:
        if name not in page_settings:
            delattr(settings, name)
    for name, value in page_settings.items():
        if name not in ("INSTALLED_APPS", "DATABASES"):
            setattr(settings, name, value)
    return page_settings


def test_its_settings_pass_the_routers_checks(as_the_page_says):
    assert routers_checks() == []
    assert as_the_page_says["INSTALLED_APPS"] == [*STARTPROJECT["INSTALLED_APPS"], "routers"]
    assert as_the_page_says["DATABASE_ROUTERS"] == ["routers.CausalRouter"]


def test_its_positions_cache_passes_the_routers_checks(settings, as_the_page_says):
    settings.ROUTERS_MEMBER_POSITIONS_CACHE = "positions"

    assert as_the_page_says["CACHES"]["positions"]["BACKEND"].endswith(".RedisCache")
    assert routers_checks() == []


def test_its_databases_are_what_django_accepts(page_settings):
    databases = connections.configure_settings(copy.deepcopy(page_settings["DATABASES"]))

    assert list(databases) == ["default", "replica"]
    for config in databases.values():
        assert config["ENGINE"] == "django.db.backends.postgresql"
        assert config["OPTIONS"]["connect_timeout"] > 0
    assert databases["replica"]["TEST"]["MIRROR"] == "default"


def test_its_middleware_is_placed_where_the_checks_want_it(settings, as_the_page_says):
    middleware = as_the_page_says["MIDDLEWARE"]
    routing = middleware.index("routers.middleware.RoutingMiddleware")

    assert routing < middleware.index("django.contrib.sessions.middleware.SessionMiddleware")
    assert routing < middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    # The same list without it, or with it last, is what the checks warn about.
    without = [entry for entry in middleware if entry != middleware[routing]]
    for wrong, warning in (
        (without, "routers.W001"),
        ([*without, middleware[routing]], "routers.W005"),
    ):
        settings.MIDDLEWARE = wrong
        assert warning in routers_checks()


def test_the_defaults_it_lists_are_the_packages(settings, page_settings):

    listed = {name: value for name, value in page_settings.items() if name.startswith("ROUTERS_")}
    for name in [n for n in dir(project_settings) if n.startswith("ROUTERS_")]:
        delattr(settings, name)
    # ROUTERS_REPLICAS's default depends on DATABASES: the page's.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Overriding setting DATABASES": only read here
        with override_settings(DATABASES=page_settings["DATABASES"]):
            defaults = {
                "ROUTERS_PRIMARY": conf.primary(),
                "ROUTERS_REPLICAS": conf.replicas(),
                "ROUTERS_STRATEGY": conf.strategy(),
                "ROUTERS_STICKY_SECONDS": conf.sticky_seconds(),
                "ROUTERS_CAUSAL_WAIT_MS": conf.causal_wait_seconds() * 1000,
                "ROUTERS_MAX_LAG_BYTES": conf.max_lag_bytes(),
                "ROUTERS_MAX_LAG_SECONDS": conf.max_lag_seconds(),
                "ROUTERS_HEALTH_TTL": conf.health_ttl(),
                "ROUTERS_POOLED_REPLICAS": conf.pooled_replicas(),
                "ROUTERS_COOKIE_PREFIX": conf.cookie_prefix(),
                "ROUTERS_TASK_MODE": conf.task_mode(),
                "ROUTERS_MEMBER_POSITIONS_CACHE": conf.member_positions_cache(),
                "ROUTERS_METRICS": conf.metrics(),
            }

    assert listed == defaults


def test_every_router_and_check_it_names_exists(client):
    page = html.unescape(client.get("/lab/use-it-in-your-project/").content.decode())
    routers = set(re.findall(r"routers\.\w+Router\b", page))
    ids = set(re.findall(r"routers\.[EW]\d{3}", page))

    for path in routers:
        assert import_string(path).__name__ == path.split(".")[1]
    # An id stands alone in a string literal where a check is made; hints only mention them.
    registered = set(re.findall(r'"(routers\.[EW]\d{3})"', checks_source()))
    assert ids == registered  # every check, and only those


def checks_source() -> str:
    return (REPO / "routers/checks.py").read_text(encoding="utf-8")


def test_its_urlconf_serves_healthz(client):
    (block,) = [block for block in snippets(client, "python") if "urlpatterns" in block]
    namespace: dict = {}
    exec(block, namespace)

    class URLConf:
        urlpatterns = namespace["urlpatterns"]

    assert resolve("/healthz", urlconf=URLConf).func is healthz
    assert client.get("/healthz").status_code == 200


def test_its_sql_makes_the_role_the_checks_want(client):
    (sql,) = snippets(client, "sql")

    assert "GRANT SELECT" in sql
    assert "default_transaction_read_only = on" in sql
    for grant in ("INSERT", "UPDATE", "DELETE"):
        assert grant not in sql
    # What `check --database` asks of a replica alias: the stack's reader role passes it.
    assert [m.id for m in checks.run_checks(databases=["replica"], tags=["database"])] == []
