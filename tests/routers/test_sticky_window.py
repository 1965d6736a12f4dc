"""Sticky's pin outlasts a replica's lag: a writer unpinned is never read stale.

The pin lasts ROUTERS_STICKY_SECONDS (here 2 s), and the replicas hold every commit
back 3 s. A router that keeps in rotation any replica within ROUTERS_MAX_LAG_SECONDS
(10 s) hands the writer, unpinned after 2 s, to a replica that still lacks the write
for another second. Sticky keeps only replicas within the pin's length of the primary.
"""

import time

import pytest

from routers import StickyRouter, conf
from tests.helpers import BrowserClient, fetch, replica_aliases, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]


@pytest.fixture
def client():
    """A client that lets cookies expire as browsers do: the pin ends after its Max-Age."""
    return BrowserClient()


class MaxLagStickyRouter(StickyRouter):
    """Sticky as it was: any replica within ROUTERS_MAX_LAG_SECONDS serves reads."""

    def max_lag_seconds(self) -> float:
        return conf.max_lag_seconds()


@pytest.fixture
def short_pin(settings, lagging_replicas):
    settings.ROUTERS_STICKY_SECONDS = 2
    settings.ROUTERS_MAX_LAG_SECONDS = 10.0


def reads_until_every_replica_has(client, name):
    """Read `name` from its write until every replica has replayed it: for each read,
    the seconds since the write, the status and the alias that served it."""
    client.post(f"/create/{name}")
    written = time.monotonic()
    reads = []

    def read_and_check():
        response = client.get(f"/tag/{name}")
        reads.append((time.monotonic() - written, response.status_code, response.content.decode()))
        sql = "SELECT count(*) FROM forum_tag WHERE name = %s"
        return all(fetch(alias, sql, (name,)) == 1 for alias in replica_aliases())

    wait_until(read_and_check, timeout=20, interval=0.05, what=f"every replica to have {name}")
    return reads


def test_a_router_trusting_the_max_lag_reads_the_writer_stale_after_the_pin(
    client, settings, short_pin, tag_name
):
    settings.DATABASE_ROUTERS = [f"{__name__}.MaxLagStickyRouter"]

    reads = reads_until_every_replica_has(client, tag_name)

    stale = [seconds for seconds, status, _ in reads if status == 404]
    assert stale, f"no stale read in {reads}"
    assert min(stale) >= 1  # pinned until then (the client drops the pin 2 s after the response)


def test_sticky_reads_the_writer_fresh_after_the_pin_until_a_replica_has_the_write(
    client, settings, short_pin, tag_name
):
    settings.DATABASE_ROUTERS = ["routers.StickyRouter"]

    reads = reads_until_every_replica_has(client, tag_name)

    assert [read for read in reads if read[1] != 200] == []
    # The window the pin no longer covers (it has expired 2 s after the write, at the
    # latest) was read, from the primary.
    assert any(seconds > 2 and alias == "default" for seconds, _, alias in reads), reads
