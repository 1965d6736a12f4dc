"""A project's router that wraps one of ours (composition, not a subclass) keeps
read-your-writes: the middleware remembers writes whichever router is installed."""

import pytest

from routers import CausalRouter

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]


class AuditedRouter:
    """Delegates to CausalRouter, as a project adding its own logging might."""

    def __init__(self):
        self.inner = CausalRouter()

    def db_for_read(self, model, **hints):
        return self.inner.db_for_read(model, **hints)

    def db_for_write(self, model, **hints):
        return self.inner.db_for_write(model, **hints)


def test_it_remembers_a_write_under_a_wrapping_router(client, settings, tag_name):
    settings.DATABASE_ROUTERS = ["tests.routers.test_wrapped_router.AuditedRouter"]

    client.post(f"/create/{tag_name}")
    follow = client.get(f"/tag/{tag_name}")

    assert follow.status_code == 200, f"read from {follow.content.decode()}"
