"""Right after the primary comes back, a write is read back at once.

Each process caches node health for ROUTERS_HEALTH_TTL seconds, so a "primary down"
cached just before a restart outlives it. A write that then succeeds on the primary
proves it is up: the client's next read must not be sent to a lagging replica.
"""

import pytest

from routers import conf, replicas

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]


def test_a_write_refreshes_a_stale_primary_down(client, settings, lagging_replicas, tag_name):
    settings.ROUTERS_HEALTH_TTL = 60
    replicas.mark_down(conf.primary())  # cached while the primary was restarting

    assert client.post(f"/create/{tag_name}").status_code == 200
    response = client.get(f"/tag/{tag_name}")

    assert response.status_code == 200
    assert response.content.decode() == conf.primary()
