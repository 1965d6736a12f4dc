"""Lesson 10: through a real PgBouncer in transaction mode, what breaks and what fixes it."""

import pytest

from lab.lessons.transaction_pooling import (
    CHECK_THEN_READ,
    CLIENT_SIDE,
    ONE_TRANSACTION,
    SERVER_SIDE_CURSOR,
    check_then_read,
    iterate,
)

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def test_a_server_side_cursor_is_lost_and_client_side_fetching_is_not():
    lost, kept = iterate(server_side=True), iterate(server_side=False)

    assert (lost.correct, kept.correct) == (False, True)
    assert "does not exist" in lost.summary
    assert "read all 3 rows" in kept.summary


def test_a_check_vouches_for_the_read_only_in_the_same_transaction():
    apart, together = check_then_read(one_transaction=False), check_then_read(True)

    assert (apart.correct, together.correct) == (False, True)
    assert "another client took the first in between" in apart.summary
    assert "no other client can take it" in together.summary


def test_the_lab_runs_it(client):
    page = client.post("/lab/transaction-pooling/").content.decode()

    for label, verdict in (
        (SERVER_SIDE_CURSOR, "no"),
        (CLIENT_SIDE, "yes"),
        (CHECK_THEN_READ, "no"),
        (ONE_TRANSACTION, "yes"),
    ):
        assert f'data-strategy="{label}" data-correct="{verdict}"' in page
