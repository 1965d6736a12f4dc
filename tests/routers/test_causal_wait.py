"""Causal waits for a replica only when it can plausibly replay the client's write in time.

A replica seconds behind cannot catch up within ROUTERS_CAUSAL_WAIT_MS: polling it only
adds load on the replica and latency before the read falls back to the primary.
"""

import pytest

from routers import conf

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]


@pytest.fixture
def probes(stub):
    """Every position probe the routers run, by alias (the real probe still runs)."""
    seen: list[str] = []

    def counting_probe(alias):
        seen.append(alias)
        return real_probe(alias)

    real_probe = stub("probe", counting_probe)
    return seen


def test_it_does_not_poll_a_replica_seconds_behind(client, lagging_replicas, tag_name, probes):
    client.post(f"/create/{tag_name}")
    client.get("/tag/warm-up")  # the replicas' lag is measured once (cached for the TTL)
    probes.clear()

    response = client.get(f"/tag/{tag_name}")

    assert response.status_code == 200
    assert response.content.decode() == conf.primary()
    # At most the one look that shows it behind; polling for 50 ms would be about five.
    assert len([alias for alias in probes if alias != conf.primary()]) <= 1


def test_it_waits_for_a_replica_about_to_replay(client, stack, tag_name, settings):
    stack.set_lag("300ms")  # replayed well within the wait: worth waiting for
    settings.ROUTERS_CAUSAL_WAIT_MS = 1000
    try:
        client.post(f"/create/{tag_name}")

        response = client.get(f"/tag/{tag_name}")
    finally:
        stack.set_lag("1s")

    assert response.status_code == 200
    assert response.content.decode().startswith("replica")
