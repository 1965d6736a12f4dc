"""A django-debug-toolbar panel: where the page's reads went, why, and each statement's
alias and rule.

    # settings.py (pip install django-replica-routers[toolbar])
    DEBUG_TOOLBAR_PANELS = [*debug_toolbar.settings.PANELS_DEFAULTS, "routers.toolbar.RoutingPanel"]

The panel reads the state RoutingMiddleware leaves on the request
(`request.routing_state`), so the toolbar's middleware must sit above it, as the
toolbar's documentation asks anyway. WSGI only: under ASGI the toolbar disables it.
"""

from typing import Any

from debug_toolbar.panels import Panel
from django.http import HttpRequest, HttpResponseBase

from .decision_log import request_record
from .decisions import EXPLAINED, Reason, statements_recorded

#: Longer statements are cut: the SQL panel beside this one shows them whole.
SQL_SHOWN = 300


class RoutingPanel(Panel):
    """The request's routing decisions per primary, and its statements with their rule."""

    title = "Routing"
    template = "routers/toolbar_panel.html"
    # Under ASGI the view runs after process_request returns its coroutine, outside the
    # block that records the statements: the toolbar leaves this panel out there.
    is_async = False

    def process_request(self, request: HttpRequest) -> Any:
        with statements_recorded() as recorded:
            response = super().process_request(request)
        self._statements = [
            {
                "alias": each.alias,
                "reason": str(each.reason),
                "sql": each.sql[:SQL_SHOWN],
                "milliseconds": each.milliseconds,
            }
            for each in recorded
        ]
        return response

    def generate_stats(self, request: HttpRequest, response: HttpResponseBase) -> None:
        state = getattr(request, "routing_state", None)
        if state is None:
            self.record_stats({"routed": False, "statements": self._statements})
            return
        record = request_record(request, state, response.status_code)
        for routed in record["primaries"].values():
            for decision in routed["decisions"]:
                decision["why"] = EXPLAINED[Reason(decision["reason"])]
        self.record_stats({"routed": True, **record, "statements": self._statements})

    @property
    def nav_subtitle(self) -> str:
        stats = self.get_stats()
        if not stats.get("routed"):
            return "RoutingMiddleware did not run"
        aliases = sorted({each["alias"] for each in stats["statements"]})
        return f"{stats['strategy']}: {', '.join(aliases) or 'no statement'}"
