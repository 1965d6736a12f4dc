"""The consistency token in a header, for clients that keep no cookies (an API client,
a mobile app, a browser app calling another origin).

A response to a request that wrote carries a `Routers-Consistency` header
(conf.TOKEN_HEADER): every write the request knows of, signed and time-stamped
(`routers.tokens`), the same facts as the routing cookies. A request that sends it back
in a header of the same name is routed as if it had also brought the cookies. A
forged, expired, garbled or oversized value is ignored, as a bad cookie is.

The client keeps the last value it was given and sends it with every request: one
header holds every primary's write, so each writing response hands back the writes
its request was brought for the primaries it did not write on.
"""

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

from . import conf
from .context import RequestState
from .tokens import Write, absorb, dumps, loads, writes_known


def absorb_token_header(request: HttpRequest, state: RequestState) -> None:
    """Route `state` with the writes of the token the client sent, if it sent one."""
    token = request.headers.get(conf.TOKEN_HEADER)
    if token:
        absorb(state, loads(token))


def hand_token(state: RequestState, made: list[Write], response: HttpResponseBase) -> None:
    """Put the client's writes in the response's header, when its request wrote:
    `made` (`tokens.writes_made`, asked once per request), and those it was handed; or
    when a write it was handed was lost in a failover, so the client keeps it no more."""
    if not made and not state.lost_writes:
        return
    response[conf.TOKEN_HEADER] = dumps(writes_known(state, made))
    # This client's writes, as the cookies are: no shared cache may hand them to
    # another client, and the header depends on the one the request sent.
    patch_vary_headers(response, (conf.TOKEN_HEADER,))
    patch_cache_control(response, private=True)
