"""The routing cookies: a request's state read from them, its writes written to them.

One pair per primary: sticky's pin, and causal's position
("16/B374D848@1764224000123@7714484792588521126@2": the primary's WAL position after the
write, when the write's response was made, in Unix ms on the app server's clock, the
PostgreSQL cluster it is in, by its system identifier, and the timeline it is on). Both are signed,
time-stamped and salted per cookie; a missing, forged, expired or garbled one is
ignored. A response never deletes one: a slow response cannot know whether the client
has since been given a newer one by another request. They reach where the session
cookie reaches, and a response that sets them is kept out of shared caches.
"""

import re

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

from . import conf
from .context import RequestState
from .lsn import format_lsn, parse_lsn
from .timelines import LostWrite
from .tokens import Write

# The cookies of older copies of this package ("16/B374D848", "16/B374D848@ms",
# "16/B374D848@ms@cluster") are read too, as they were. Those copies ignore the forms with
# more parts: after a roll-back, clients keep read-your-writes only for new writes.
_LSN_TEXT = re.compile(
    r"(?P<lsn>[0-9A-F]{1,8}/[0-9A-F]{1,8})"
    r"(?:@(?P<ms>\d{1,15})(?:@(?P<cluster>-?\d{1,19})(?:@(?P<timeline>[1-9]\d{0,9}))?)?)?"
)
# How far behind the clock of the app server that signed a pin may run. A browser
# counts the pin's Max-Age from when it received the response, on its own clock, so
# the pin lasts ROUTERS_STICKY_SECONDS whatever the servers' clocks say; the server's
# own bound (against the signer's time stamp) only stops a client that keeps cookies
# past their Max-Age from replaying a pin for ever, and must not end it early when the
# writing server's clock is behind the reading one's.
PIN_CLOCK_SKEW_SECONDS = 60
# RFC 9110's safe methods. Any other method may write, so its reads go to the primary.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def state_from_cookies(request: HttpRequest) -> RequestState:
    """A fresh request state, from the client's cookies (bad ones are ignored)."""
    state = RequestState(intends_to_write=request.method not in SAFE_METHODS)
    for primary in conf.primaries():
        pin_cookie = conf.cookie_name(conf.PIN_COOKIE, primary)
        lsn_cookie = conf.cookie_name(conf.LSN_COOKIE, primary)
        # The signature's timestamp bounds each on the server too, not only in the browser.
        pin = request.get_signed_cookie(
            pin_cookie,
            default=None,
            salt=pin_cookie,
            max_age=conf.sticky_seconds() + PIN_CLOCK_SKEW_SECONDS,
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
            cluster.min_lsn = parse_lsn(match["lsn"])
            cluster.wrote_at = int(match["ms"]) / 1000 if match["ms"] else None
            cluster.system_identifier = int(match["cluster"]) if match["cluster"] else None
            cluster.timeline = int(match["timeline"]) if match["timeline"] else None
    return state


def _set_cookie(response: HttpResponseBase, name: str, value: str, max_age: int) -> None:
    # Signed (and time-stamped) with SECRET_KEY, salted per cookie, out of JavaScript's
    # reach, and scoped as SessionMiddleware scopes the session cookie (domain, path,
    # SameSite, Secure): a request that carries the session, from a sibling subdomain
    # or a cross-site iframe, carries the client's writes too, so its session is not
    # read from a replica that lacks the login.
    response.set_signed_cookie(
        name,
        value,
        salt=name,
        max_age=max_age,
        httponly=True,
        domain=settings.SESSION_COOKIE_DOMAIN,
        path=settings.SESSION_COOKIE_PATH,
        samesite=settings.SESSION_COOKIE_SAMESITE,
        secure=settings.SESSION_COOKIE_SECURE,
    )


def remember_write(writes: list[Write], response: HttpResponseBase) -> None:
    """Set the cookies that carry a request's `writes` (`tokens.writes_made`) to the
    client's next requests: for each primary written, that primary's pin and position."""
    if not writes:
        return
    # This client's position: a cache that gave the response to another client (Django's
    # cache middleware, a CDN) would replace that client's newer one. Vary on Cookie as
    # Django's session middleware does; "private" keeps shared caches off altogether.
    patch_vary_headers(response, ("Cookie",))
    patch_cache_control(response, private=True)
    for write in writes:
        pin_cookie = conf.cookie_name(conf.PIN_COOKIE, write.primary)
        _set_cookie(response, pin_cookie, "1", max_age=conf.sticky_seconds())
        # If the primary had just gone away there is no position to record.
        if write.position is not None:
            made_ms = int(write.at * 1000)
            position = write.position
            value = f"{format_lsn(position.lsn)}@{made_ms}@{position.system_identifier}"
            if position.timeline is not None:
                value += f"@{position.timeline}"
            lsn_cookie = conf.cookie_name(conf.LSN_COOKIE, write.primary)
            _set_cookie(response, lsn_cookie, value, conf.LSN_COOKIE_SECONDS)


def forget_lost(lost: list[LostWrite], writes: list[Write], response: HttpResponseBase) -> None:
    """Delete the position cookie of each primary whose position a failover lost
    (`timelines.lost_writes`), unless the request wrote there anew (its new position
    replaces it): the client is told once, and routes without it."""
    written = {write.primary for write in writes}
    for primary in dict.fromkeys(each.primary for each in lost):
        if primary in written:
            continue
        patch_vary_headers(response, ("Cookie",))
        patch_cache_control(response, private=True)
        response.delete_cookie(
            conf.cookie_name(conf.LSN_COOKIE, primary),
            domain=settings.SESSION_COOKIE_DOMAIN,
            path=settings.SESSION_COOKIE_PATH,
            samesite=settings.SESSION_COOKIE_SAMESITE,
        )
