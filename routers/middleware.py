"""RoutingMiddleware: opens each request's routing state and remembers its writes.

Put it above every middleware that touches the database (sessions, auth):

    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "routers.middleware.RoutingMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        ...
    ]

On the way in it reads the client's signed cookies (sticky's pin, causal's position),
one pair per primary (see `routers.cookies`), and the consistency token a client that
keeps no cookies sends in a header (`routers.headers`). On the way out, for each primary
the request wrote on, it sets that primary's two cookies and puts the token in the
response's header, whichever router is in use: a client that switches strategy
(SelectableRouter), or a router that wraps one of ours, keeps its writes. A streamed
body is iterated in the request's routing state. A write that fails because the
primary is down becomes a 503 "read-only" page; a read of the client's own write that
no reachable node has yet, a 503 "saved, on its way" page; a session that cannot be
saved then costs its changes, not the page (see `routers.primary_down`).
With ROUTERS_MEMBER_POSITIONS_CACHE, a member's request is also served with the writes
kept for that member, and a writing one keeps its writes for them (see `routers.members`).
A position a failover lost is found before the view (`routers.timelines`) and deleted
from the cookie, the header and the member's kept writes on the way out. The request
carries its state as `request.routing_state`; once answered (a streamed one once its
body is closed), its decisions are logged (`routers.decision_log`) and counted
(`routers.metrics`).
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponseBase

from . import conf
from .atomic_requests import expect_request_blocks, view_returned
from .connection import close_connection
from .context import RequestState, current_state, entered, release_held
from .cookies import forget_lost, remember_write, state_from_cookies
from .decision_log import log_request
from .headers import absorb_token_header, hand_token
from .members import drop_lost, keep_writes, member_authenticated, member_of
from .metrics import count_request
from .primary_down import (
    answer_for_primary_down,
    not_visible_response,
    primaries_used,
    primary_unreachable,
    read_only_response,
    sent_a_write,
)
from .probes import discard, probe
from .sessions import keep_session_saves_from_failing
from .strategies import NotVisibleYet
from .streaming import stream_in_state
from .timelines import needs_settling, settle_positions
from .tokens import writes_made

logger = logging.getLogger(__name__)

SyncGetResponse = Callable[[HttpRequest], HttpResponseBase]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


def _connection_lost(exception: Exception) -> bool:
    """A lost or refused connection (no SQLSTATE, class 08, or an administrator's shutdown
    57P0x), or a standby cancelling a query for a recovery conflict (40001)."""
    sqlstate: str | None = getattr(exception.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate[:2] == "08" or sqlstate[:4] == "57P0" or sqlstate == "40001"


def report(request: HttpRequest, state: RequestState, response: HttpResponseBase) -> None:
    """Log and count the routing of a request that has been answered (a streamed one
    once its body is closed)."""
    log_request(request, state, response)
    count_request(state, response)


class RoutingMiddleware:
    """Per-request routing state, write tracking and the read-only page. Sync and async."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: SyncGetResponse | AsyncGetResponse) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        get_response = cast(SyncGetResponse, self.get_response)  # not a coroutine function
        state = state_from_cookies(request)
        absorb_token_header(request, state)
        request.routing_state = state  # type: ignore[attr-defined]
        with entered(state):
            response = get_response(request)
            view_returned(state)
            # A page no view served settles its positions here (process_view did not).
            settle_positions(state)
            # Once per writing request, after its transactions have committed.
            writes = writes_made(state)
            remember_write(writes, response)
            forget_lost(state.lost_writes, writes, response)
            hand_token(state, writes, response)
            member = member_of(request, state)
            keep_writes(member, writes)
            drop_lost(member, state.lost_writes)
        streamed = stream_in_state(state, response, lambda: report(request, state, response))
        if not streamed:
            release_held(state)  # a streamed body ends them when it closes
        answered = answer_for_primary_down(request, state, response)
        if not streamed:
            report(request, state, answered)
        return answered

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        get_response = cast(AsyncGetResponse, self.get_response)
        state = state_from_cookies(request)
        absorb_token_header(request, state)
        request.routing_state = state  # type: ignore[attr-defined]
        with entered(state):
            response = await get_response(request)
            view_returned(state)
            if needs_settling(state):  # queries: a thread only when there is a position
                await sync_to_async(settle_positions)(state)
            writes = await sync_to_async(writes_made)(state)
            remember_write(writes, response)
            forget_lost(state.lost_writes, writes, response)
            hand_token(state, writes, response)
            if writes or state.lost_writes:  # the cache is sync: a thread only when needed
                member = member_of(request, state)
                await sync_to_async(keep_writes)(member, writes)
                await sync_to_async(drop_lost)(member, state.lost_writes)
        streamed = stream_in_state(state, response, lambda: report(request, state, response))
        if not streamed:
            await sync_to_async(release_held)(state)
        answered = await sync_to_async(answer_for_primary_down)(request, state, response)
        if not streamed:
            report(request, state, answered)
        return answered

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        state = current_state()
        if state is None:
            return None
        # Django wraps the view in ATOMIC_REQUESTS's block right after the view middleware.
        expect_request_blocks(state, view_func)
        # The session exists by now (SessionMiddleware's process_request has run) and
        # is saved after the view: with its primary down, that save must not cost the page.
        session = getattr(request, "session", None)
        if session is not None:
            keep_session_saves_from_failing(session, state)
        served = self.serve_member(request)
        # Before the view: a write the failover lost is known to it (`lost_writes()`),
        # and to every middleware's process_view below this one.
        settle_positions(state)
        return served

    def serve_member(self, request: HttpRequest) -> HttpResponseBase | None:
        """With positions per member on, the member behind `request.user` (set by
        AuthenticationMiddleware, loaded now: its session and user are read here, before
        the view) is served with the writes kept for them (routers.members)."""
        if conf.member_positions_cache() is None or not hasattr(request, "user"):
            return None
        try:
            member_authenticated(request.user)
        except NotVisibleYet:
            return not_visible_response(request)
        except DatabaseError:
            return None  # the view meets it again, and answers it as it would have
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        if isinstance(exception, NotVisibleYet):
            return not_visible_response(request)
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        if (retried := self.served_again(request, exception)) is not None:
            return retried
        if not primary_unreachable():
            return None
        return read_only_response(request, maybe_saved=sent_a_write(request, current_state()))

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
        state = current_state()
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
                discard(cluster.read_alias)
            cluster.read_decision = None
        for primary in primaries_used(state):
            close_connection(primary)  # the second run connects afresh
            probe(primary)  # and knows whether it is up
        state.retried = True
        return cast(SyncGetResponse, self.get_response)(request)
