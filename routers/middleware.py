"""RoutingMiddleware: opens each request's routing state and remembers its writes.

Put it above every middleware that touches the database (sessions, auth):

    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "routers.middleware.RoutingMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        ...
    ]

On the way in it reads the client's signed cookies (sticky's pin, causal's LSN), one
pair per primary; a missing, forged, expired or garbled cookie is simply ignored. On
the way out, for each primary the request wrote on, it sets that primary's two
cookies, whichever router is in use:
a client that switches strategy (SelectableRouter), or a router that wraps one of
ours, keeps its writes. It never deletes a cookie: a slow response cannot know
whether the client has since been given a newer cookie by another request. A
streamed body is iterated in the request's routing state. A write that fails
because the primary is down becomes a 503 "read-only" page; a read of the client's
own write that no reachable node has yet, a 503 "saved, on its way" page.
"""

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string

from . import conf, replicas
from .context import RequestState, _state, release_held, request_scope
from .routers import NotVisibleYet
from .streaming import stream_in_state

# "16/B374D848@1764224000123": the position, and when the write's response was made
# (Unix ms, the app server's clock). Older copies of this package read only "16/B374D848"
# and ignore this form: after a roll-back, clients keep read-your-writes only for new
# writes.
logger = logging.getLogger(__name__)
_LSN_TEXT = re.compile(r"(?P<lsn>[0-9A-F]{1,8}/[0-9A-F]{1,8})(?:@(?P<ms>\d{1,15}))?")
# RFC 9110's safe methods. Any other method may write, so its reads go to the primary.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def state_from_cookies(request: HttpRequest) -> RequestState:
    """A fresh request state, from the client's cookies (bad ones are ignored)."""
    state = RequestState(intends_to_write=request.method not in _SAFE_METHODS)
    for primary in conf.primaries():
        pin_cookie = conf.cookie_name(conf.PIN_COOKIE, primary)
        lsn_cookie = conf.cookie_name(conf.LSN_COOKIE, primary)
        # The signature's timestamp bounds each on the server too, not only in the browser.
        pin = request.get_signed_cookie(
            pin_cookie, default=None, salt=pin_cookie, max_age=conf.sticky_seconds()
        )
        lsn = request.get_signed_cookie(
            lsn_cookie, default=None, salt=lsn_cookie, max_age=conf.LSN_COOKIE_SECONDS
        )
        match = _LSN_TEXT.fullmatch(lsn) if lsn is not None else None
        if pin != "1" and match is None:
            continue
        cluster = state.cluster(primary)
        cluster.pinned = pin == "1"
        if match is not None:
            cluster.min_lsn = replicas.parse_lsn(match["lsn"])
            cluster.wrote_at = int(match["ms"]) / 1000 if match["ms"] else None
    return state


def _set_cookie(response: HttpResponseBase, name: str, value: str, max_age: int) -> None:
    # Signed (and time-stamped) with SECRET_KEY, salted per cookie, out of JavaScript's
    # reach, and sent over HTTPS only where the session cookie is.
    response.set_signed_cookie(
        name,
        value,
        salt=name,
        max_age=max_age,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def remember_write(state: RequestState, response: HttpResponseBase) -> None:
    """Set the cookies that carry this request's writes to the client's next requests:
    for each primary it wrote on, that primary's pin and position."""
    for primary in state.primaries_written():
        pin_cookie = conf.cookie_name(conf.PIN_COOKIE, primary)
        _set_cookie(response, pin_cookie, "1", max_age=conf.sticky_seconds())
        # Once per writing request, after its transactions have committed. If the
        # primary has just gone away there is no position to record.
        position = replicas.primary_lsn(primary)
        if position is not None:
            value = f"{replicas.format_lsn(position)}@{int(time.time() * 1000)}"
            lsn_cookie = conf.cookie_name(conf.LSN_COOKIE, primary)
            _set_cookie(response, lsn_cookie, value, conf.LSN_COOKIE_SECONDS)


def _render_stale_ok(template: str, context: dict[str, Any], request: HttpRequest) -> str:
    """Render an error page whose own reads (the session, the user) may be stale: in a
    scope of its own, without the client's position, which no reachable node may have."""
    with request_scope(RequestState()):
        return render_to_string(template, context, request)


def read_only_response(request: HttpRequest) -> HttpResponse:
    """The 503 page for a write while the primary is down; it shows what was typed."""
    submitted = [
        (name, value)
        for name, value in request.POST.items()
        if name != "csrfmiddlewaretoken" and "password" not in name
    ]
    html = _render_stale_ok("routers/read_only.html", {"submitted": submitted}, request)
    response = HttpResponse(html, status=503)
    response["Retry-After"] = "30"
    return response


# Seconds before the "saved, on its way" page reloads itself: about a replica's delay.
NOT_VISIBLE_RETRY_SECONDS = 2


def not_visible_response(request: HttpRequest) -> HttpResponse:
    """The 503 page for a client whose write no reachable node can show yet."""
    context = {"retry_after": NOT_VISIBLE_RETRY_SECONDS}
    html = _render_stale_ok("routers/not_visible_yet.html", context, request)
    response = HttpResponse(html, status=503)
    response["Retry-After"] = str(NOT_VISIBLE_RETRY_SECONDS)
    return response


def primary_unreachable() -> bool:
    """After a connection-class database error: was it a primary that failed?

    This thread's connection to one was lost, or a probe finds one down now. A
    connection that failed to open is found down by the probe unless the primary came
    back in between: a write in flight then meets a new connection that failed too, so
    a request that routed a write to a primary without a connection to it counts as
    having lost that primary.
    """
    state = _state.get()
    suspects = primaries_used(state)
    for primary in suspects:
        raw = connections[primary].connection
        if raw is not None and raw.closed:
            return True
        if raw is None and state is not None and state.intends_to_write:
            return True  # a write was routed to it, and its connection failed to open
    return not all(replicas.probe(primary).up for primary in suspects)


def primaries_used(state: RequestState | None) -> list[str]:
    """The primaries an error of this request may have come from: ROUTERS_PRIMARY (the
    sessions' and every unlisted app's), and each other one it holds a connection to or
    routed a write to. Another primary being down says nothing about this request."""
    return [
        primary
        for primary in conf.primaries()
        if primary == conf.primary()
        or connections[primary].connection is not None
        or (
            state is not None
            and primary in state.clusters
            and state.clusters[primary].writes_routed
        )
    ]


def answer_for_primary_down(
    request: HttpRequest, state: RequestState, response: HttpResponseBase
) -> HttpResponseBase:
    """Turn a 500 caused by the primary being down into the right 503 page.

    A failed write below this middleware (a session save, say) gets the read-only page;
    a read of the client's own write that escaped `process_exception` (from an error
    page's template, or another middleware) gets "saved, on its way". Views' own
    errors are caught earlier, in `process_exception`.
    """
    if response.status_code != 500:
        return response
    if state.not_visible:
        return not_visible_response(request)
    if request.method in _SAFE_METHODS or all(
        replicas.probe(primary).up for primary in primaries_used(state)
    ):
        return response
    return read_only_response(request)


def _connection_lost(exception: Exception) -> bool:
    """A lost or refused connection (no SQLSTATE, class 08, or an administrator's shutdown
    57P0x), or a standby cancelling a query for a recovery conflict (40001)."""
    sqlstate: str | None = getattr(exception.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate[:2] == "08" or sqlstate[:4] == "57P0" or sqlstate == "40001"


class RoutingMiddleware:
    """Per-request routing state, write tracking and the read-only page. Sync and async."""

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        state = state_from_cookies(request)
        token = _state.set(state)
        try:
            response = self.get_response(request)
            remember_write(state, response)  # type: ignore[arg-type]
        finally:
            _state.reset(token)
        if not stream_in_state(state, response):  # type: ignore[arg-type]
            release_held(state)  # a streamed body ends them when it closes
        return answer_for_primary_down(request, state, response)  # type: ignore[arg-type]

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        state = state_from_cookies(request)
        token = _state.set(state)
        try:
            response = await self.get_response(request)  # type: ignore[misc]
            await sync_to_async(remember_write)(state, response)
        finally:
            _state.reset(token)
        if not stream_in_state(state, response):
            await sync_to_async(release_held)(state)
        return await sync_to_async(answer_for_primary_down)(request, state, response)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        if isinstance(exception, NotVisibleYet):
            return not_visible_response(request)
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        if (retried := self.served_again(request, exception)) is not None:
            return retried
        if not primary_unreachable():
            return None
        return read_only_response(request)

    def served_again(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        """A read-only request that lost its database connection (a node died or
        dropped it) or met a recovery conflict on a replica, served once more.

        The primary is probed (and set aside if down) and the request's replica set
        aside for ROUTERS_HEALTH_TTL: the second run reads elsewhere, or, with the
        primary gone, from a replica that has the client's writes. A timeout, a lock
        or too many connections are not retried. Never a request that wrote or whose
        method may write, never twice, and not under ASGI, where this hook cannot await
        the view again. The middleware below this one runs again too.
        """
        state = _state.get()
        if (
            self.is_async
            or state is None
            or state.wrote
            or state.intends_to_write
            or state.retried
            or not _connection_lost(exception)
        ):
            return None
        logger.warning("serving %s again after a database error: %s", request.path, exception)
        for primary, cluster in list(state.clusters.items()):
            if cluster.read_alias not in (None, primary):
                replicas.discard(cluster.read_alias)
            cluster.read_alias = None
        for primary in primaries_used(state):
            replicas.close_connection(primary)  # the second run connects afresh
            replicas.probe(primary)  # and knows whether it is up
        state.retried = True
        return self.get_response(request)  # type: ignore[return-value]
