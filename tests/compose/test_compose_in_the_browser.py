"""The README's walkthrough, in headless Chromium, against the forum compose serves."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_lag_in_the_browser import reply, use_strategy
from tests.compose.conftest import DEMO_MEMBER

pytestmark = [pytest.mark.compose, pytest.mark.browser]


def test_naive_meets_the_404_and_causal_lands_on_the_post(compose, page):
    page.goto(compose.url + "/login/")
    page.fill("#id_username", DEMO_MEMBER[0])
    page.fill("#id_password", DEMO_MEMBER[1])
    page.click("form.form button[type=submit]")
    expect(page.locator(".account .me")).to_have_text(DEMO_MEMBER[0])
    compose.wait_for_replay()  # naive reads the session from the replica
    page.goto(compose.url + "/b/general/")
    page.click("main a[href^='/t/']")
    thread_url = page.url

    use_strategy(page, "naive")
    reply(page, thread_url, "Lost in replication, under compose")
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator("#lag-hint")).to_be_visible()

    use_strategy(page, "causal")
    reply(page, thread_url, "Found under causal, under compose")
    expect(page.locator(".post", has_text="Found under causal, under compose")).to_be_visible()
