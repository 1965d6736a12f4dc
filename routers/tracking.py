"""Watch what each request runs: what it wrote on the primary, and where it read.

Writes are noticed on psycopg's own cursors (the connection's cursor factories), below
Django's cursor wrapper, so the ORM, `cursor.execute()`, `callproc()`, `cursor.copy()`,
`cursor.stream()`, `connection.connection.execute()` and psycopg's named cursors are all
seen; the server-side cursors Django builds itself (`QuerySet.iterator()`) through
Django's execute wrapper. Detection rests on the statements that
really ran, not on the HTTP method: a POST that fails validation writes nothing and
pins nothing, and a GET that writes is noticed.

Each statement's text is classified by `routers.statements.is_write`; a query object
that cannot be rendered counts as a write too. A write hidden where the text cannot
show it (a view or an operator that calls a writing function) is not seen: call
`mark_write()`. A read that locks rows (`select_for_update()`) is noted apart
(`routers.statements.locks_rows`): inside ATOMIC_REQUESTS's block, the reads after it
go to the primary (`routers.atomic_requests`).

Django's execute wrapper counts each alias's statements (`RequestState.queries`), keeps
each one with its rule where asked to (`routers.decisions.statements_recorded`), and
notes the writes of server-side cursors (`QuerySet.iterator()`), which Django builds
without the connection's cursor factory.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from psycopg import Connection
from psycopg import sql as psycopg_sql

from . import conf
from .context import current_state, is_probing, unscoped_state
from .decisions import Reason, record_statement, recording, route
from .statements import commits, is_write, locks_rows


def statement_text(query: object, context: Any = None) -> str | None:
    """The SQL text of whatever was handed to psycopg; None when it cannot be known."""
    if isinstance(query, str):
        return query
    if isinstance(query, bytes):
        return query.decode(errors="replace")
    if isinstance(query, psycopg_sql.Composable):
        try:
            return query.as_string(context)
        # Rendering runs adapters, which may raise anything; an unknown statement
        # counts as a write, and must never fail a query that already ran.
        except Exception:
            return None
    return None


def note_statement(alias: str, query: object, context: Any = None, *, autocommit: bool) -> None:
    """Mark the current request (outside one, the running code) as having written on
    `alias` if it is a primary and `query`, run on it, may write; or as having locked
    rows there, if it may lock. A write run in `autocommit`, or a COMMIT sent after a
    write, may be committed from then on."""
    if is_probing() or alias not in conf.primaries():
        return
    state = current_state() or unscoped_state()
    cluster = state.cluster(alias)
    if cluster.commit_sent:
        return  # nothing more to learn: the request wrote, and that may be saved
    text = statement_text(query, context)
    if text is None or is_write(text):
        cluster.wrote = True
        cluster.commit_sent = autocommit
        # Noted here, where a write runs: db_for_write is also asked when a related
        # object is merely assigned.
        route(alias, alias, Reason.WRITE)
    elif cluster.wrote:
        cluster.commit_sent = not autocommit and commits(text)
    elif not cluster.locked and locks_rows(text):
        cluster.locked = True


def note_commit(alias: str) -> None:
    """The connection to `alias` sends COMMIT: what the request wrote may be saved."""
    if is_probing() or alias not in conf.primaries():
        return
    state = current_state() or unscoped_state()
    cluster = state.cluster(alias)
    cluster.commit_sent = cluster.commit_sent or cluster.wrote


def noting_commits(commit: Callable[[], None], alias: str) -> Callable[[], None]:
    """A psycopg connection's `commit`, noting each COMMIT before it is sent."""

    def commit_noted() -> None:
        note_commit(alias)
        commit()

    return commit_noted


class RecordingCursor:
    """Mixed into the connection's psycopg cursor class: notes each statement it runs."""

    routers_alias = ""
    connection: Connection[Any]  # the psycopg cursor's own

    # Each statement is noted before it runs: a procedure may COMMIT and then fail,
    # and COPY's rows flow (and may commit) inside the caller's block. A statement
    # that fails costs at most a needless pin.

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        note_statement(self.routers_alias, query, self, autocommit=self.connection.autocommit)
        return super().execute(query, *args, **kwargs)  # type: ignore[misc]

    def executemany(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        note_statement(self.routers_alias, query, self, autocommit=self.connection.autocommit)
        return super().executemany(query, *args, **kwargs)  # type: ignore[misc]

    def copy(self, statement: Any, *args: Any, **kwargs: Any) -> AbstractContextManager[Any]:
        note_statement(self.routers_alias, statement, self, autocommit=self.connection.autocommit)
        copy: AbstractContextManager[Any] = super().copy(statement, *args, **kwargs)  # type: ignore[misc]
        return copy

    def stream(self, query: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        note_statement(self.routers_alias, query, self, autocommit=self.connection.autocommit)
        rows: Iterator[Any] = super().stream(query, *args, **kwargs)  # type: ignore[misc]
        return rows


_recording_classes: dict[tuple[type, str], type] = {}


def recording_class(cursor_class: type, alias: str) -> type:
    """`cursor_class` with RecordingCursor mixed in, for connections to `alias`."""
    key = (cursor_class, alias)
    if key not in _recording_classes:
        _recording_classes[key] = type(
            f"Recording{cursor_class.__name__}",
            (RecordingCursor, cursor_class),
            {"routers_alias": alias},
        )
    return _recording_classes[key]


class ExecuteRecorder:
    """Django's execute wrapper: counts each alias's statements.

    It also notes writes for the one kind of cursor psycopg-level recording misses:
    Django builds server-side cursors (`QuerySet.iterator()`) without the connection's
    cursor factory.
    """

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        if not isinstance(getattr(context["cursor"], "cursor", None), RecordingCursor):
            note_statement(self.alias, sql, autocommit=context["connection"].get_autocommit())
        recorded = recording()
        if recorded is None or is_probing():
            result = execute(sql, params, many, context)
        else:
            started = time.perf_counter()
            result = execute(sql, params, many, context)
            elapsed = (time.perf_counter() - started) * 1000
            text = statement_text(sql, getattr(context["cursor"], "cursor", None))
            record_statement(recorded, self.alias, text or repr(sql), round(elapsed, 2))
        state = current_state()
        if state is not None and not is_probing():
            state.queries[self.alias] += 1
        return result


def install(sender: object, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """connection_created receiver: recording cursors, COMMITs noted and the execute
    recorder, once each."""
    raw = connection.connection
    for attribute in ("cursor_factory", "server_cursor_factory"):  # plain and named cursors
        factory = getattr(raw, attribute, None)
        if isinstance(factory, type) and not issubclass(factory, RecordingCursor):
            setattr(raw, attribute, recording_class(factory, connection.alias))
    # Django's commit() calls psycopg's: an instance attribute shadows the method.
    if raw is not None and "commit" not in vars(raw):
        raw.commit = noting_commits(raw.commit, connection.alias)
    # First in the list: `connection.execute_wrapper()` blocks pop the last one on exit,
    # and a connection may first open inside such a block.
    if not any(isinstance(w, ExecuteRecorder) for w in connection.execute_wrappers):
        connection.execute_wrappers.insert(0, ExecuteRecorder(connection.alias))


def connect() -> None:
    connection_created.connect(install, dispatch_uid="routers.tracking.install")
