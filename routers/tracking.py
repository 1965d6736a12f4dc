"""Watch the statements each request executes: what it wrote, and where it read.

An execute wrapper goes on every database connection when it opens. It records
into the current request's state, so write detection rests on the statements that
really ran on the primary, not on the HTTP method: a POST that fails validation
writes nothing and pins nothing, and a GET that writes is noticed.
"""

import re
from collections.abc import Callable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

from . import conf
from .context import current_state, is_probing

# Statements that only read, or only steer the session or the transaction. Anything
# else (INSERT, UPDATE, DELETE, MERGE, TRUNCATE, COPY, CALL, DDL...) counts as a write:
# missing one would send the client's next page to a replica that lacks it.
READ_VERBS = frozenset(
    {
        "SELECT",
        "SHOW",
        "SET",
        "RESET",
        "BEGIN",
        "START",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "DECLARE",
        "FETCH",
        "CLOSE",
        "EXPLAIN",
        "VALUES",
        "TABLE",
    }
)
_COMMENTS = re.compile(r"/\*.*?\*/|--[^\n]*", re.DOTALL)
_WRITES_IN_CTE = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


def is_write(sql: str) -> bool:
    """Does this statement change data? (`WITH ... INSERT` counts too.)"""
    text = _COMMENTS.sub(" ", sql).lstrip(" \t\n(")
    words = text.split(None, 1)
    if not words:
        return False
    verb = words[0].upper()
    if verb == "WITH":
        return bool(_WRITES_IN_CTE.search(text))
    return verb not in READ_VERBS


class StatementRecorder:
    """The execute wrapper: counts statements per alias, notes writes on the primary."""

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
        result = execute(sql, params, many, context)
        state = current_state()
        if state is not None and not is_probing():
            state.queries[self.alias] += 1
            if self.alias == conf.primary() and is_write(sql):
                state.wrote = True
        return result


def install(sender: object, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """connection_created receiver: put the recorder on the connection, once."""
    # First in the list: `connection.execute_wrapper()` blocks pop the last one on exit,
    # and a connection may first open inside such a block.
    if not any(isinstance(w, StatementRecorder) for w in connection.execute_wrappers):
        connection.execute_wrappers.insert(0, StatementRecorder(connection.alias))


def connect() -> None:
    connection_created.connect(install, dispatch_uid="routers.tracking.install")
