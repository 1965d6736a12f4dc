"""The footer's lag in seconds, on the real lagging replicas."""

import re

import pytest

from forum.models import Tag
from tests.helpers import wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def test_it_shows_the_seconds_a_held_back_write_has_waited(client, settings, lagging_replicas):
    settings.ROUTERS_STRATEGY = "causal"
    client.get("/")  # the replicas are probed: their positions are cached
    Tag.objects.create(name="held-back")

    def footer_seconds():
        settings.ROUTERS_HEALTH_TTL = 0  # a fresh probe on each page
        footer = client.get("/").content.decode().split('id="routing-footer"')[1]
        return [float(s) for s in re.findall(r'data-lag-seconds="([\d.]+)"', footer)]

    waited = wait_until(lambda: [s for s in footer_seconds() if s > 0], what="a positive lag")
    assert all(0 < s <= 3.5 for s in waited)
