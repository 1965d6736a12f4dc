"""The project's settings with a test's changes, for a server the test starts: the
environment's TEST_SETTINGS is a JSON object of setting names and their values
(tests.helpers.served_with makes it)."""

import json
import os

from config.settings import *  # noqa: F403

globals().update(json.loads(os.environ.get("TEST_SETTINGS", "{}")))
