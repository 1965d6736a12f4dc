"""A write made under one strategy is honoured by the next: both cookies are set.

The lab lets a browser switch strategy between two requests, and a roll-out may
move clients from sticky to causal: the write must not be lost in between.
"""

import pytest

from lab.middleware import STRATEGY_COOKIE

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]


@pytest.mark.parametrize(
    ("wrote_under", "read_under"), [("sticky", "causal"), ("causal", "sticky")]
)
def test_it_keeps_the_write_when_the_strategy_changes(client, tag_name, wrote_under, read_under):
    client.cookies[STRATEGY_COOKIE] = wrote_under
    client.post(f"/create/{tag_name}")
    client.cookies[STRATEGY_COOKIE] = read_under

    follow = client.get(f"/tag/{tag_name}")

    assert follow.status_code == 200, f"read from {follow.content.decode()}"
