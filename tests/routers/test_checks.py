"""System checks that catch a misconfigured routing setup."""

import pytest
from django.db import connections
from psycopg import IsolationLevel

from routers import CausalRouter
from routers.checks import check_replica_roles, check_settings


def ids(messages):
    return [message.id for message in messages]


def set_replicas(settings, aliases):
    """The default primary's replicas, the analytics cluster as configured."""
    settings.ROUTERS_CLUSTERS = {**settings.ROUTERS_CLUSTERS, "default": aliases}


def test_it_accepts_the_projects_own_settings():
    assert check_settings(None) == []


def test_it_reports_an_alias_missing_from_databases(settings):
    set_replicas(settings, ["replica", "replica_2", "replica_9"])

    assert ids(check_settings(None)) == ["routers.E001"]


def test_it_reports_an_unknown_strategy(settings):
    settings.ROUTERS_STRATEGY = "eventual"

    assert ids(check_settings(None)) == ["routers.E002"]


def test_it_warns_when_a_cookie_router_lacks_its_middleware(settings):
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "routers.middleware.RoutingMiddleware"
    ]

    assert ids(check_settings(None)) == ["routers.W001"]


@pytest.mark.parametrize(
    ("routers", "strategy"),
    [(["routers.NaiveRouter"], "causal"), (["routers.SelectableRouter"], "naive")],
)
def test_it_warns_when_every_request_is_routed_naively(settings, routers, strategy):
    settings.DATABASE_ROUTERS = routers
    settings.ROUTERS_STRATEGY = strategy

    assert ids(check_settings(None)) == ["routers.W008"]


def test_it_lets_a_visitor_pick_naive_in_a_demo_without_a_warning(settings):
    settings.DATABASE_ROUTERS = ["routers.SelectableRouter"]
    settings.ROUTERS_STRATEGY = "causal"

    assert check_settings(None) == []


def test_it_warns_when_there_is_no_replica(settings):
    del settings.ROUTERS_CLUSTERS
    del settings.ROUTERS_APP_PRIMARIES
    settings.ROUTERS_REPLICAS = []

    assert ids(check_settings(None)) == ["routers.W002"]


@pytest.mark.stack
@pytest.mark.django_db(databases=["default", "replica", "replica_2"])
def test_it_finds_the_replica_aliases_read_only():
    assert check_replica_roles(None, databases=["replica", "replica_2"]) == []


@pytest.mark.stack
@pytest.mark.django_db(databases=["default"])
def test_it_warns_about_a_replica_alias_that_can_write(settings):
    # "default" connects to the primary as the app role, which can write.
    set_replicas(settings, ["default"])

    assert ids(check_replica_roles(None, databases=["default"])) == ["routers.W004"]


@pytest.fixture
def extra_alias(settings, monkeypatch, live_db):
    """Add a replica alias built from the stack's settings; gone after the test."""

    def add(based_on, **changes):
        config = {**connections.settings[based_on], **changes}
        monkeypatch.setitem(connections.settings, "probe_alias", config)
        set_replicas(settings, ["probe_alias"])
        return "probe_alias"

    yield add
    if "probe_alias" in connections.settings:
        connections["probe_alias"].close()
        del connections["probe_alias"]


@pytest.mark.stack
def test_it_trusts_a_select_only_role_on_a_writable_server(extra_alias):
    alias = extra_alias("replica", PORT=connections.settings["default"]["PORT"])

    assert check_replica_roles(None, databases=[alias]) == []


@pytest.mark.stack
def test_it_trusts_a_standby_whatever_the_role(extra_alias):
    # The app role, which may write on the primary, is refused every write on a standby.
    primary = connections.settings["default"]
    alias = extra_alias("replica", USER=primary["USER"], PASSWORD=primary["PASSWORD"])

    assert check_replica_roles(None, databases=[alias]) == []


class TeamRouter(CausalRouter):
    """A project's own subclass: the check must see through the name."""


def test_it_warns_when_a_subclassed_router_lacks_the_middleware(settings):
    settings.DATABASE_ROUTERS = ["tests.routers.test_checks.TeamRouter"]
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "routers.middleware.RoutingMiddleware"
    ]

    assert ids(check_settings(None)) == ["routers.W001"]


def test_it_warns_when_the_middleware_sits_below_sessions(settings):
    middleware = [m for m in settings.MIDDLEWARE if m != "routers.middleware.RoutingMiddleware"]
    middleware.append("routers.middleware.RoutingMiddleware")
    settings.MIDDLEWARE = middleware

    assert ids(check_settings(None)) == ["routers.W005"]


def test_it_reports_the_primary_listed_as_a_replica(settings):
    set_replicas(settings, ["default", "replica", "replica_2"])

    assert ids(check_settings(None)) == ["routers.E003"]


def test_it_reports_a_pooled_alias_that_is_not_a_replica(settings):
    settings.ROUTERS_POOLED_REPLICAS = ["replica", "default"]

    assert ids(check_settings(None)) == ["routers.E005"]


def test_it_warns_about_repeatable_read_requests_on_a_replica(settings, monkeypatch):
    replica = settings.DATABASES["replica"]
    monkeypatch.setitem(replica, "ATOMIC_REQUESTS", True)
    monkeypatch.setitem(replica, "OPTIONS", {"isolation_level": IsolationLevel.REPEATABLE_READ})

    assert ids(check_settings(None)) == ["routers.W006"]


def test_it_reports_serializable_on_a_replica(settings, monkeypatch):
    replica = settings.DATABASES["replica"]
    monkeypatch.setitem(replica, "OPTIONS", {"isolation_level": IsolationLevel.SERIALIZABLE})

    assert ids(check_settings(None)) == ["routers.E004"]


def test_it_accepts_the_single_primary_settings(settings):
    del settings.ROUTERS_CLUSTERS
    del settings.ROUTERS_APP_PRIMARIES
    settings.ROUTERS_REPLICAS = ["replica", "replica_2"]

    assert check_settings(None) == []


def test_it_reports_a_replica_under_two_primaries(settings):
    settings.ROUTERS_CLUSTERS = {**settings.ROUTERS_CLUSTERS, "analytics": ["replica"]}

    assert "routers.E006" in ids(check_settings(None))


def test_it_reports_an_app_sent_to_an_alias_that_is_no_primary(settings):
    settings.ROUTERS_APP_PRIMARIES = {"analytics": "analytics_replica"}

    assert ids(check_settings(None)) == ["routers.E007"]


def test_it_reports_replicas_listed_outside_the_clusters(settings):
    settings.ROUTERS_REPLICAS = ["replica"]

    assert ids(check_settings(None)) == ["routers.E008"]


def test_it_warns_about_an_alias_that_belongs_to_no_primary(settings):
    settings.ROUTERS_CLUSTERS = {**settings.ROUTERS_CLUSTERS, "analytics": []}

    assert sorted(set(ids(check_settings(None)))) == ["routers.W002", "routers.W007"]


@pytest.mark.parametrize(
    "changes",
    [
        {"ROUTERS_CLUSTERS": {"default": None}},
        {"ROUTERS_CLUSTERS": {"default": [["replica"]]}},
        {"ROUTERS_APP_PRIMARIES": ["analytics"]},
        {"ROUTERS_APP_PRIMARIES": {"analytics": ["analytics"]}},
    ],
)
def test_it_reports_clusters_of_the_wrong_shape_instead_of_crashing(settings, changes):
    for name, value in changes.items():
        setattr(settings, name, value)

    assert ids(check_settings(None)) == ["routers.E009"]


def test_it_reports_an_app_label_no_installed_app_has(settings):
    settings.ROUTERS_APP_PRIMARIES = {"analytcs": "analytics"}

    assert ids(check_settings(None)) == ["routers.E010"]


def test_it_lets_the_default_primary_have_any_alias(settings):
    # Its cookies are routers_pin and routers_lsn, whatever its alias.
    del settings.ROUTERS_CLUSTERS
    del settings.ROUTERS_APP_PRIMARIES
    settings.ROUTERS_PRIMARY = "main db"
    settings.ROUTERS_REPLICAS = []

    assert "routers.E011" not in ids(check_settings(None))


def test_it_reports_a_primary_alias_no_cookie_name_can_hold(settings):
    settings.ROUTERS_CLUSTERS = {"default": ["replica", "replica_2"], "analytics eu": []}
    settings.ROUTERS_APP_PRIMARIES = {}

    found = ids(check_settings(None))

    assert "routers.E011" in found


@pytest.mark.parametrize("prefix", ["shop app_", "shop;", 3])
def test_it_reports_a_cookie_prefix_no_cookie_name_can_start_with(settings, prefix):
    settings.ROUTERS_COOKIE_PREFIX = prefix

    assert ids(check_settings(None)) == ["routers.E012"]


def test_it_warns_when_the_session_cookie_is_renamed_but_the_routing_cookies_are_not(settings):
    settings.SESSION_COOKIE_NAME = "shop_session"

    assert ids(check_settings(None)) == ["routers.W009"]


@pytest.mark.parametrize("prefix", ["shop_", ""])
def test_it_accepts_a_renamed_session_cookie_beside_a_chosen_prefix(settings, prefix):
    settings.SESSION_COOKIE_NAME = "shop_session"
    settings.ROUTERS_COOKIE_PREFIX = prefix

    assert check_settings(None) == []


@pytest.mark.parametrize("prefix", ["__Host-", "__secure-"])
def test_it_reports_a_browser_cookie_prefix_the_session_cookie_does_not_meet(settings, prefix):
    settings.ROUTERS_COOKIE_PREFIX = prefix

    assert ids(check_settings(None)) == ["routers.E013"]


def test_it_accepts_a_host_prefix_on_a_secure_host_only_session_cookie(settings):
    settings.ROUTERS_COOKIE_PREFIX = "__Host-"
    settings.SESSION_COOKIE_SECURE = True

    assert check_settings(None) == []


def test_it_reports_a_host_prefix_beside_a_session_cookie_domain(settings):
    settings.ROUTERS_COOKIE_PREFIX = "__Host-"
    settings.SESSION_COOKIE_SECURE = True
    settings.SESSION_COOKIE_DOMAIN = ".forum.test"

    assert ids(check_settings(None)) == ["routers.E013"]


def test_it_warns_of_samesite_none_without_secure(settings):
    settings.SESSION_COOKIE_SAMESITE = "None"

    assert ids(check_settings(None)) == ["routers.W010"]


def test_it_accepts_cors_headers_that_expose_and_allow_the_token_header(settings):
    # The project's own settings name it (config/settings.py); so does "*" without credentials.
    assert check_settings(None) == []

    settings.CORS_EXPOSE_HEADERS = settings.CORS_ALLOW_HEADERS = ["*"]
    assert check_settings(None) == []


@pytest.mark.parametrize("kept", ["CORS_EXPOSE_HEADERS", "CORS_ALLOW_HEADERS"])
def test_it_warns_when_cors_headers_keep_the_token_header_from_browser_apps(settings, kept):
    delattr(settings, kept)  # django-cors-headers' defaults name neither

    (message,) = check_settings(None)

    assert message.id == "routers.W011"
    assert kept in message.msg


def test_it_warns_of_a_wildcard_that_credentialed_cors_requests_do_not_get(settings):
    settings.CORS_ALLOW_CREDENTIALS = True
    settings.CORS_EXPOSE_HEADERS = ["*"]

    assert ids(check_settings(None)) == ["routers.W011"]


def test_it_says_nothing_of_cors_settings_without_django_cors_headers(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "corsheaders"]
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.startswith("corsheaders.")]
    del settings.CORS_EXPOSE_HEADERS

    assert check_settings(None) == []


def test_it_warns_that_atomic_requests_on_the_primary_fail_every_page_while_it_is_down(
    settings, monkeypatch
):
    monkeypatch.setitem(settings.DATABASES["default"], "ATOMIC_REQUESTS", True)

    assert ids(check_settings(None)) == ["routers.W012"]


@pytest.mark.parametrize("level", [IsolationLevel.REPEATABLE_READ, IsolationLevel.SERIALIZABLE])
def test_it_warns_that_atomic_requests_on_one_snapshot_read_the_primary(
    settings, monkeypatch, level
):
    primary = settings.DATABASES["default"]
    monkeypatch.setitem(primary, "ATOMIC_REQUESTS", True)
    monkeypatch.setitem(primary, "OPTIONS", {**primary["OPTIONS"], "isolation_level": level})

    assert ids(check_settings(None)) == ["routers.W012", "routers.W013"]


def test_it_warns_about_atomic_requests_on_a_replica(settings, monkeypatch):
    monkeypatch.setitem(settings.DATABASES["replica_2"], "ATOMIC_REQUESTS", True)

    assert ids(check_settings(None)) == ["routers.W014"]


REDIS = "django.core.cache.backends.redis.RedisCache"


def test_it_reports_a_positions_cache_missing_from_caches(settings):
    settings.ROUTERS_MEMBER_POSITIONS_CACHE = "sessions"

    assert ids(check_settings(None)) == ["routers.E016"]


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
        "django.core.cache.backends.db.DatabaseCache",
    ],
)
def test_it_warns_of_a_positions_cache_other_clients_cannot_share(settings, backend):
    settings.CACHES = {**settings.CACHES, "positions": {"BACKEND": backend, "LOCATION": "x"}}
    settings.ROUTERS_MEMBER_POSITIONS_CACHE = "positions"

    assert ids(check_settings(None)) == ["routers.W015"]


@pytest.mark.parametrize(
    "options",
    [{}, {"socket_timeout": 0.25}, {"socket_connect_timeout": 0.25}],
)
def test_it_warns_of_a_redis_positions_cache_without_timeouts(settings, options):
    redis = {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": options}
    settings.CACHES = {**settings.CACHES, "positions": redis}
    settings.ROUTERS_MEMBER_POSITIONS_CACHE = "positions"

    assert ids(check_settings(None)) == ["routers.W016"]


def test_it_accepts_positions_per_member_off_or_on_a_redis_with_timeouts(settings):
    timeouts = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}
    redis = {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": timeouts}
    settings.CACHES = {**settings.CACHES, "positions": redis}
    for alias in (None, "positions"):
        settings.ROUTERS_MEMBER_POSITIONS_CACHE = alias

        assert check_settings(None) == []
