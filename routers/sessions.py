"""A session save that fails because its primary is down: dropped, so it does not cost
the page (`routers.primary_down` then answers for it)."""

import logging

from django.contrib.sessions.backends.base import SessionBase, UpdateError
from django.db import InterfaceError, OperationalError

from .context import RequestState
from .primary_down import primary_unreachable

logger = logging.getLogger(__name__)


def keep_session_saves_from_failing(session: SessionBase, state: RequestState) -> None:
    """Drop, rather than raise, a save of `session` that fails because its primary is
    unreachable, and note it in `state` (`answer_for_primary_down` then answers).

    SessionMiddleware saves the session after the view, and turns the error into a
    400 (an existing session: UpdateError, then SessionInterrupted) or a 500 (a new
    one) before any middleware above it sees the response: the page is lost either
    way. This session's own `save` is the one place to catch it, whatever the engine.
    A save that fails while the primary is up (a session deleted by a logout in
    another tab) still raises.
    """
    save = session.save

    def save_unless_primary_down(must_create: bool = False) -> None:
        if must_create:  # create() saving a new key: the save that called it decides
            save(must_create=True)
            return
        try:
            save()
        except (UpdateError, OperationalError, InterfaceError) as error:
            cause = error.__context__ if isinstance(error, UpdateError) else error
            lost = isinstance(cause, OperationalError | InterfaceError) and primary_unreachable()
            if not lost:
                raise
            logger.warning("session not saved, its primary is unreachable: %s", cause)
            state.session_unsaved = True

    session.save = save_unless_primary_down  # type: ignore[method-assign]
