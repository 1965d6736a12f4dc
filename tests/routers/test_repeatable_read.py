"""Causal reads under ATOMIC_REQUESTS with REPEATABLE READ on the replica aliases.

Such a transaction takes its snapshot at its first statement. If the router's
replay check were that statement, the check could pass while the page's reads kept
the older snapshot. The check runs outside the transaction, so waiting works.
"""

import pytest
from django.db import connections
from psycopg import IsolationLevel

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]


@pytest.fixture
def repeatable_read_requests(settings):
    """Every replica alias: ATOMIC_REQUESTS on, REPEATABLE READ."""
    saved = {}
    for alias in ("replica", "replica_2"):
        config = connections[alias].settings_dict
        saved[alias] = (config["ATOMIC_REQUESTS"], config["OPTIONS"])
        connections[alias].close()
        config["ATOMIC_REQUESTS"] = True
        config["OPTIONS"] = {**config["OPTIONS"], "isolation_level": IsolationLevel.REPEATABLE_READ}
    # Long enough for the stack's 1 s apply delay: the replica is waited for.
    settings.ROUTERS_CAUSAL_WAIT_MS = 5000
    yield
    for alias, (atomic, options) in saved.items():
        connections[alias].close()
        config = connections[alias].settings_dict
        config["ATOMIC_REQUESTS"], config["OPTIONS"] = atomic, options


@pytest.mark.usefixtures("repeatable_read_requests")
def test_it_waits_for_the_replica_then_sees_the_write(client, tag_name):
    client.post(f"/create/{tag_name}")

    follow = client.get(f"/tag/{tag_name}")

    assert follow.status_code == 200, f"read from {follow.content.decode()}"
    # Waited for, not given up on: the replica served the page, inside its transaction.
    assert follow.content.decode().startswith("replica")
