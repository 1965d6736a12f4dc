"""The lab's strategy switch: each browser picks its own routing strategy."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from routers import current_state
from routers.conf import STRATEGIES

STRATEGY_COOKIE = "lab_strategy"


def chosen_strategy(request: HttpRequest) -> str | None:
    """The strategy this browser picked, or None (an unknown value is ignored)."""
    name = request.COOKIES.get(STRATEGY_COOKIE)
    return name if name in STRATEGIES else None


class StrategySwitchMiddleware:
    """Apply the browser's chosen strategy. Goes right below RoutingMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        state = current_state()
        if state is not None:
            state.strategy = chosen_strategy(request)
        return self.get_response(request)
