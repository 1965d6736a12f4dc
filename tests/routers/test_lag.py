"""Lag in seconds, read from the primary's WAL with pg_walinspect, on the real stack."""

import pytest

from routers import forget, parse_lsn
from routers.lag import lag_cache, pending_commit_age
from tests.helpers import fetch, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def flush_position() -> int:
    return parse_lsn(fetch("default", "SELECT pg_current_wal_flush_lsn()::text"))


def ages_at_the_end() -> tuple[float | None, float | None] | None:
    """pending_commit_age of the flush position less one byte, then of the flush
    position, asked while no WAL was flushed (autovacuum, a checkpoint or another
    test's write would put a record there); None if some was."""
    flushed = flush_position()
    ages = (pending_commit_age("default", flushed - 1), pending_commit_age("default", flushed))
    return ages if flush_position() == flushed else None


def test_a_position_with_no_whole_record_after_it_leaves_walinspect_in_use():
    forget()

    # No record starts in the last byte: PostgreSQL answers XX000, "could not find a
    # valid record after ...", which says nothing about the grant.
    before_the_last_byte, at_the_end = wait_until(ages_at_the_end, what="no WAL flushed meanwhile")
    assert before_the_last_byte is None
    assert lag_cache.can_read_wal("default") is True
    assert at_the_end == 0
