"""request_scope(): route a block of code as one request."""

from collections.abc import Iterator
from contextlib import contextmanager

from .context import RequestState, current_state, entered, release_held, unscoped_state
from .tokens import absorb
from .unscoped import remembered_writes


@contextmanager
def request_scope(state: RequestState | None = None) -> Iterator[RequestState]:
    """Route everything inside as one request: one replica, one set of decisions.

    The middleware opens one per HTTP request; use it in a task or a command to get
    the same consistency. Inside an open scope, `request_scope()` joins it. Outside
    any, it starts from the writes the running code made (`routers.unscoped`), so its
    reads see them. Given a state of its own, it routes with that state alone. Either
    way, a write made inside is handed back to the enclosing scope, or to the running
    code, which remembers it.
    """
    outer = current_state()
    if state is None and outer is not None:
        yield outer
        return
    if state is None:
        state = RequestState()
        absorb(state, remembered_writes())
    try:
        with entered(state):
            yield state
    finally:
        release_held(state)
        enclosing = outer or unscoped_state()
        for primary in state.primaries_written():
            enclosing.cluster(primary).wrote = True
