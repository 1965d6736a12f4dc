"""ATOMIC_REQUESTS: the block Django opens around each view, read like no block at all
until the request writes or locks rows.

With ATOMIC_REQUESTS on a primary's alias, Django's handler wraps each view in
`transaction.atomic(using=alias)` (`BaseHandler.make_view_atomic`), right after the view
middleware ran. The routers send reads inside an atomic block to the primary, which
alone has the block's uncommitted writes and its row locks: inside this block, that is
every read of every page. Until the block writes or locks rows it holds neither, and
under READ COMMITTED each of its statements sees what is committed, as it would outside
any block. So its reads go where they would without ATOMIC_REQUESTS; after a write or a
lock (`select_for_update()`) in the request, and inside any block of the code's own
(nested in it, or one a middleware opened around it), they go to the primary.

`RoutingMiddleware.process_view` notes the primaries the handler is about to wrap the view
on as their outermost block, and the connection it will use; the first read inside the
block recognises the block itself. A block opened after the view returned is not it: a
streamed body's, and a middleware's on the way out once a read has seen the view's (a
view that reads nothing leaves that one to be taken for it). Under REPEATABLE READ or
SERIALIZABLE the block is one snapshot, which its reads may count on: they stay on the
primary.
"""

from collections.abc import Callable
from typing import Any

from django.db import connections
from psycopg import IsolationLevel

from . import conf
from .context import RequestBlock, RequestState


def expect_request_blocks(state: RequestState, view: Callable[..., Any]) -> None:
    """Note where Django is about to wrap `view` in ATOMIC_REQUESTS's block, as the
    outermost block of the request's connection. Called just before, from process_view."""
    # make_view_atomic's own test, from the same settings.
    skipped: set[str] = getattr(view, "_non_atomic_requests", set())
    state.request_blocks = {
        primary: RequestBlock(connections[primary])
        for primary in conf.primaries()
        # An alias DATABASES lacks is routers.E001's to report, not every request's to fail.
        if connections.settings.get(primary, {}).get("ATOMIC_REQUESTS")
        and primary not in skipped
        and not connections[primary].in_atomic_block
        and read_committed(primary)
    }


def read_committed(alias: str) -> bool:
    """Does `alias` ask for READ COMMITTED, or leave it to the server's default?"""
    options = connections.settings[alias].get("OPTIONS") or {}
    return options.get("isolation_level") in (None, IsolationLevel.READ_COMMITTED)


def in_clean_request_block(primary: str, state: RequestState | None) -> bool:
    """Is the only block open on `primary` ATOMIC_REQUESTS's, around the view, and has
    the request neither written nor locked rows there? Then its reads may go where they
    would outside any block."""
    if state is None or (block := state.request_blocks.get(primary)) is None:
        return False
    cluster = state.cluster(primary)
    connection = connections[primary]
    if cluster.wrote or cluster.locked or connection is not block.connection:
        return False
    opened = connection.atomic_blocks
    if len(opened) != 1:
        return False
    if block.atomic is None:
        block.atomic = opened[0]
    return opened[0] is block.atomic


def view_returned(state: RequestState) -> None:
    """The view's blocks are closed: no block opened after is ATOMIC_REQUESTS's."""
    state.request_blocks = {}
