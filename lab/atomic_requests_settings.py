"""The project's settings with ATOMIC_REQUESTS on the primary: what lesson 16's run
serves its requests with, in a process of its own (`manage.py lab_atomic_requests`,
started by `lab.harness.run_under_atomic_requests`), with the run's views beside the
site's."""

from config.settings import *  # noqa: F403

DATABASES[ROUTERS_PRIMARY]["ATOMIC_REQUESTS"] = True  # noqa: F405
ROOT_URLCONF = "lab.atomic_requests_urls"
