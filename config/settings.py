"""Settings for the forum, read from the environment.

Every variable is listed in `.env.example`. The defaults run `make demo` against the
local stack with no setup; with DJANGO_DEBUG off they are production-safe and a
missing secret key is an error.
"""

import os
from pathlib import Path

import dj_database_url
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
    # forum first: its templates override the routers' (routers/read_only.html).
    "forum",
    "lab",
    "analytics",
    "routers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything that reads the database (sessions, auth): it opens the
    # request's routing state and records what the request wrote.
    "routers.middleware.RoutingMiddleware",
    "lab.middleware.StrategySwitchMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
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


def database(url: str) -> dict[str, object]:
    config: dict[str, object] = dict(
        dj_database_url.parse(url, conn_max_age=DB_CONN_MAX_AGE, conn_health_checks=True)
    )
    # A dead node must fail fast: the routers then fall back to another one.
    config["OPTIONS"] = {"connect_timeout": DB_CONNECT_TIMEOUT}
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
DATABASE_ROUTERS = ["routers.SelectableRouter"]
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

# The lab's cluster panel may change the replicas (apply delay, pause replay): a demo
# feature, off unless asked for (make demo and the compose demo turn it on).
LAB_CLUSTER_CONTROLS = env_bool("LAB_CLUSTER_CONTROLS", False)

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
}
