"""The routing footer: which strategy served the page and which aliases ran its queries."""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import DatabaseError
from django.http import HttpRequest
from django.utils import timezone

from routers import RequestState, active_router, conf, current_state, lag_bytes, lag_seconds
from routers.conf import STRATEGIES
from routers.conf import replicas as replica_aliases


@dataclass
class RoutingFooter:
    """Read by the template at render time, after the page's own queries ran."""

    state: RequestState | None

    @property
    def strategy(self) -> str:
        router = active_router()
        return router.strategy if router is not None else "none"

    @property
    def strategies(self) -> tuple[str, ...]:
        return STRATEGIES

    @property
    def queries(self) -> list[tuple[str, int, bool]]:
        """(alias, statements executed there, is it a primary) for this request, busiest
        first."""
        if self.state is None:
            return []
        primaries = conf.primaries()
        return [
            (alias, count, alias in primaries) for alias, count in self.state.queries.most_common()
        ]

    @property
    def replica_lag(self) -> list[tuple[str, int | None, float | None]]:
        """(replica alias, bytes of WAL not yet replayed, seconds behind; None if unknown).

        From the routers' health probes, run again when older than ROUTERS_HEALTH_TTL
        (under the primary strategy nothing else runs them). Seconds cost one more query
        on the primary per TTL while a replica is behind. Probes are not counted among
        the page's queries.
        """
        return [(alias, lag_bytes(alias), lag_seconds(alias)) for alias in replica_aliases()]


def login_lost(request: HttpRequest) -> bool:
    """Was this browser just logged out by replication lag (lesson 12)?

    It sent a session cookie, the session was not found where this request read it,
    yet the primary holds it, logged in: the replica has not replayed the login.
    Django then deletes the session cookie, so without a word the user is logged out.
    Checked only in that rare case, with one query on the primary.
    """
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    session = getattr(request, "session", None)
    if not key or session is None or request.user.is_authenticated or session.session_key:
        return False
    try:
        row = (
            Session.objects.using(conf.primary())
            .filter(session_key=key, expire_date__gt=timezone.now())
            .first()
        )
    except DatabaseError:
        return False  # the primary is down: the page goes on without the explanation
    return row is not None and SESSION_KEY in row.get_decoded()


def routing(request: HttpRequest) -> dict[str, Any]:
    # A callable: the template calls it only where it asks, after the session loaded.
    return {"routing": RoutingFooter(current_state()), "login_lost": lambda: login_lost(request)}
