"""Lag in seconds, read from the primary's WAL with pg_walinspect, on the real stack."""

import pytest

from routers import forget, parse_lsn
from routers.lag import lag_cache, pending_commit_age
from tests.helpers import fetch

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def test_a_position_with_no_whole_record_after_it_leaves_walinspect_in_use():
    forget()
    flushed = parse_lsn(fetch("default", "SELECT pg_current_wal_flush_lsn()::text"))

    # No record starts in the last byte: PostgreSQL answers XX000, "could not find a
    # valid record after ...", which says nothing about the grant.
    assert pending_commit_age("default", flushed - 1) is None
    assert lag_cache.can_read_wal("default") is True
    assert pending_commit_age("default", flushed) == 0
