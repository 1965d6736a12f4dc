"""This thread's connection to an alias, as the probes use it: one row of a query,
outside the request's transaction, closed when it broke, kept on one server behind a
pooler; and whether this thread may use it at all (not on an event loop)."""

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from django.db import DatabaseError, connections
from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus

from . import conf
from .context import current_state, probing


def database_io_refused() -> bool:
    """True where Django refuses database I/O (SynchronousOnlyOperation): an event loop
    runs in this thread, and DJANGO_ALLOW_ASYNC_UNSAFE is not set. The same test as
    Django's `async_unsafe`.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return not os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")


def fetch_row(alias: str, sql: str, params: Any = None) -> tuple[Any, ...] | None:
    """One row of `sql` on this thread's connection to `alias`; None if it is unreachable.

    Marked as probing, so it does not count as one of the request's statements.
    """
    try:
        with probing(), connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            row: tuple[Any, ...] = cursor.fetchone()
            return row
    except DatabaseError:
        close_connection(alias)
        return None


def close_connection(alias: str) -> None:
    """Close this thread's connection to `alias`: the next use reconnects instead of
    reusing a broken socket."""
    with suppress(DatabaseError):
        connections[alias].close()


def transaction_begun(alias: str) -> bool:
    """Has a statement begun the transaction of an atomic block open on `alias`? Until
    then `outside_transaction` runs statements in autocommit, where a failed one dooms
    nothing."""
    connection = connections[alias]
    if not connection.in_atomic_block:
        return False
    raw = connection.connection
    if raw is None:
        return True  # closed inside the block: nothing may run on it
    return not raw.autocommit and raw.info.transaction_status != TransactionStatus.IDLE


@contextmanager
def outside_transaction(alias: str) -> Iterator[bool]:
    """Run probes of `alias` where they cannot fix the snapshot of the request's reads.

    Yields False when no such place exists. A transaction under REPEATABLE READ (say
    ATOMIC_REQUESTS on a replica alias) takes its snapshot at its first statement: a
    replay check run as that statement could pass while every read after it still
    saw the older snapshot. So, inside an atomic block that has not run anything
    yet, the probes run in autocommit on the same connection and the transaction
    begins afterwards; once it has begun, only READ COMMITTED (a fresh snapshot per
    statement) lets a check inside it hold for the reads that follow. Behind a pooler in
    transaction mode (ROUTERS_POOLED_REPLICAS), a probe in autocommit is a transaction
    of its own, which may reach another server than the block's: there the probes run
    inside the block, under READ COMMITTED only. An isolation level left unset is taken
    for the server's default, READ COMMITTED; a server or role whose
    default_transaction_isolation says otherwise should set the level in the alias's
    OPTIONS.
    """
    connection = connections[alias]
    raw = connection.connection
    if not connection.in_atomic_block or raw is None or raw.autocommit:
        yield True
        return
    if raw.info.transaction_status != TransactionStatus.IDLE or alias in conf.pooled_replicas():
        yield raw.isolation_level in (None, IsolationLevel.READ_COMMITTED)
        return
    raw.autocommit = True
    try:
        yield True
    finally:
        if not raw.closed and raw.info.transaction_status == TransactionStatus.IDLE:
            raw.autocommit = False


def hold_server(alias: str) -> None:
    """Behind a pooler in transaction mode, keep the request on one server.

    Such a pooler gives each transaction whichever server connection is free, so a
    replay check, and each read after it, could each run on another standby. In a
    request scope, the connection to a pooled alias leaves autocommit: its checks and
    reads share one transaction, so one server, until the scope closes
    (`context.release_held`). Only reads go to a replica, and PostgreSQL's default
    READ COMMITTED gives each statement a fresh snapshot, so nothing is lost by it. The
    transaction keeps the locks of what it read, though: a standby replaying an
    exclusive lock on such a table stops all replay until the request ends, and past
    max_standby_streaming_delay it ends the session (FATAL, SQLSTATE 40001).
    """
    state = current_state()
    connection = connections[alias]
    if state is None or alias not in conf.pooled_replicas() or connection.in_atomic_block:
        return
    if connection.get_autocommit():
        connection.set_autocommit(False)
        state.held.add(alias)
