"""Per-request routing state, kept in `contextvars`.

A ContextVar is private to each thread and each asyncio task (tasks start with a
copy of their parent's context), so concurrent requests under gunicorn threads or
ASGI never see each other's state, unlike module globals or `threading.local` under
asyncio.
"""

import functools
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class RequestState:
    """What the routers know about the request being served."""

    #: The strategy for this request (None: the ROUTERS_STRATEGY setting).
    strategy: str | None = None
    #: sticky: the client wrote recently, so it reads from the primary.
    pinned: bool = False
    #: causal: the primary's WAL position after the client's last write.
    min_lsn: int | None = None
    #: The alias chosen, once, to serve this request's reads.
    read_alias: str | None = None
    #: causal: every replica has replayed min_lsn, so the cookie can go.
    lsn_replayed_everywhere: bool = False
    #: Something was written on the primary during this request.
    wrote: bool = False
    #: Statements executed per alias (probes excluded): the page's honest footer.
    queries: Counter[str] = field(default_factory=Counter)


_state: ContextVar[RequestState | None] = ContextVar("routers_state", default=None)
_primary_depth: ContextVar[int] = ContextVar("routers_primary_depth", default=0)
_probing: ContextVar[bool] = ContextVar("routers_probing", default=False)


def current_state() -> RequestState | None:
    """The state of the request being served, or None outside a request scope."""
    return _state.get()


@contextmanager
def request_scope(state: RequestState | None = None) -> Iterator[RequestState]:
    """Route everything inside as one request: one replica, one set of decisions.

    The middleware opens one per HTTP request; use it in a task or a command to get
    the same consistency.
    """
    state = state or RequestState()
    token = _state.set(state)
    try:
        yield state
    finally:
        _state.reset(token)


class use_primary:
    """Send every read inside to the primary. A context manager and a decorator.

    Nesting is safe: each exit restores the level it entered, so leaving an inner
    block keeps an outer one in force. Decorates sync and async functions alike.

        with use_primary():
            ...

        @use_primary()
        async def view(request): ...
    """

    def __init__(self) -> None:
        self._tokens: list[Token[int]] = []

    def __enter__(self) -> None:
        self._tokens.append(_primary_depth.set(_primary_depth.get() + 1))

    def __exit__(self, *exc_info: object) -> None:
        _primary_depth.reset(self._tokens.pop())

    def __call__(self, function: F) -> F:
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
