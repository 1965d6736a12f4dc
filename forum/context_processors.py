"""The routing footer: which strategy served the page and which aliases ran its queries."""

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from routers import RequestState, current_state, replicas
from routers.conf import STRATEGIES
from routers.conf import replicas as replica_aliases
from routers.routers import active_router


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
    def queries(self) -> list[tuple[str, int]]:
        """(alias, statements executed there) for this request, busiest first."""
        if self.state is None:
            return []
        return self.state.queries.most_common()

    @property
    def replica_lag(self) -> list[tuple[str, int | None]]:
        """(replica alias, bytes of WAL not yet replayed; None if not measured).

        From the routers' latest health probes (at most ROUTERS_HEALTH_TTL old): the
        footer adds no query of its own, so the page's counts stay its own.
        """
        return [(alias, replicas.cached_lag_bytes(alias)) for alias in replica_aliases()]


def routing(request: HttpRequest) -> dict[str, Any]:
    return {"routing": RoutingFooter(current_state())}
