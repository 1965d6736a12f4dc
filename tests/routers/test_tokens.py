"""routers.tokens: a client's writes as one signed string, and merged into a state."""

import time

import pytest
from django.core import signing

from routers import RequestState, conf
from routers.positions import Position
from routers.tokens import Write, absorb, dumps, loads, writes_known, writes_made

CLUSTER = 7714484792588521126
pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def test_a_token_reads_back_as_the_writes_it_was_made_of():
    writes = [
        Write("default", 1764224000.123, Position(0x16_B374D848, CLUSTER)),
        Write("analytics", 1764224001.5, None),
    ]

    assert loads(dumps(writes)) == writes


@pytest.mark.parametrize(
    "token",
    [
        "",
        "default=1764224000123",  # unsigned
        "garbage:with:colons",
        "x" * 10_000,
    ],
)
def test_a_token_that_is_not_ours_gives_no_writes(token):
    assert loads(token) == []


def test_a_tampered_token_gives_no_writes():
    token = dumps([Write("default", time.time(), Position(1, CLUSTER))])
    text, signature = token.split(":", 1)

    assert loads(f"{text.replace('default', 'other')}:{signature}") == []


def test_signed_entries_the_routers_cannot_use_are_dropped_one_by_one():
    signer = signing.TimestampSigner(salt="routers.tokens")
    text = "elsewhere=1,default=12@not-an-lsn@1,default=1764224000123@0/10@-5"

    assert loads(signer.sign(text)) == [Write("default", 1764224000.123, Position(16, -5))]


def test_a_token_older_than_the_position_cookie_gives_no_writes(settings):
    token = dumps([Write("default", time.time(), Position(1, CLUSTER))])
    later = time.time() + conf.LSN_COOKIE_SECONDS + 1

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: later)
        assert loads(token) == []


def test_a_young_write_pins_and_an_old_one_does_not(settings):
    settings.ROUTERS_STICKY_SECONDS = 10
    young, old = RequestState(), RequestState()

    absorb(young, [Write("default", time.time() - 5, None)])
    absorb(old, [Write("default", time.time() - 15, None)])

    assert young.cluster().pinned
    assert not old.cluster().pinned


def test_of_two_positions_in_one_cluster_the_later_stands():
    state = RequestState()
    absorb(state, [Write("default", 100.0, Position(500, CLUSTER))])
    absorb(state, [Write("default", 90.0, Position(400, CLUSTER))])

    cluster = state.cluster()
    assert (cluster.min_lsn, cluster.wrote_at, cluster.system_identifier) == (500, 100.0, CLUSTER)

    absorb(state, [Write("default", 110.0, Position(450, CLUSTER))])
    assert (cluster.min_lsn, cluster.wrote_at) == (500, 110.0)


def test_of_two_clusters_the_more_recent_write_stands():
    state = RequestState()
    absorb(state, [Write("default", 100.0, Position(500, CLUSTER))])
    absorb(state, [Write("default", 90.0, Position(9_000, CLUSTER + 1))])
    assert state.cluster().system_identifier == CLUSTER

    absorb(state, [Write("default", 120.0, Position(80, CLUSTER + 1))])
    cluster = state.cluster()
    assert (cluster.min_lsn, cluster.wrote_at) == (80, 120.0)
    assert cluster.system_identifier == CLUSTER + 1


def test_writes_made_ask_the_primary_for_its_position_now():
    state = RequestState()
    state.cluster().wrote = True
    before = time.time()

    (write,) = writes_made(state)

    assert write.primary == "default"
    assert write.at >= before
    assert write.position is not None
    assert write.position.lsn > 0


def test_writes_known_add_the_positions_a_state_was_handed():
    state = RequestState()
    state.cluster().wrote = True
    absorb(state, [Write("analytics", 100.0, Position(7, CLUSTER))])
    absorb(state, [Write("default", 100.0, Position(7, CLUSTER))])

    known = {write.primary: write for write in writes_known(state)}

    assert known["analytics"] == Write("analytics", 100.0, Position(7, CLUSTER))
    assert known["default"].position is not None
    assert known["default"].position.lsn > 7
