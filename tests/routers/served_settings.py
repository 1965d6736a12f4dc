"""The project's settings with the views of tests/routers/urls.py, for a server a test
starts (`tests.helpers.gunicorn`); TEST_SETTINGS, a JSON object, overrides more."""

import json
import os

from config.settings import *  # noqa: F403

ROOT_URLCONF = "tests.routers.urls"
globals().update(json.loads(os.environ.get("TEST_SETTINGS", "{}")))
