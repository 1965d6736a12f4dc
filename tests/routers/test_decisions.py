"""Router decisions, without a database: health and LSN probes are stubbed."""

import pytest

from forum.models import Tag
from routers import (
    CausalRouter,
    ClusterState,
    Decision,
    NaiveRouter,
    NodeHealth,
    NotVisibleYet,
    PrimaryRouter,
    Reason,
    RequestState,
    SelectableRouter,
    StickyRouter,
    request_scope,
    use_primary,
)
from routers.strategies import Fallback, while_primary_down


@pytest.fixture
def healthy(stub):
    """Both replicas up and caught up; the primary up, past every position used here."""
    usable = ["replica", "replica_2"]
    stub("usable_replicas", lambda primary=None, max_lag_seconds=None: list(usable))
    stub("connects", lambda alias: True)
    stub("health", lambda alias: NodeHealth(alias, True, 1000, 0.0))
    return usable


@pytest.fixture
def replay(stub):
    """Control what the causal check sees: {alias: replayed?}."""
    answers = {"replica": True, "replica_2": True}
    stub("replayed", lambda alias, lsn, wait: answers[alias])
    return answers


def reads(router, count=4, model=Tag):
    return [router.db_for_read(model) for _ in range(count)]


def test_it_sends_every_read_to_the_primary_with_the_primary_router():
    assert set(reads(PrimaryRouter())) == {"default"}


def test_it_spreads_naive_reads_over_replicas_query_by_query():
    chosen = reads(NaiveRouter())

    assert set(chosen) == {"replica", "replica_2"}


def test_it_keeps_one_replica_for_a_whole_request(healthy):
    with request_scope():
        chosen = reads(StickyRouter(), count=6)

    assert len(set(chosen)) == 1
    assert chosen[0] in healthy


def test_it_moves_between_replicas_from_one_request_to_the_next(healthy):
    chosen = set()
    for _ in range(4):
        with request_scope():
            chosen.add(StickyRouter().db_for_read(Tag))

    assert chosen == {"replica", "replica_2"}


def test_it_reads_a_pinned_client_from_the_primary(healthy):
    with request_scope(RequestState(clusters={"default": ClusterState(pinned=True)})):
        assert set(reads(StickyRouter())) == {"default"}


def test_it_reads_from_the_primary_once_the_request_wrote(healthy):
    with request_scope() as state:
        before = StickyRouter().db_for_read(Tag)
        state.cluster().wrote = True
        after = StickyRouter().db_for_read(Tag)

    assert before != "default"
    assert after == "default"


def test_it_falls_back_to_the_primary_without_a_usable_replica(healthy):
    healthy.clear()
    with request_scope():
        assert StickyRouter().db_for_read(Tag) == "default"
    with request_scope():
        assert CausalRouter().db_for_read(Tag) == "default"


def test_it_skips_a_replica_that_refuses_connections(healthy, stub):
    stub("connects", lambda alias: alias != "replica")

    for _ in range(3):
        with request_scope():
            assert StickyRouter().db_for_read(Tag) == "replica_2"


def test_it_reads_a_replica_when_the_client_has_no_write_to_wait_for(healthy, replay):
    replay["replica"] = replay["replica_2"] = False
    with request_scope():
        assert CausalRouter().db_for_read(Tag) in healthy


def test_it_reads_a_replica_that_has_replayed_the_clients_write(healthy, replay):
    with request_scope(RequestState(clusters={"default": ClusterState(min_lsn=100)})):
        assert CausalRouter().db_for_read(Tag) in healthy


def test_it_reads_the_primary_while_the_replica_has_not_replayed_the_write(healthy, replay):
    replay["replica"] = replay["replica_2"] = False
    with request_scope(RequestState(clusters={"default": ClusterState(min_lsn=100)})):
        assert set(reads(CausalRouter())) == {"default"}


def test_it_reads_the_replica_that_has_replayed_while_another_is_behind(healthy, replay):
    replay["replica_2"] = False
    chosen = set()
    for _ in range(4):
        with request_scope(RequestState(clusters={"default": ClusterState(min_lsn=100)})):
            chosen.add(CausalRouter().db_for_read(Tag))

    assert chosen == {"replica", "default"}


def test_it_reads_a_writing_request_from_the_primary(healthy):
    with request_scope(RequestState(intends_to_write=True)):
        assert set(reads(CausalRouter())) == {"default"}
        assert set(reads(StickyRouter())) == {"default"}
        assert set(reads(NaiveRouter())) <= {"replica", "replica_2"}


def test_it_forces_the_primary_inside_use_primary(healthy):
    with request_scope(), use_primary():
        assert set(reads(CausalRouter())) == {"default"}


def test_it_restores_use_primary_level_by_level(healthy):
    router = StickyRouter()
    with request_scope():
        with use_primary():
            with use_primary():
                assert router.db_for_read(Tag) == "default"
            # Leaving the inner block must not end the outer one.
            assert router.db_for_read(Tag) == "default"
        assert router.db_for_read(Tag) != "default"


def test_it_works_as_a_decorator_too(healthy):
    @use_primary()
    def read():
        return StickyRouter().db_for_read(Tag)

    with request_scope():
        assert read() == "default"
        assert read() == "default"
        assert StickyRouter().db_for_read(Tag) != "default"


def test_it_follows_the_strategy_chosen_for_the_request(healthy, settings):
    settings.ROUTERS_STRATEGY = "sticky"
    router = SelectableRouter()

    with request_scope(RequestState(strategy="primary")):
        assert router.db_for_read(Tag) == "default"
    with request_scope(RequestState(clusters={"default": ClusterState(pinned=True)})):
        assert router.strategy == "sticky"
        assert router.db_for_read(Tag) == "default"
    with request_scope():
        assert router.db_for_read(Tag) != "default"


def test_it_sends_every_write_to_the_primary():
    for router in (PrimaryRouter(), NaiveRouter(), StickyRouter(), CausalRouter()):
        assert router.db_for_write(Tag) == "default"


def test_it_migrates_only_the_primary():
    router = CausalRouter()

    assert router.allow_migrate("default", "forum") is None
    assert router.allow_migrate("replica", "forum") is False
    assert router.allow_migrate("replica_2", "forum") is False


def test_it_allows_relations_across_the_primary_and_its_replicas():
    from django.contrib.auth.models import Group, User

    group, user = Group(), User()
    group._state.db, user._state.db = "default", "replica_2"
    assert CausalRouter().allow_relation(group, user) is True
    user._state.db = "elsewhere"
    assert CausalRouter().allow_relation(group, user) is None


def test_it_never_moves_a_request_to_a_second_replica_when_the_primary_is_down(
    healthy, replay, stub
):
    down = {"default"}
    stub("health", lambda a: NodeHealth(a, a not in down, 1000, 0.0))
    # The request's replica lacks the client's write; replica_2 has it, but one page
    # must not mix two replicas.
    replay["replica"] = False
    state = RequestState(
        clusters={
            "default": ClusterState(min_lsn=100, read_decision=Decision("replica", Reason.REPLICA))
        }
    )
    with request_scope(state), use_primary(), pytest.raises(NotVisibleYet):
        CausalRouter().db_for_read(Tag)


def test_it_lets_a_writing_request_validate_on_a_replica_when_the_primary_is_down(
    healthy, replay, stub
):
    stub("health", lambda a: NodeHealth(a, a != "default", 1000, 0.0))
    replay["replica"] = replay["replica_2"] = False
    with request_scope(
        RequestState(clusters={"default": ClusterState(min_lsn=100)}, intends_to_write=True)
    ):
        # The write that follows meets the read-only page, which keeps what was typed.
        assert CausalRouter().db_for_read(Tag) in healthy


@pytest.mark.parametrize(
    ("found", "needs_write", "replicas_answer", "decided"),
    [
        ("replica", True, True, Fallback("replica")),
        ("replica", False, False, Fallback("replica")),
        (None, True, True, Fallback("default", not_visible=True)),
        (None, True, False, Fallback("default")),  # no node at all: the primary's error
        (None, False, True, Fallback("default")),
    ],
)
def test_it_decides_where_reads_go_while_the_primary_is_down(
    found, needs_write, replicas_answer, decided
):
    assert (
        while_primary_down(
            "default", found=found, needs_write=needs_write, replicas_answer=replicas_answer
        )
        == decided
    )
