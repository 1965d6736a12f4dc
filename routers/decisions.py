"""Why each read went where it went: the routing decisions of a request, per primary.

The routers note every decision as they make it, in the request's state: the alias
chosen and the rule that chose it (a `Reason`), with what the rule measured (how long
causal waited for a replica, how many bytes it still lacked). Each distinct decision is
noted once per primary, in the order first made: a page of a hundred reads on one
replica notes one, and a loop that writes and reads notes two, not two per turn.
Outside a request scope nothing is noted (no request ends to report them).

`routers.decision_log` writes them as one log record per request, `routers.metrics`
counts them, and the debug-toolbar panel (`routers.toolbar`) shows them. Inside
`statements_recorded()` (the panel opens it), each statement is kept too, with its
alias and its rule (see `record_statement`).
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

from .context import current_state
from .statements import is_write


class Reason(StrEnum):
    """The rule that sent reads (or writes) to an alias."""

    #: A replica in rotation: up, on the primary's timeline, within the lag bounds.
    REPLICA = "replica"
    #: causal: the replica had replayed the client's last write (maybe after a wait).
    REPLAYED = "replayed"
    #: causal: no replica had replayed the client's last write in time: the primary.
    NOT_REPLAYED = "not_replayed"
    #: sticky: the client wrote on this primary within ROUTERS_STICKY_SECONDS.
    PINNED = "pinned"
    #: No replica was in rotation (down, too far behind, on another timeline).
    NO_REPLICA = "no_replica"
    #: The strategy reads the primary (PrimaryRouter).
    STRATEGY = "strategy"
    #: Inside `use_primary()`.
    FORCED = "forced"
    #: Inside an atomic block open on the primary.
    ATOMIC = "atomic"
    #: The request wrote on this primary before this read.
    WROTE = "wrote"
    #: The request's HTTP method may write (POST, PUT, PATCH, DELETE).
    WRITING_METHOD = "writing_method"
    #: A model of `generic_models()` (content types, permissions).
    GENERIC_MODEL = "generic_model"
    #: The first read was routed on an event loop, where no replica can be checked.
    EVENT_LOOP = "event_loop"
    #: The primary is down: a replica serves (with the client's write, if it has one).
    PRIMARY_DOWN = "primary_down"
    #: The primary is down and no replica has the client's write yet.
    NOT_VISIBLE = "not_visible"
    #: A write statement ran (always on the primary).
    WRITE = "write"
    #: A statement on an alias no router call chose in this request: `using=`, a
    #: cursor of `connections[alias]`, transaction control.
    UNROUTED = "unrouted"


#: Each reason in a sentence, for people (the debug-toolbar panel).
EXPLAINED = {
    Reason.REPLICA: "a replica in rotation, and nothing sent the reads elsewhere",
    Reason.REPLAYED: "this replica had replayed the client's last write",
    Reason.NOT_REPLAYED: "no replica had replayed the client's last write in time",
    Reason.PINNED: "the client wrote here within ROUTERS_STICKY_SECONDS",
    Reason.NO_REPLICA: "no replica in rotation (down, too far behind, another timeline)",
    Reason.STRATEGY: "the strategy reads the primary",
    Reason.FORCED: "inside use_primary()",
    Reason.ATOMIC: "inside an atomic block open on the primary",
    Reason.WROTE: "this request wrote here before",
    Reason.WRITING_METHOD: "the HTTP method may write: its reads guard the write",
    Reason.GENERIC_MODEL: "a model of generic_models()",
    Reason.EVENT_LOOP: "first read routed on an event loop, where no replica can be checked",
    Reason.PRIMARY_DOWN: "the primary is down",
    Reason.NOT_VISIBLE: "the primary is down and no replica has the client's write yet",
    Reason.WRITE: "a write",
    Reason.UNROUTED: "no router call chose this alias: using=, a cursor, transaction control",
}

#: The reasons that read a primary although the strategy would have read a replica.
FALLBACKS = frozenset({Reason.NO_REPLICA, Reason.PRIMARY_DOWN, Reason.NOT_VISIBLE})


@dataclass(frozen=True)
class Decision:
    """Where one primary's reads (or writes) went, and why."""

    alias: str
    reason: Reason
    #: causal: how long it waited for the replica to replay the client's write.
    waited_ms: float | None = None
    #: causal: how far the replica was short of the client's write when it gave up.
    behind_bytes: int | None = None


def decided(primary: str, decision: Decision) -> str:
    """Note `decision` for `primary` in the request being served (unless it is noted
    already); its alias."""
    state = current_state()
    if state is not None:
        noted = state.cluster(primary).decisions
        # The request's read decision is one object, routed again and again: `is` first.
        if not noted or (noted[-1] is not decision and decision not in noted):
            noted.append(decision)
        state.routes[decision.alias] = decision.reason
    return decision.alias


def route(primary: str, alias: str, reason: Reason) -> str:
    """`decided` for a decision that measured nothing."""
    return decided(primary, Decision(alias, reason))


@dataclass(frozen=True)
class RoutedStatement:
    """One statement run inside `statements_recorded()`."""

    alias: str
    #: Its rule (see `record_statement`).
    reason: Reason
    sql: str
    milliseconds: float


# Statements no router call chooses an alias for: Django's atomic() and its savepoints.
TRANSACTION_CONTROL = re.compile(
    r"\s*(?:SAVEPOINT|RELEASE|ROLLBACK|BEGIN|START\s+TRANSACTION|COMMIT|END)\b", re.I
)

_recorded: ContextVar[list[RoutedStatement] | None] = ContextVar("routers_recorded", default=None)


@contextmanager
def statements_recorded() -> Iterator[list[RoutedStatement]]:
    """Keep every statement run inside, the routers' own probes excepted, in the list."""
    recorded: list[RoutedStatement] = []
    token = _recorded.set(recorded)
    try:
        yield recorded
    finally:
        _recorded.reset(token)


def recording() -> list[RoutedStatement] | None:
    """The list `statements_recorded()` keeps statements in, if one is open."""
    return _recorded.get()


def record_statement(
    recorded: list[RoutedStatement], alias: str, sql: str, milliseconds: float
) -> None:
    """Keep a statement with its rule: a write's is `write`; a read's, the rule of the
    router call that chose its alias since the alias's last statement, if one did."""
    if TRANSACTION_CONTROL.match(sql):
        recorded.append(RoutedStatement(alias, Reason.UNROUTED, sql, milliseconds))
        return
    state = current_state()
    routed = state.routes.pop(alias, None) if state is not None else None
    reason = Reason.WRITE if is_write(sql) else routed or Reason.UNROUTED
    recorded.append(RoutedStatement(alias, reason, sql, milliseconds))
