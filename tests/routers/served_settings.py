"""The project's settings with the views of tests/routers/urls.py, for a server a test
starts (`tests.helpers.gunicorn(..., DJANGO_SETTINGS_MODULE="tests.routers.served_settings")`)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "tests.routers.urls"
