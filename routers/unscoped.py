"""Read-your-writes for code outside any request scope: a script, a shell, a command.

Such code has no request to remember its writes in, so it keeps them in its context
(`contextvars`: one per thread and per asyncio task; `context.unscoped_state`). Once a
write has committed, the next read turns it into the primary's position, as a writing
request's response does for its client, and from then on the code is routed like a
client carrying that position: causal reads a replica that has replayed it, else the
primary; sticky reads the primary while the write is younger than
ROUTERS_STICKY_SECONDS. Each read chooses its node afresh, as outside a request it
always has: there is no page whose reads must agree, and a long-running process is no
longer tied to the primary than a browser would be.

A management command starts with no writes remembered (`routers.apps` wraps
`BaseCommand.execute`); `request_scope()` inside such code routes its block as one
request (one replica, its reads after its own writes on the primary) and starts from,
and hands back, the writes remembered here.
"""

import functools
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import connections

from . import conf
from .context import ClusterState, RequestState, unit_of_work, unscoped_state
from .positions import Position, primary_position
from .tokens import Write, absorb


def settle(state: RequestState, primary: str) -> None:
    """Turn a committed write of `state` on `primary` into the primary's position.

    Inside a transaction on `primary` the write has not committed: its position is not
    known yet, and `wrote` stays set (reads go to the primary meanwhile).
    """
    cluster = state.cluster(primary)
    connection = connections[primary]
    if not cluster.wrote or connection.in_atomic_block:
        return
    if connection.connection is not None and not connection.get_autocommit():
        return  # set_autocommit(False): a transaction open outside atomic()
    write = Write(primary, time.time(), primary_position(primary))
    absorb(state, [write])
    cluster.wrote = False
    # Without a position (the primary just went away) the write's time still pins.
    cluster.wrote_at = write.at


def state_for_read(primary: str) -> RequestState:
    """A state for one read of `primary`'s models, outside any request scope: fresh,
    holding what the running code's writes on it leave."""
    remembered = unscoped_state()
    settle(remembered, primary)
    cluster = remembered.cluster(primary)
    state = RequestState()
    state.clusters[primary] = ClusterState(
        pinned=cluster.wrote_at is not None
        and time.time() - cluster.wrote_at < conf.sticky_seconds(),
        min_lsn=cluster.min_lsn,
        wrote_at=cluster.wrote_at,
        system_identifier=cluster.system_identifier,
        wrote=cluster.wrote,
    )
    return state


def remembered_writes() -> list[Write]:
    """The running code's writes, outside any request scope, each primary's settled."""
    remembered = unscoped_state()
    writes = []
    for primary, cluster in list(remembered.clusters.items()):
        settle(remembered, primary)
        if cluster.wrote_at is None:
            continue
        position = None
        if cluster.min_lsn is not None and cluster.system_identifier is not None:
            position = Position(cluster.min_lsn, cluster.system_identifier)
        writes.append(Write(primary, cluster.wrote_at, position))
    return writes


def give_each_command_its_own_writes() -> None:
    """Wrap `BaseCommand.execute`, so that each management command run starts with no
    writes remembered and forgets its own when it returns: a command that
    `call_command()` runs, or one of a scheduler that runs many in one process, is not
    routed by another's writes. Once per process (AppConfig.ready)."""
    execute = BaseCommand.execute
    if getattr(execute, "routers_own_writes", False):
        return

    @functools.wraps(execute)
    def run(self: BaseCommand, *args: Any, **options: Any) -> Any:
        with unit_of_work():
            return execute(self, *args, **options)

    run.routers_own_writes = True  # type: ignore[attr-defined]
    BaseCommand.execute = run  # type: ignore[method-assign]
