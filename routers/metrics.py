"""The hooks that feed the Prometheus metrics: no-ops unless ROUTERS_METRICS is on.

The metrics themselves, and the view that serves them, are `routers.prometheus`, which
needs prometheus_client (`pip install django-replica-routers[metrics]`); this module does
not, so the routers run without it.
"""

from django.http import HttpResponseBase

from . import conf
from .context import RequestState


def count_request(state: RequestState, response: HttpResponseBase) -> None:
    """Count one served request's decisions and statements."""
    if conf.metrics():
        from .prometheus import count

        count(state, response)


def observe_probe(alias: str, seconds: float, *, up: bool) -> None:
    """Count one probe of `alias`, which took `seconds`."""
    if conf.metrics():
        from .prometheus import PROBE_SECONDS

        PROBE_SECONDS.labels(alias, "up" if up else "down").observe(seconds)
