"""Traces for the lab: every statement a scenario ran, in order, and the node that ran it.

A lesson whose story is "which node answered which statement" (the write and the read
inside one transaction, raw SQL beside the ORM, a replica per query) draws its trace as
a small server-rendered SVG (lab/_trace.html), readable without JavaScript. A scenario traces only
its story, not its setup; the routers' own probes are left out too.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connections

from routers import conf, is_probing

# More would not fit the picture; no lesson runs that many.
MAX_STATEMENTS = 12
WIDTH, LEFT, RIGHT, LANE_HEIGHT, TOP = 640, 96, 16, 44, 30


@dataclass(frozen=True)
class Statement:
    at_ms: float  # after the scenario began
    alias: str
    verb: str  # SELECT, INSERT, UPDATE...
    failed: bool


@contextmanager
def traced(transactions: bool = False) -> Iterator[list[Statement]]:
    """Collect the statements run on this thread, on every alias, while inside.

    `transactions`: also each COMMIT and ROLLBACK, those of atomic blocks and the one
    PostgreSQL makes of a statement run in autocommit, for a story about which write
    was kept.
    """
    statements: list[Statement] = []
    began = time.monotonic()

    def note(alias: str, verb: str, failed: bool = False) -> None:
        at_ms = round((time.monotonic() - began) * 1000, 1)
        statements.append(Statement(at_ms, alias, verb, failed))

    def record(execute: Any, sql: Any, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if is_probing():
            return execute(sql, params, many, context)
        words = sql.split(None, 1) if isinstance(sql, str) else []
        connection = context["connection"]
        verb = words[0].upper() if words else "SQL"
        try:
            result = execute(sql, params, many, context)
        except Exception:
            note(connection.alias, verb, failed=True)
            raise
        note(connection.alias, verb)
        if transactions and connection.get_autocommit():
            note(connection.alias, "COMMIT")
        return result

    with ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(record))
            if transactions:
                stack.enter_context(_ending_noted(alias, note))
        yield statements


@contextmanager
def _ending_noted(alias: str, note: Callable[[str, str], None]) -> Iterator[None]:
    """Note each COMMIT and ROLLBACK Django sends on `alias` (atomic blocks end so)."""
    connection = connections[alias]

    def noting(verb: str, end: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                end()
            except Exception:
                note(alias, verb, True)  # a COMMIT that failed: lesson 7's case
                raise
            note(alias, verb)

        return run

    commit, rollback = connection.commit, connection.rollback
    connection.commit = noting("COMMIT", commit)  # type: ignore[method-assign]
    connection.rollback = noting("ROLLBACK", rollback)  # type: ignore[method-assign]
    try:
        yield
    finally:
        connection.commit, connection.rollback = commit, rollback  # type: ignore[method-assign]


@dataclass(frozen=True)
class Dot:
    x: float
    y: int
    statement: Statement


@dataclass(frozen=True)
class TracePicture:
    """Where every statement goes in the SVG: one lane per node, one column per statement."""

    statements: tuple[Statement, ...]
    #: The lanes to draw, when the story's are not the cluster's nodes (a statement
    #: that never ran on one is part of the story too).
    nodes: tuple[str, ...] = ()

    @property
    def lanes(self) -> dict[str, int]:
        """A lane per node of the cluster; or, for a story told on other servers (a
        pooler's connections, a mirror's host, two databases), a lane per server it
        names."""
        nodes = list(self.nodes) or [conf.primary(), *conf.replicas()]
        named = list(dict.fromkeys(statement.alias for statement in self.statements))
        if not set(named) <= set(nodes):
            nodes = named
        return {alias: TOP + index * LANE_HEIGHT for index, alias in enumerate(nodes)}

    @property
    def height(self) -> int:
        return TOP + len(self.lanes) * LANE_HEIGHT

    @property
    def lane_end(self) -> int:
        return WIDTH - RIGHT

    @property
    def dots(self) -> list[Dot]:
        shown = self.statements[:MAX_STATEMENTS]
        column = (WIDTH - LEFT - RIGHT) / max(len(shown), 1)
        lanes = self.lanes
        return [
            Dot(round(LEFT + (index + 0.5) * column, 1), lanes.get(s.alias, TOP), s)
            for index, s in enumerate(shown)
        ]

    @property
    def path(self) -> str:
        """The order the statements ran in, as one polyline."""
        return " ".join(f"{dot.x},{dot.y}" for dot in self.dots)

    @property
    def caption(self) -> str:
        if not self.statements:
            return "No statement ran: the answer came from the routers alone."
        steps = "; ".join(
            f"{s.verb} on {s.alias}{' (failed)' if s.failed else ''}" for s in self.statements
        )
        count = len(self.statements)
        return f"{count} statement{'s' if count > 1 else ''}, in order: {steps}."
