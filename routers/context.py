"""Per-request routing state, kept in `contextvars`.

A ContextVar is private to each thread and each asyncio task (tasks start with a
copy of their parent's context), so concurrent requests under gunicorn threads or
ASGI never see each other's state, unlike module globals or `threading.local` under
asyncio.
"""

import contextvars
import functools
import inspect
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.transaction import Atomic

from . import conf

if TYPE_CHECKING:
    from .decisions import Decision, Reason
    from .timelines import LostWrite

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class ClusterState:
    """What the routers know about one primary, and its replicas, in this request."""

    #: sticky: the client wrote on this primary recently, so it reads from it.
    pinned: bool = False
    #: causal: the primary's WAL position after the client's last write on it.
    min_lsn: int | None = None
    #: causal: when that write committed (time.time()), if the cookie says.
    wrote_at: float | None = None
    #: causal: the PostgreSQL cluster that position is in (its system identifier), if
    #: the cookie says.
    system_identifier: int | None = None
    #: causal: the timeline that position is on, if the cookie says.
    timeline: int | None = None
    #: The alias chosen, once, to serve this request's reads of this cluster, and why
    #: (`routers.decisions`).
    read_decision: "Decision | None" = None
    #: Every decision made for this cluster in this request, in order, none repeated.
    decisions: list["Decision"] = field(default_factory=list)
    #: The first read was routed on an event loop, where no replica can be checked:
    #: this request reads the primary (or, while it is down, the fallback).
    reads_on_primary: bool = False
    #: Something was written on this primary during this request.
    wrote: bool = False
    #: A write of this request may be committed there: it ran in autocommit, or a
    #: COMMIT was sent after it. A write whose transaction never reached its COMMIT
    #: was lost with its connection; this one may have been saved.
    commit_sent: bool = False
    #: Rows were locked on this primary (SELECT ... FOR UPDATE or FOR SHARE) during
    #: this request.
    locked: bool = False
    #: db_for_write chose this primary during this request: an error may be its.
    writes_routed: bool = False

    @property
    def read_alias(self) -> str | None:
        """The alias chosen to serve this request's reads of this cluster, if chosen."""
        decision = self.read_decision
        return decision.alias if decision is not None else None


@dataclass
class RequestBlock:
    """The atomic block ATOMIC_REQUESTS opens around the view on one primary."""

    #: The connection it is opened on: the request's own, not a worker thread's.
    connection: BaseDatabaseWrapper
    #: The block itself, once a read inside it has seen it open.
    atomic: Atomic | None = None


@dataclass
class RequestState:
    """What the routers know about the request being served.

    What depends on a primary (a pin, a write position, the replica chosen, a write
    made) is kept per primary, in `clusters`: a write to one database says nothing
    about where another one's reads may go.
    """

    #: The strategy for this request (None: the ROUTERS_STRATEGY setting).
    strategy: str | None = None
    #: Per primary alias; `cluster()` reads and adds entries.
    clusters: dict[str, ClusterState] = field(default_factory=dict)
    #: The HTTP method may write (POST, PUT, PATCH, DELETE): the request's reads,
    #: typically validation that guards its write, go to the primaries.
    intends_to_write: bool = False
    #: With a primary down, a read found no node with the client's own write.
    not_visible: bool = False
    #: The session's changes were not saved: its primary was unreachable.
    session_unsaved: bool = False
    #: The request has been served again after its replica failed (once at most).
    retried: bool = False
    #: The member the request serves, once authentication said (`member_authenticated`):
    #: the writes kept for them were absorbed, and this request's are kept for them.
    member: str | None = None
    #: Pooled replica aliases whose connection this request keeps in one transaction
    #: (one server behind the pooler), ended when the request's scope closes.
    held: set[str] = field(default_factory=set)
    #: The primaries whose ATOMIC_REQUESTS block wraps the view as their outermost
    #: one, while the view runs (`routers.atomic_requests`).
    request_blocks: dict[str, RequestBlock] = field(default_factory=dict)
    #: The client's writes a failover lost, found in this request (`routers.timelines`):
    #: their positions are dropped, and the response deletes them from the client.
    lost_writes: list["LostWrite"] = field(default_factory=list)
    #: The primaries its positions were settled against with a fresh probe, each with
    #: whether the request had written there yet (`routers.timelines`).
    settled_afresh: set[tuple[str, bool]] = field(default_factory=set)
    #: Statements executed per alias, the routers' own probes excluded.
    queries: Counter[str] = field(default_factory=Counter)
    #: Per alias, the rule of the last router call that chose it: the statements it
    #: runs are that rule's (`routers.decisions`).
    routes: dict[str, "Reason"] = field(default_factory=dict)
    #: Held while a read alias is chosen (worker threads of one request share the
    #: state); re-entrant, since choosing may fall back to a replica, which records it.
    choosing: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def cluster(self, primary: str | None = None) -> ClusterState:
        """The state kept for `primary` (default: ROUTERS_PRIMARY)."""
        alias = primary or conf.primary()
        known = self.clusters.get(alias)
        if known is not None:
            return known
        # setdefault is one step under the GIL: worker threads sharing the state
        # get the same entry.
        return self.clusters.setdefault(alias, ClusterState())

    def primaries_written(self) -> set[str]:
        """The primaries something was written on during this request."""
        # A copy first: a worker thread may add a primary meanwhile.
        return {primary for primary, cluster in list(self.clusters.items()) if cluster.wrote}

    @property
    def wrote(self) -> bool:
        """Something was written, on any primary, during this request."""
        return bool(self.primaries_written())

    @property
    def commit_sent(self) -> bool:
        """A write of this request, on any primary, may be committed."""
        return any(cluster.commit_sent for cluster in list(self.clusters.values()))


_state: ContextVar[RequestState | None] = ContextVar("routers_state", default=None)
_unscoped: ContextVar[RequestState | None] = ContextVar("routers_unscoped", default=None)
_primary_depth: ContextVar[int] = ContextVar("routers_primary_depth", default=0)
_probing: ContextVar[bool] = ContextVar("routers_probing", default=False)


def current_state() -> RequestState | None:
    """The state of the request being served, or None outside a request scope."""
    return _state.get()


def unscoped_state() -> RequestState:
    """The writes of code running outside any request scope (a script, a shell, a
    management command), kept in its context; see `routers.unscoped`."""
    state = _unscoped.get()
    if state is None:
        state = RequestState()
        _unscoped.set(state)
    return state


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Inside, code outside a request scope starts with no writes remembered, and the
    ones it makes are forgotten on the way out: one unit of work's own.

    Each management command gets one; wrap each job of a loop of your own in one, so
    that a job's reads are routed by its own writes only:

        for job in queue:
            with unit_of_work():
                job.run()
    """
    token = _unscoped.set(None)
    try:
        yield
    finally:
        _unscoped.reset(token)


def mark_write(using: str | None = None) -> None:
    """Record that the current request (or, outside one, the running code) wrote on
    the primary `using` (default: ROUTERS_PRIMARY).

    The routers notice every statement run through Django's connections. Call this
    for a write they cannot see, made before the response leaves: another service
    writing to the same primary, or a connection opened outside Django.
    """
    if using is not None and using not in conf.primaries():
        raise ValueError(f"mark_write(using={using!r}): not a primary the routers know")
    state = _state.get() or unscoped_state()
    cluster = state.cluster(using)
    cluster.wrote = cluster.commit_sent = True  # made elsewhere: done by now


@contextmanager
def entered(state: RequestState) -> Iterator[None]:
    """Route with `state` inside, and with whatever was current before afterwards.

    The bare switch, for code that manages a state's life itself (the middleware, a
    streamed body); `request_scope` is the one to use everywhere else.
    """
    token = _state.set(state)
    try:
        yield
    finally:
        _state.reset(token)


def release_held(state: RequestState) -> None:
    """End the read-only transactions that kept pooled aliases on one server."""
    for alias in state.held:
        connection = connections[alias]
        try:
            if connection.connection is not None and not connection.get_autocommit():
                connection.rollback()
                connection.set_autocommit(True)
        except DatabaseError:
            connection.close()
    state.held.clear()


def in_request_context(function: Callable[P, R]) -> Callable[P, R]:
    """`function`, run in a copy of the caller's context: its routing state included.

    A new thread starts with an empty context, so work a view hands to a thread
    pool would route as if outside any request and its writes would go unnoticed.
    Wrap it when you submit it, and wait for it before the view returns:

        with ThreadPoolExecutor() as pool:
            pool.submit(in_request_context(send_receipt), order).result()

    Writes made after the response has left cannot reach the client's cookie.
    """
    context = contextvars.copy_context()

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        # A copy per call: one Context cannot be entered by two threads at once.
        return context.copy().run(function, *args, **kwargs)

    return run


class use_primary:
    """Send every read inside to the primary. A context manager and a decorator.

    Nesting is safe: each exit undoes its own entry, so leaving an inner block keeps
    an outer one in force. The level lives in the context, not on the instance, so
    one instance may be shared (a module-level `force = use_primary()`) by threads
    and tasks. Decorates sync and async functions alike.

        with use_primary():
            ...

        @use_primary()
        async def view(request): ...
    """

    def __enter__(self) -> None:
        _primary_depth.set(_primary_depth.get() + 1)

    def __exit__(self, *exc_info: object) -> None:
        _primary_depth.set(_primary_depth.get() - 1)

    def __call__(self, function: F) -> F:
        if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
            # The call returns the generator before its body runs: a decorator would
            # have left the block by then and forced nothing.
            raise TypeError(
                f"@use_primary() cannot decorate the generator function "
                f"{function.__qualname__}: put `with use_primary():` around the loop "
                "that consumes it."
            )
        if iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with use_primary():
                    return await function(*args, **kwargs)

            return markcoroutinefunction(run_async)  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with use_primary():
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]


def primary_forced() -> bool:
    """True inside `use_primary()`."""
    return _primary_depth.get() > 0


@contextmanager
def probing() -> Iterator[None]:
    """Mark the routers' own health and LSN queries, so they are not counted as page reads."""
    token = _probing.set(True)
    try:
        yield
    finally:
        _probing.reset(token)


def is_probing() -> bool:
    return _probing.get()
