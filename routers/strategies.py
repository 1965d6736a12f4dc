"""The routing strategies, one router class each, usable alone in DATABASE_ROUTERS.

| router           | reads go to                                    | after a write            |
|------------------|------------------------------------------------|--------------------------|
| PrimaryRouter    | the primary                                    | -                        |
| NaiveRouter      | a replica, picked per query                    | nothing (the lag bug)    |
| StickyRouter     | one replica per request                        | primary for N seconds    |
| CausalRouter     | one replica per request, once it has replayed  | primary until a replica  |
|                  | the client's last write                        | has caught up            |

Every router but NaiveRouter also applies the safeguards in `SafeRouter.db_for_read`.
Writes always go to the primary. With several primaries (ROUTERS_CLUSTERS), each model
goes to its app's primary (ROUTERS_APP_PRIMARIES) and reads to that primary's replicas,
and every decision above is made per primary.
"""

import itertools
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.models import Model

from . import conf
from .atomic_requests import in_clean_request_block
from .connection import database_io_refused
from .context import ClusterState, RequestState, current_state, primary_forced
from .decisions import Decision, Reason, decided, route
from .lag import lag_seconds
from .lsn import format_lsn
from .positions import from_another_cluster
from .probes import connects, health, health_cache, probe
from .querysets import generic_models
from .replay import replayed, replica_with
from .rotation import usable_replicas
from .timelines import settle_positions
from .unscoped import state_for_read


class NotVisibleYet(Exception):
    """The primary is down and no replica has replayed the client's last write yet.

    Raised while routing a read; RoutingMiddleware answers it with a page that says
    the write was saved and will show shortly, instead of a 404 or a stale page.
    """

    def __init__(self, primary: str, lsn: int) -> None:
        super().__init__(f"no replica of {primary!r} has replayed {format_lsn(lsn)} yet")
        self.primary = primary
        self.lsn = lsn


_turn = itertools.count()
_turn_lock = threading.Lock()


def _next_turn() -> int:
    with _turn_lock:
        return next(_turn)


def model_primary(model: type[Model] | None) -> str:
    """The primary that holds `model`'s table (None: the default primary)."""
    return conf.primary_for(model._meta.app_label if model is not None else None)


class BaseRouter:
    """Writes, migrations and relations, the same for every strategy."""

    strategy = ""

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        primary = model_primary(model)
        state = current_state()
        if state is not None:
            state.cluster(primary).writes_routed = True
        return primary

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        # The replicas hold their primary's rows, so objects from one cluster may relate.
        cluster = conf.primary_of(obj1._state.db or "")
        if cluster is not None and cluster == conf.primary_of(obj2._state.db or ""):
            return True
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        primary = conf.primary_of(db)
        if primary is None:
            return None  # an alias the routers do not manage
        # A standby is read-only: its schema arrives through replication. And each
        # app's tables live on its own primary only. Otherwise no opinion (None), so a
        # router listed after this one still has its say.
        if db != primary or conf.primary_for(app_label) != db:
            return False
        return None

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        raise NotImplementedError


class PrimaryRouter(BaseRouter):
    """Every read on the primary: the baseline, as if there were no replica."""

    strategy = "primary"

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        primary = model_primary(model)
        return route(primary, primary, Reason.STRATEGY)


class NaiveRouter(BaseRouter):
    """Every read on a replica, picked afresh per query. Kept on purpose: it is the bug.

    No safeguard: a redirect after a write reads a replica that has not replayed it
    yet (the 404), reads inside atomic() miss their own writes, a dead replica fails
    the request, and two queries of one page may hit two replicas at different lag.
    """

    strategy = "naive"

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        primary = model_primary(model)
        aliases = conf.replicas(primary)
        if not aliases:
            return route(primary, primary, Reason.NO_REPLICA)
        return route(primary, aliases[_next_turn() % len(aliases)], Reason.REPLICA)


class SafeRouter(BaseRouter):
    """The safeguards every strategy but naive applies before its own choice.

    Reads go to the model's primary inside `use_primary()`, inside an open atomic()
    block on that primary, after this request wrote on it, in a request whose method
    writes (its reads are mostly validation guarding the write: a uniqueness check
    read from a lagging replica passes, then the insert fails), and for
    `generic_models()`. Otherwise `choose_read_alias` decides, once per request and
    primary. The block ATOMIC_REQUESTS opens around the view counts only once the
    request wrote or locked rows in it (`routers.atomic_requests`).

    On an event loop (an async view's `aiterator()` asks there) no query may run, and
    every check that lets a replica serve must run on the connection the reads will
    use: the one of the thread Django runs the request's queries in (under ASGI, each
    thread has connections of its own). A first read routed there goes to the primary,
    and so does the rest of the request; a choice already made stands.
    """

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        primary = model_primary(model)
        state = current_state()
        # in_atomic_block is a plain attribute: transaction.get_autocommit() would
        # connect to the primary in a request that reads only replicas. (atomic() sets
        # it; set_autocommit(False) does not.) No fallback here: the transaction lives
        # on the primary, and so must its reads (ATOMIC_REQUESTS's: once it wrote or locked).
        if connections[primary].in_atomic_block and not in_clean_request_block(primary, state):
            return route(primary, primary, Reason.ATOMIC)
        if state is None:
            # Outside any request scope: this one read, with the running code's own
            # writes (`routers.unscoped`).
            state = state_for_read(primary)
        cluster = state.cluster(primary)
        to_primary = (
            Reason.FORCED
            if primary_forced()
            else Reason.WROTE
            if cluster.wrote
            else Reason.EVENT_LOOP
            if cluster.reads_on_primary
            else Reason.WRITING_METHOD
            if state.intends_to_write
            else Reason.GENERIC_MODEL
            if model in generic_models()
            else None
        )
        if to_primary is not None:
            return decided(primary, self._primary_or_fallback(primary, state, to_primary))
        if cluster.read_alias is None and database_io_refused():
            # No lock: a worker thread of this request may hold it while it probes. If
            # it chooses a replica meanwhile, the read it routes goes there, and every
            # later one to the primary, which is ahead of it.
            cluster.reads_on_primary = True
            return route(primary, primary, Reason.EVENT_LOOP)
        if cluster.read_decision is None:  # the lock only for the first read, not every read
            with state.choosing:
                if cluster.read_decision is None:
                    settle_positions(state)  # a position a failover lost routes nothing
                    cluster.read_decision = self.choose_read_alias(primary, state)
        return decided(primary, cluster.read_decision)

    def choose_read_alias(self, primary: str, state: RequestState) -> Decision:
        """Where this request's ordinary reads of `primary`'s models go, and why; called
        once per request and primary."""
        raise NotImplementedError

    def serves(self, replica: str, primary: str, cluster: ClusterState) -> bool:
        """May `replica` serve the reads of a client with `cluster`'s writes (its pin, its
        position)?"""
        raise NotImplementedError

    def writes_learned_late(self, primary: str, state: RequestState) -> None:
        """The client's writes on `primary` were absorbed into `state` after its reads
        there began: a member's, known only once authenticated (routers.members).

        The replica already chosen keeps the request if it may serve those writes too.
        Otherwise the later reads move to the primary, which is ahead of it (a request's
        reads only move forward); while the primary is down, they stay on that replica
        if it has the writes, and get NotVisibleYet if not.
        """
        cluster = state.cluster(primary)
        with state.choosing:
            chosen = cluster.read_alias
            if chosen is None or chosen == primary or self.serves(chosen, primary, cluster):
                return
            reason = Reason.PINNED if cluster.pinned else Reason.NOT_REPLAYED
            cluster.read_decision = self._primary_or_fallback(primary, state, reason)

    def max_lag_seconds(self) -> float:
        """How far behind, in seconds, a replica may be and still serve reads."""
        return conf.max_lag_seconds()

    def pick_replica(self, primary: str) -> str | None:
        """A healthy replica of `primary` that is not too far behind, round-robin; None
        if none is."""
        candidates = usable_replicas(primary, max_lag_seconds=self.max_lag_seconds())
        start = _next_turn()
        for offset in range(len(candidates)):
            alias = candidates[(start + offset) % len(candidates)]
            if connects(alias):
                return alias
        return None

    def _primary_or_fallback(self, primary: str, state: RequestState, reason: Reason) -> Decision:
        """`primary`, for `reason`; while it is down, one of its replicas, so that reads
        go on.

        Stale beats an error page, but not for the client's own writes: a client with
        a write position (every write sets it) is served by a replica only once that
        replica has replayed it, or gets NotVisibleYet. Within a request, the fallback
        is the request's replica, so a page never mixes two.
        """
        if database_io_refused():
            # No node can be checked here. The reads run in a thread, which asks again
            # there and falls back if the primary is down.
            return Decision(primary, reason)
        # The cached health spares a dead primary a connection attempt per request;
        # connects() catches one that died since it was cached. A write of this request
        # that succeeded proves it up, whatever was cached before: its reads need it.
        cluster = state.cluster(primary)
        if (cluster.wrote or health(primary).up) and connects(primary):
            return Decision(primary, reason)
        with state.choosing:
            # The client's own write must be there, unless this request is itself a
            # write (its reads are validation; the write will meet the read-only page).
            lsn = None if state.intends_to_write else cluster.min_lsn
            if lsn is not None and from_another_cluster(primary, cluster):
                # No replica will ever replay it: there is nothing to wait for.
                cluster.min_lsn = lsn = None
            chosen = cluster.read_alias if cluster.read_alias != primary else None
            found = self._replica_while_primary_down(primary, chosen, lsn)
            fallback = while_primary_down(
                primary,
                found=found,
                needs_write=lsn is not None,
                # Asked only when it matters: it may probe every replica.
                replicas_answer=found is None
                and lsn is not None
                and bool(chosen or usable_replicas(primary)),
            )
            if fallback.not_visible and lsn is not None:
                state.not_visible = True  # for an error page that swallows the exception
                route(primary, primary, Reason.NOT_VISIBLE)
                raise NotVisibleYet(primary, lsn)
            decision = Decision(fallback.alias, Reason.PRIMARY_DOWN)
            if fallback.alias != primary and cluster.read_alias in (None, primary):
                cluster.read_decision = decision
        return decision

    def _replica_while_primary_down(
        self, primary: str, chosen: str | None, lsn: int | None
    ) -> str | None:
        """A replica fit to serve this request's reads while `primary` is down: the one
        the request already reads (never a second one: its reads only move forward),
        else any; one that has replayed `lsn` when the client has a write position."""
        wait = conf.causal_wait_seconds()
        if chosen is not None:
            return chosen if lsn is None or replayed(chosen, lsn, wait) else None
        if lsn is not None:
            return replica_with(primary, lsn, wait)
        return self.pick_replica(primary)


@dataclass(frozen=True)
class Fallback:
    """Where reads of a primary that is down go."""

    #: A replica; the primary itself when no node can serve (its error is the truth).
    alias: str
    #: The client's own write is on no replica yet, though replicas answer.
    not_visible: bool = False


def while_primary_down(
    primary: str, *, found: str | None, needs_write: bool, replicas_answer: bool
) -> Fallback:
    """Decide where reads go while `primary` is down: the replica `found`; else, for a
    client whose write it must show while replicas answer, not visible yet; else the
    primary."""
    if found is not None:
        return Fallback(found)
    if needs_write and replicas_answer:
        return Fallback(primary, not_visible=True)
    return Fallback(primary)


class StickyRouter(SafeRouter):
    """Reads on a replica, except for a client that wrote in the last N seconds.

    The middleware pins a client to a primary with a signed cookie after a request
    that wrote on it (ROUTERS_STICKY_SECONDS). Simple and robust; the cost is that a
    writer's reads all go to the primary for those seconds, caught up or not.
    """

    strategy = "sticky"

    def max_lag_seconds(self) -> float:
        """No further behind than the pin lasts, less the age of a lag measurement.

        A client unpinned after N seconds wrote more than N seconds ago: a replica that
        lacks the write is more than N seconds behind. The browser counts the N seconds
        (the pin's Max-Age) from the write's response, on its own clock, so this holds
        whatever the app servers' clocks say. A client that keeps cookies past their
        Max-Age is unpinned by the servers' bound instead, N seconds plus
        `cookies.PIN_CLOCK_SKEW_SECONDS` after the signer's time stamp: later still,
        unless the signer's clock was behind by more than that. Lag is measured at most
        ROUTERS_HEALTH_TTL ago and grows by at most that much since, so a replica
        measured within N minus the TTL has the write. Otherwise ROUTERS_MAX_LAG_SECONDS
        longer than the pin would let the writer's next page read stale data.
        """
        return min(conf.max_lag_seconds(), conf.sticky_seconds() - conf.health_ttl())

    def choose_read_alias(self, primary: str, state: RequestState) -> Decision:
        if state.cluster(primary).pinned:
            return self._primary_or_fallback(primary, state, Reason.PINNED)
        replica = self.pick_replica(primary)
        if replica is None:
            return self._primary_or_fallback(primary, state, Reason.NO_REPLICA)
        return Decision(replica, Reason.REPLICA)

    def serves(self, replica: str, primary: str, cluster: ClusterState) -> bool:
        return not cluster.pinned


class CausalRouter(SafeRouter):
    """Reads on a replica that has replayed the client's last write (read-your-writes).

    The middleware stores the primary's WAL position after a client's write in a
    signed cookie. On the client's next request the chosen replica serves the reads
    only if `pg_last_wal_replay_lsn()` on that very connection has reached it,
    waiting up to ROUTERS_CAUSAL_WAIT_MS; otherwise the primary does.
    """

    strategy = "causal"

    def choose_read_alias(self, primary: str, state: RequestState) -> Decision:
        replica = self.pick_replica(primary)
        if replica is None:
            return self._primary_or_fallback(primary, state, Reason.NO_REPLICA)
        cluster = state.cluster(primary)
        started = time.monotonic()
        if self.serves(replica, primary, cluster):
            if cluster.min_lsn is None:
                return Decision(replica, Reason.REPLICA)
            return Decision(replica, Reason.REPLAYED, waited_ms=_ms_since(started))
        if cluster.min_lsn is None:  # a pin without a position (see serves)
            return self._primary_or_fallback(primary, state, Reason.PINNED)
        waited = _ms_since(started)
        replayed_there = health_cache.latest(replica)
        fallback = self._primary_or_fallback(primary, state, Reason.NOT_REPLAYED)
        if fallback.reason is not Reason.NOT_REPLAYED:
            return fallback
        behind = None
        if replayed_there is not None and replayed_there.lsn is not None:
            behind = max(cluster.min_lsn - replayed_there.lsn, 0)
        return Decision(fallback.alias, Reason.NOT_REPLAYED, waited, behind)

    def serves(self, replica: str, primary: str, cluster: ClusterState) -> bool:
        if from_another_cluster(primary, cluster):
            # It means nothing here, nor the pin its write set.
            cluster.min_lsn = None
            cluster.pinned = False
        if cluster.min_lsn is None:
            # A write whose position could not be read (its primary went away before the
            # response was made) leaves only the pin, sticky's: keep to it.
            return not cluster.pinned
        return replayed(replica, cluster.min_lsn, self.wait_budget(replica, cluster))

    @staticmethod
    def wait_budget(replica: str, cluster: ClusterState) -> float:
        """How long to wait for `replica` to replay the client's write: up to
        ROUTERS_CAUSAL_WAIT_MS, or not at all when it cannot plausibly get there in time.

        The client's write, made `age` seconds ago, is held back by the replica's apply
        delay until it is that old; and behind a backlog whose oldest commit is
        `lag_seconds` old, it waits about until it is that old too. Polling a replica
        that needs a second more only delays the fall back to the primary. Without the
        write's time (an older cookie), wait.
        """
        wait = conf.causal_wait_seconds()
        if cluster.wrote_at is None:
            return wait
        age = time.time() - cluster.wrote_at
        if replica in conf.pooled_replicas():
            # The alias's cached figures may be another server's: ask the one this
            # request holds (the first statement of its transaction, see hold_server).
            needed = probe(replica).apply_delay - age
            return wait if needed <= wait else 0.0
        needed = health(replica).apply_delay - age
        lag = lag_seconds(replica)
        if lag is not None:
            needed = max(needed, lag - age)
        return wait if needed <= wait else 0.0


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


_BY_STRATEGY: dict[str, BaseRouter] = {
    each.strategy: each for each in (PrimaryRouter(), NaiveRouter(), StickyRouter(), CausalRouter())
}


def strategy_router(name: str) -> BaseRouter:
    """The router of the strategy `name` (one of `conf.STRATEGIES`)."""
    return _BY_STRATEGY[name]


class SelectableRouter(BaseRouter):
    """Delegates to the strategy chosen for this request, or ROUTERS_STRATEGY.

    For demos and gradual roll-outs: `RequestState.strategy` (set per request, e.g.
    from a cookie) picks one of primary, naive, sticky, causal.
    """

    @staticmethod
    def active() -> BaseRouter:
        """The router serving the current request."""
        state = current_state()
        name = (state.strategy if state is not None else None) or conf.strategy()
        return _BY_STRATEGY[name]

    @property
    def strategy(self) -> str:  # type: ignore[override]
        return self.active().strategy

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return self.active().db_for_read(model, **hints)


def strategy_serving(state: RequestState) -> str | None:
    """The strategy that routes (or routed) the request of `state`, if a routers-package
    router is installed; asked after the request's scope has closed too."""
    for candidate in router.routers:
        if isinstance(candidate, SelectableRouter):
            return state.strategy or conf.strategy()
        if isinstance(candidate, BaseRouter):
            return candidate.strategy
    return None


def active_router() -> BaseRouter | None:
    """The routers-package router serving this request, if one is installed."""
    for candidate in router.routers:
        if isinstance(candidate, SelectableRouter):
            return candidate.active()
        if isinstance(candidate, BaseRouter):
            return candidate
    return None
