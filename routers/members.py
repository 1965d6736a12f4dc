"""Positions per member: a member's writes kept on the server, for their other clients.

The cookies carry a client's writes to that client's next requests only. A member who
also uses another browser, a phone or an API token is several clients, and what one of
them wrote is unknown to the others. With ROUTERS_MEMBER_POSITIONS_CACHE naming a cache
of CACHES that every app server shares (Django's RedisCache), a writing request of a
known member also keeps its writes there, under the member's id, as a signed token
(`routers.tokens`); and a request of that member absorbs them once it knows who the
member is, as if it had brought them in a cookie:

- session authentication: RoutingMiddleware asks for `request.user` before the view;
- anything authenticated later, in the view (Django REST framework's token or session
  authentication, a header of your own): call `member_authenticated(user)` then.

Who the member is is known only once the request has read its session and user (or its
token), perhaps from a replica: the writes learned then may be missing there. The
router then keeps that replica only if it has them, and otherwise moves the request's
later reads to the primary (`SafeRouter.writes_learned_late`).

Two writing requests of one member (two devices) may end at once: each merges its
writes into what is kept, the later position per primary standing, under a short lock
(`cache.add`), so neither undoes the other.

The cache is an optimisation: a failure of it (Redis down, slow, gone) costs no page,
only the positions it would have brought. Each call is bounded by the cache's own
timeouts (give a RedisCache socket_timeout and socket_connect_timeout in its OPTIONS),
and after a failure the cache is left alone for CACHE_RETRY_SECONDS: a dead or hung
Redis costs one timeout per few seconds and process, not one per request.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache import BaseCache, caches
from django.http import HttpRequest
from django.utils.functional import LazyObject

from . import conf
from .caches import registered
from .context import RequestState, current_state
from .strategies import SafeRouter, active_router
from .timelines import LostWrite
from .tokens import Write, absorb, dumps, later_position, loads

logger = logging.getLogger(__name__)

#: After the cache failed, how long it is not asked again.
CACHE_RETRY_SECONDS = 5.0
# The lock that orders two merges of one member's writes. A request that took it and
# died holds it this long at most: the shortest timeout a RedisCache keeps (whole seconds).
LOCK_SECONDS = 1
# How long a store waits for another one's lock: 0.1 s, some hundred merges' time.
LOCK_TRIES = 20
LOCK_RETRY_SECONDS = 0.005


class CacheOutage:
    """When the positions cache last failed: until CACHE_RETRY_SECONDS later, requests do
    without it instead of each waiting for its timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failed_at: float | None = None

    def allows(self) -> bool:
        with self._lock:
            failed_at = self._failed_at
        return failed_at is None or time.monotonic() - failed_at >= CACHE_RETRY_SECONDS

    def failed(self, error: Exception) -> None:
        with self._lock:
            self._failed_at = time.monotonic()
        logger.warning(
            "positions per member: cache %r failed (%s: %s); not asked for %.0f s",
            conf.member_positions_cache(),
            type(error).__name__,
            error,
            CACHE_RETRY_SECONDS,
        )

    def clear(self) -> None:
        with self._lock:
            self._failed_at = None


cache_outage = registered(CacheOutage())


def _cache() -> BaseCache | None:
    """The positions cache, unless it is off or failed a moment ago."""
    alias = conf.member_positions_cache()
    if alias is None or not cache_outage.allows():
        return None
    return caches[alias]


def _key(member: str) -> str:
    return f"routers:member:{member}"


def member_id(user: Any) -> str | None:
    """Who `user` is, for the positions cache: its primary key; None for a visitor, or a
    user never saved (every one would share the key "None")."""
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        return None
    return str(user.pk)


def member_authenticated(user: Any) -> None:
    """Tell the routers who the current request's member is, once authentication has
    said: the writes kept for `user` (made on their other devices, by their API clients)
    are absorbed into the request's routing state, and what the request writes is kept
    for them.

    RoutingMiddleware calls it with `request.user` before the view. Call it where the
    member is known later, in the view: Django REST framework authenticates there (see
    routers/README.md for its authentication class). Nothing for a visitor, outside a
    request scope, or with ROUTERS_MEMBER_POSITIONS_CACHE unset. Raises NotVisibleYet
    where a read would: the primary is down and no replica has the member's writes yet.
    """
    state = current_state()
    if state is None or conf.member_positions_cache() is None:
        return
    member = member_id(user)
    if member is None or member == state.member:
        return
    state.member = member
    _absorb_late(state, kept_writes(member))


def kept_writes(member: str) -> list[Write]:
    """The writes kept for `member`; none when the cache is off, fails or holds garbage."""
    cache = _cache()
    if cache is None:
        return []
    try:
        token = cache.get(_key(member))
    # Any backend's error, of any kind: the cache must never cost the page.
    except Exception as error:
        cache_outage.failed(error)
        return []
    return loads(token) if isinstance(token, str) else []


def _absorb_late(state: RequestState, writes: list[Write]) -> None:
    """Absorb `writes`, then have the router look again at each primary whose pin or
    position they changed: its reads may already be on a replica that lacks them."""

    def known(primary: str) -> tuple[bool, int | None, int | None]:
        cluster = state.cluster(primary)
        return cluster.pinned, cluster.min_lsn, cluster.system_identifier

    primaries = {write.primary for write in writes}
    before = {primary: known(primary) for primary in primaries}
    absorb(state, writes)
    router = active_router()
    if not isinstance(router, SafeRouter):
        return  # naive and primary keep no replica a position could move
    for primary in primaries:
        if known(primary) != before[primary]:
            router.writes_learned_late(primary, state)


def member_of(request: HttpRequest, state: RequestState) -> str | None:
    """The member whose writes a finished request made: the user a view set on it (a
    login, Django REST framework's authentication), else the one it was served for."""
    user = getattr(request, "user", None)
    # AuthenticationMiddleware's lazy user is not loaded here: a query after the response
    # was made, and the member it names, if loaded, is `state.member` already.
    if user is not None and not isinstance(user, LazyObject):
        return member_id(user)
    return state.member


def keep_writes(member: str | None, writes: list[Write]) -> None:
    """Keep `writes` (`tokens.writes_made`) for `member`'s other clients: merged into what
    the cache holds for them, the later position per primary standing."""
    if member is None or not writes:
        return
    cache = _cache()
    if cache is None:
        return
    try:
        _change_under_lock(cache, _key(member), lambda earlier: merged(earlier, writes))
    except Exception as error:  # as in kept_writes: never the page's cost
        cache_outage.failed(error)


def drop_lost(member: str | None, lost: list[LostWrite]) -> None:
    """Drop from `member`'s kept writes those a failover lost (`timelines.lost_writes`):
    their other clients are not told again, and route without them."""
    if member is None or not lost:
        return
    cache = _cache()
    if cache is None:
        return
    gone = {(each.primary, each.lsn, each.timeline) for each in lost}

    def without_lost(earlier: list[Write]) -> list[Write]:
        return [
            write
            for write in earlier
            if write.position is None
            or (write.primary, write.position.lsn, write.position.timeline) not in gone
        ]

    try:
        _change_under_lock(cache, _key(member), without_lost)
    except Exception as error:  # as in kept_writes: never the page's cost
        cache_outage.failed(error)


def _change_under_lock(
    cache: BaseCache, key: str, change: Callable[[list[Write]], list[Write]]
) -> None:
    lock = f"{key}:lock"
    for _ in range(LOCK_TRIES):
        if cache.add(lock, "1", LOCK_SECONDS):
            try:
                _change(cache, key, change)
            finally:
                cache.delete(lock)
            return
        time.sleep(LOCK_RETRY_SECONDS)
    # Held that long: by a request that died with it, or a cache slower than it should
    # be. Merging anyway may undo that request's write; not storing would lose this one's.
    _change(cache, key, change)


def _change(cache: BaseCache, key: str, change: Callable[[list[Write]], list[Write]]) -> None:
    token = cache.get(key)
    earlier = loads(token) if isinstance(token, str) else []
    cache.set(key, dumps(change(earlier)), conf.LSN_COOKIE_SECONDS)


def merged(*lists: Iterable[Write]) -> list[Write]:
    """One write per primary, the later of each (`later`); none older than a position
    cookie lives."""
    horizon = time.time() - conf.LSN_COOKIE_SECONDS
    by_primary: dict[str, Write] = {}
    for writes in lists:
        for write in writes:
            if write.at < horizon:
                continue
            known = by_primary.get(write.primary)
            by_primary[write.primary] = write if known is None else later(known, write)
    return list(by_primary.values())


def later(one: Write, other: Write) -> Write:
    """Of two writes on one primary, what a client that made both must see: the later
    position of one PostgreSQL cluster; of two clusters, the more recent write's (as
    `tokens.absorb` decides, timelines included: `tokens.later_position`). The more recent
    time stands either way: it pins longest."""
    newer, older = (one, other) if one.at >= other.at else (other, one)
    if newer.position is None or older.position is None:
        return Write(newer.primary, newer.at, newer.position or older.position)
    if newer.position.system_identifier != older.position.system_identifier:
        return newer
    return Write(newer.primary, newer.at, later_position(newer.position, older.position))


def forget_member(user: Any) -> None:
    """Drop the writes kept for `user` (a member deleted, a test's or the lab's own)."""
    member = member_id(user)
    cache = _cache()
    if member is None or cache is None:
        return
    try:
        cache.delete(_key(member))
    except Exception as error:
        cache_outage.failed(error)
