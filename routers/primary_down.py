"""A primary that is down: was it the cause of an error, and the two 503 pages.

A write while the primary is down gets the read-only page, which shows what was
typed; a read of the client's own write that no reachable node has yet gets the
"saved, on its way" page, which reloads itself. A client that asked for JSON (an API
client) gets each as a JSON object instead. A session that could not be saved (see
`routers.sessions`) costs its changes, not the page.
"""

from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template.loader import render_to_string

from . import conf
from .context import RequestState, current_state
from .cookies import SAFE_METHODS
from .probes import probe
from .scopes import request_scope

# Seconds before the "saved, on its way" page reloads itself: about a replica's delay.
NOT_VISIBLE_RETRY_SECONDS = 2
READ_ONLY_RETRY_SECONDS = 30
JSON = "application/json"
READ_ONLY_DETAIL = (
    "Read-only mode: the primary database is unreachable, so nothing was saved. "
    "Reads still work; send it again in a minute."
)
MAYBE_SAVED_DETAIL = (
    "Read-only mode: a primary database went away after this request's writes may "
    "have been committed, so it may have been saved, in part or in full. Check before "
    "sending it again."
)
NOT_VISIBLE_DETAIL = (
    "Saved, on its way: what you saved is safe, but the primary database cannot be "
    "reached and no replica has caught up with it yet. Ask again in a few seconds."
)


def _wants_json(request: HttpRequest) -> bool:
    """Did the client ask for JSON rather than a page? Its Accept header says; where it
    ranks both alike (none sent, or */*), the body it sent does."""
    offered = [JSON, "text/html"] if request.content_type == JSON else ["text/html", JSON]
    return request.get_preferred_type(offered) == JSON


def _json_503(detail: str, retry_after: int) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=503)
    response["Retry-After"] = str(retry_after)
    return response


def _render_stale_ok(template: str, context: dict[str, Any], request: HttpRequest) -> str:
    """Render an error page whose own reads (the session, the user) may be stale: in a
    scope of its own, without the client's position, which no reachable node may have."""
    with request_scope(RequestState()):
        return render_to_string(template, context, request)


def _kept_from_view(request: HttpRequest, name: str) -> bool:
    """A field the page does not show: the CSRF token, a password, and what the view
    marked with `sensitive_post_parameters` (as Django's error reports hide it)."""
    sensitive = getattr(request, "sensitive_post_parameters", ())
    return (
        name == "csrfmiddlewaretoken"
        or "password" in name.lower()
        or sensitive == "__ALL__"
        or name in sensitive
    )


def read_only_response(request: HttpRequest, maybe_saved: bool = False) -> HttpResponse:
    """The 503 page for a write while the primary is down; it shows what was typed.

    `maybe_saved`: a write of the request may have been committed before the primary
    went away (it ran in autocommit, or its COMMIT was sent), so the outcome is
    unknown. The page then says so instead of "not saved", which
    would invite a second copy.

    `submitted` holds one (name, value) pair per value, a field's values together and
    in the order sent: a checkbox group or a multi-select sends one value per choice.
    A client that asked for JSON gets `{"detail": ...}`: it still holds what it sent.
    """
    if _wants_json(request):
        detail = MAYBE_SAVED_DETAIL if maybe_saved else READ_ONLY_DETAIL
        return _json_503(detail, READ_ONLY_RETRY_SECONDS)
    submitted = [
        (name, value)
        for name, values in request.POST.lists()
        if not _kept_from_view(request, name)
        for value in values
    ]
    context = {"submitted": submitted, "maybe_saved": maybe_saved}
    html = _render_stale_ok("routers/read_only.html", context, request)
    response = HttpResponse(html, status=503)
    response["Retry-After"] = str(READ_ONLY_RETRY_SECONDS)
    return response


def not_visible_response(request: HttpRequest) -> HttpResponse:
    """The 503 page for a client whose write no reachable node can show yet (JSON, for
    a client that asked for it)."""
    if _wants_json(request):
        return _json_503(NOT_VISIBLE_DETAIL, NOT_VISIBLE_RETRY_SECONDS)
    context = {"retry_after": NOT_VISIBLE_RETRY_SECONDS}
    html = _render_stale_ok("routers/not_visible_yet.html", context, request)
    response = HttpResponse(html, status=503)
    response["Retry-After"] = str(NOT_VISIBLE_RETRY_SECONDS)
    return response


def sent_a_write(request: HttpRequest, state: RequestState | None) -> bool:
    """Did the client send something the primary may have saved before it went away? A
    write of a request whose method may write ran in autocommit, or its COMMIT was sent
    (`ClusterState.commit_sent`): a transaction cut off before its COMMIT saved nothing,
    and a GET's incidental writes (a session, a counter) are nothing its client sent."""
    return request.method not in SAFE_METHODS and state is not None and state.commit_sent


def primary_unreachable() -> bool:
    """After a connection-class database error: was it a primary that failed?

    This thread's connection to one was lost, or a probe finds one down now. A
    connection that failed to open is found down by the probe unless the primary came
    back in between: a write in flight then meets a new connection that failed too, so
    a request that routed a write to a primary without a connection to it counts as
    having lost that primary.
    """
    state = current_state()
    suspects = primaries_used(state)
    for primary in suspects:
        raw = connections[primary].connection
        if raw is not None and raw.closed:
            return True
        if raw is None and state is not None and state.intends_to_write:
            return True  # a write was routed to it, and its connection failed to open
    return not all(probe(primary).up for primary in suspects)


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
    """Turn a response that the primary being down spoiled into the right one.

    A session that could not be saved turns a request whose method may write, and
    that wrote nothing, into the read-only page: its only write was the session (a
    draft, a wizard's step). Any other keeps its response, without the session's
    `Set-Cookie`: the client keeps the cookie it came with. A 500 from a failed write
    below the middleware gets the read-only page; a read of the client's own write
    that escaped the middleware's `process_exception` (from an error page's template,
    or another middleware) gets "saved, on its way". Views' own errors are caught
    earlier, in `process_exception`.
    """
    if state.session_unsaved:
        if request.method not in SAFE_METHODS and not state.wrote:
            return read_only_response(request)
        response.cookies.pop(settings.SESSION_COOKIE_NAME, None)
    if response.status_code != 500:
        return response
    if state.not_visible:
        return not_visible_response(request)
    if request.method in SAFE_METHODS or all(
        probe(primary).up for primary in primaries_used(state)
    ):
        return response
    return read_only_response(request, maybe_saved=sent_a_write(request, state))
