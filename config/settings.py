"""Settings for the forum, read from the environment.

Every variable is listed in `.env.example`. The defaults run `make demo` against the
local stack with no setup; with DJANGO_DEBUG off they are production-safe and a
missing secret key is an error.
"""

import os
import urllib.parse
from pathlib import Path

import dj_database_url
from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=true for local work).")
    SECRET_KEY = "insecure-local-development-key"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    # forum first: its templates override the routers' (routers/read_only.html).
    "forum",
    "lab",
    "analytics",
    "routers",
    # Django's tasks framework, on a database backend: the queue is a table on the
    # primary, run by `manage.py db_worker`.
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Above the routers: it answers a CORS preflight itself, and adds its headers to
    # every response, the read-only 503 included.
    "corsheaders.middleware.CorsMiddleware",
    # Before anything that reads the database (sessions, auth): it opens the
    # request's routing state and records what the request wrote.
    "routers.middleware.RoutingMiddleware",
    "lab.middleware.StrategySwitchMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A write the database lost in a failover, told once as a message (needs messages).
    "forum.lost_writes.LostWriteNotice",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "forum.context_processors.routing",
            ],
        },
    },
]

# --- Databases -------------------------------------------------------------------
# DATABASE_URL is the primary (read-write role). REPLICA_URLS lists the standbys
# (SELECT-only role), one alias each: "replica", "replica_2", "replica_3", ...
# The defaults are the local stack that `make stack` starts.
DB_CONN_MAX_AGE = env_int("DB_CONN_MAX_AGE", 60)
DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT", 3)


# libpq's choices for target_session_attrs (PostgreSQL 14+).
SESSION_ATTRS = {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"}


def host_and_port(server: str) -> tuple[str, str]:
    """One server of a URL's host list (h:5433, h, [::1]:5433), its port 5432 by default."""
    if ":" not in server or server.endswith("]"):
        return server.strip("[]"), "5432"
    host, _, port = server.rpartition(":")
    return host.strip("[]"), port


def database(url: str) -> dict[str, object]:
    """A DATABASES entry from a URL, libpq's multi-host form included.

    `postgres://u:p@h1:p1,h2:p2/db?target_session_attrs=read-write` is several servers
    that libpq tries in turn, keeping the first that takes writes (the HA stack's
    primary, wherever Patroni put it). dj-database-url reads one host: the list is
    taken out here and handed to libpq as HOST "h1,h2" and PORT "p1,p2". The query's
    parameters are libpq's options, as dj-database-url reads them.
    """
    parts = urllib.parse.urlsplit(url)
    userinfo, at, host_list = parts.netloc.rpartition("@")
    servers = [host_and_port(server) for server in host_list.split(",")]
    if len(servers) > 1:
        url = parts._replace(netloc=f"{userinfo}{at}placeholder").geturl()
    parsed = dj_database_url.parse(url, conn_max_age=DB_CONN_MAX_AGE, conn_health_checks=True)
    options = dict(parsed.get("OPTIONS", {}))
    config: dict[str, object] = dict(parsed)
    if len(servers) > 1:
        config["HOST"] = ",".join(host for host, _ in servers)
        config["PORT"] = ",".join(port for _, port in servers)
    attrs = options.get("target_session_attrs", "any")
    if attrs not in SESSION_ATTRS:
        raise ImproperlyConfigured(
            f"target_session_attrs must be one of {', '.join(sorted(SESSION_ATTRS))},"
            f" not {attrs!r} (in {parts.scheme}://...@{host_list}{parts.path})"
        )
    # A dead node must fail fast: the routers then fall back to another one. libpq
    # applies it to each host of a list in turn.
    config["OPTIONS"] = {"connect_timeout": DB_CONNECT_TIMEOUT, **options}
    return config


def replica_alias(index: int, primary: str = "") -> str:
    """replica, replica_2, ...; with a primary's name in front for another primary's."""
    name = "replica" if index == 0 else f"replica_{index + 1}"
    return f"{primary}_{name}" if primary else name


DATABASES = {
    "default": database(
        env_str("DATABASE_URL", "postgres://forum:forum@127.0.0.1:54320/forum"),
    ),
}
for index, url in enumerate(
    env_list("REPLICA_URLS", "postgres://forum_reader:forum_reader@127.0.0.1:54321/forum")
):
    DATABASES[replica_alias(index)] = database(url)

# A second replicated database, on the same primary server (so physical replication
# copies it to every standby): the forum's activity log, written by the outbox relay
# (forum/outbox.py) and read by the activity page. Lessons 6 and 7 run on it.
DATABASES["analytics"] = database(
    env_str("ANALYTICS_DATABASE_URL", "postgres://forum:forum@127.0.0.1:54320/forum_analytics")
)
for index, url in enumerate(
    env_list(
        "ANALYTICS_REPLICA_URLS",
        "postgres://forum_reader:forum_reader@127.0.0.1:54321/forum_analytics",
    )
):
    DATABASES[replica_alias(index, "analytics")] = database(url)

# Lesson 10 (lab/): the stack's PgBouncer, in transaction mode, in front of the
# primary and of every standby. Not aliases of DATABASES: the lab opens them when run.
POOLED_DATABASES = {
    "primary": database(
        env_str("POOLED_DATABASE_URL", "postgres://forum:forum@127.0.0.1:54329/forum")
    ),
    "replicas": database(
        env_str(
            "POOLED_REPLICAS_URL",
            "postgres://forum_reader:forum_reader@127.0.0.1:54329/forum_replicas",
        )
    ),
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Routing (the routers package) -------------------------------------------------
# The task queue first: its worker must read it on the primary (config/task_queue.py).
DATABASE_ROUTERS = ["config.task_queue.TaskQueueRouter", "routers.SelectableRouter"]
ROUTERS_PRIMARY = "default"
# Each primary with its replicas; the analytics app's models live on "analytics".
ROUTERS_CLUSTERS = {
    primary: [alias for alias in DATABASES if alias.startswith(f"{prefix}replica")]
    for primary, prefix in (("default", ""), ("analytics", "analytics_"))
}
ROUTERS_APP_PRIMARIES = {"analytics": "analytics"}
# The strategy a visitor gets until they pick another one in the lab.
ROUTERS_STRATEGY = env_str("FORUM_ROUTING", "causal")
ROUTERS_STICKY_SECONDS = env_int("ROUTERS_STICKY_SECONDS", 5)
ROUTERS_CAUSAL_WAIT_MS = env_int("ROUTERS_CAUSAL_WAIT_MS", 50)
ROUTERS_MAX_LAG_BYTES = env_int("ROUTERS_MAX_LAG_BYTES", 64 * 1024 * 1024)
ROUTERS_MAX_LAG_SECONDS = env_float("ROUTERS_MAX_LAG_SECONDS", 10.0)
# A task whose enqueuer's write no replica has replayed yet: "sticky" reads the primary,
# "delayed" runs it again once, ROUTERS_STICKY_SECONDS later (routers/tasks.py).
ROUTERS_TASK_MODE = env_str("ROUTERS_TASK_MODE", "sticky")

# --- Background tasks ------------------------------------------------------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Positions per member (lesson 18): a member's writes kept in Redis, so their other
# browsers and API clients read them too. Off without REDIS_URL (postgres/stack.sh starts
# a Redis where Debian's redis-server is installed, and prints its URL). A Redis down or
# slow costs each request at most the timeout, once every few seconds per process
# (routers/members.py), never the page.
REDIS_URL = env_str("REDIS_URL", "")
REDIS_TIMEOUT = env_float("REDIS_TIMEOUT", 0.25)
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "positions": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "forum",
            "OPTIONS": {"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT},
        },
    }
ROUTERS_MEMBER_POSITIONS_CACHE = "positions" if REDIS_URL else None

# The lab's cluster panel may change the replicas (apply delay, pause replay): a demo
# feature, off unless asked for (make demo and the compose demo turn it on).
LAB_CLUSTER_CONTROLS = env_bool("LAB_CLUSTER_CONTROLS", False)
# The HA stack's Patroni REST API (postgres/ha.sh env prints it): the panel and /healthz
# show its cluster, the panel's apply delay goes through it. Each URL is given at most
# PATRONI_TIMEOUT seconds to answer. Unset on the plain stack.
PATRONI_URLS = env_list("PATRONI_URLS", "")
PATRONI_TIMEOUT = env_float("PATRONI_TIMEOUT", 0.5)
# The HA stack's STACK_DIR, where postgres/ha.sh keeps its PIDs: with it (make ha sets it)
# the panel's "kill the leader" control runs `postgres/ha.sh kill` on this machine.
HA_STACK_DIR = env_str("HA_STACK_DIR", "")

# --- Auth, sessions, security ------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "forum:index"
LOGOUT_REDIRECT_URL = "forum:index"

# Plain HTTP in the demo and under docker compose; set true behind HTTPS.
SECURE_COOKIES = env_bool("DJANGO_SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG and SECURE_COOKIES:
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 3600)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- The JSON API (forum/api.py) ------------------------------------------------------
# Token authentication only: an API client keeps no cookies, so no session and no CSRF.
REST_FRAMEWORK = {
    # REST framework's TokenAuthentication, which also names the member to the routers.
    "DEFAULT_AUTHENTICATION_CLASSES": ["forum.authentication.MemberTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["forum.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "forum.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
}
# Browser apps on these origins may call the API (django-cors-headers). They read the
# routers' consistency token from the header of a writing response, and send it back,
# so the header must be exposed and allowed (routers.W011 checks both).
CORS_ALLOWED_ORIGINS = env_list("DJANGO_CORS_ALLOWED_ORIGINS", "")
CORS_URLS_REGEX = r"^/api/"
# The header is routers.conf.TOKEN_HEADER.
CORS_EXPOSE_HEADERS = ["Routers-Consistency"]
CORS_ALLOW_HEADERS = [*default_headers, "routers-consistency"]

# --- Internationalisation, static files ----------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}
# Serve straight from the apps' static folders, so no collectstatic is needed locally.
WHITENOISE_USE_FINDERS = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    # One line per request: where its reads went and why (routers/decision_log.py).
    "loggers": {
        "routers.decisions": {
            "level": "INFO" if env_bool("ROUTING_DECISIONS_LOG", False) else "WARNING"
        }
    },
}

# The routers' counters for Prometheus, served at /metrics (routers/prometheus.py).
ROUTERS_METRICS = True

# The debug toolbar, with the routers' panel (routers/toolbar.py), for local work:
# DJANGO_DEBUG=true, from 127.0.0.1.
if DEBUG:
    from debug_toolbar.settings import PANELS_DEFAULTS

    INSTALLED_APPS += ["debug_toolbar"]
    MIDDLEWARE.insert(0, "debug_toolbar.middleware.DebugToolbarMiddleware")
    INTERNAL_IPS = ["127.0.0.1"]
    DEBUG_TOOLBAR_PANELS = [*PANELS_DEFAULTS, "routers.toolbar.RoutingPanel"]
