"""In a real headless Chromium: meet the lag 404 under naive, then fix it with causal."""

import pytest
from playwright.sync_api import Page, expect

from forum.models import Post
from tests.helpers import replicated_thread

pytestmark = [pytest.mark.stack, pytest.mark.browser, pytest.mark.usefixtures("live_db")]


def use_strategy(page: Page, name: str) -> None:
    page.select_option("#strategy", name)
    page.click(".strategy-switch button")
    expect(page.locator("[data-strategy]")).to_have_attribute("data-strategy", name)


def reply(page: Page, thread_url: str, text: str) -> None:
    page.goto(thread_url)
    page.fill("form.reply textarea", text)
    page.click("form.reply button[type=submit]")


def test_it_meets_the_lag_404_under_naive_and_lands_on_the_post_under_causal(
    gunicorn_url, stack, lagging_replicas, page
):
    thread = replicated_thread("Seen in a browser")
    thread_url = gunicorn_url + thread.get_absolute_url()

    page.goto(gunicorn_url + "/signup/")
    page.fill("#id_username", "browser-user")
    page.fill("#id_password1", "a-long-browser-passphrase")
    page.fill("#id_password2", "a-long-browser-passphrase")
    page.click("form.form button[type=submit]")
    expect(page.locator(".account .me")).to_have_text("browser-user")
    stack.wait_for_replay()  # naive reads the session from a replica

    use_strategy(page, "naive")
    reply(page, thread_url, "Lost in replication")
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator("#lag-hint")).to_be_visible()

    use_strategy(page, "causal")
    reply(page, thread_url, "Found under causal")
    post = Post.objects.using("default").get(body="Found under causal")
    expect(page).to_have_url(f"{thread_url}?page=1#post-{post.pk}")
    expect(page.locator(f"#post-{post.pk}")).to_contain_text("Found under causal")
    expect(page.locator("[data-strategy]")).to_have_attribute("data-strategy", "causal")
