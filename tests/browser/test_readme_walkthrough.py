"""The README's "Try it" steps, followed literally in a real browser.

At human speed the reader waits a moment between logging in and picking naive; at
machine speed they do not, meet lesson 12's log-out, and follow the README's way out.
"""

import pytest
from django.conf import global_settings
from playwright.sync_api import Page, expect

from tests.browser.test_lag_in_the_browser import use_strategy
from tests.factories import UserFactory
from tests.helpers import replicated_thread, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.browser, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def demo(gunicorn_url, stack, lagging_replicas, settings):
    """A thread and the README's demo user, on every replica; the thread's address."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # gunicorn's hashers
    UserFactory(username="grace", password="grace-demo-password")
    thread = replicated_thread("Following the README")
    return gunicorn_url + thread.get_absolute_url()


def log_in(page: Page, base: str) -> None:
    """Step 1."""
    page.goto(base + "/login/")
    page.fill("#id_username", "grace")
    page.fill("#id_password", "grace-demo-password")
    page.click("form.form button[type=submit]")


def reply(page: Page, thread_url: str, text: str) -> None:
    page.goto(thread_url)
    page.fill("form.reply textarea", text)
    page.click("form.reply button[type=submit]")


def steps_3_and_4(page: Page, thread_url: str) -> None:
    reply(page, thread_url, "Where did it go?")
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator("#lag-hint")).to_be_visible()

    def post_is_there() -> bool:
        page.reload()
        return page.locator("text=Where did it go?").count() > 0

    wait_until(post_is_there, what="the reply to appear after a reload")

    use_strategy(page, "causal")
    reply(page, thread_url, "Here at once")
    expect(page.locator(".post", has_text="Here at once")).to_be_visible()


def step_5(page: Page) -> None:
    page.click("header >> text=Activity")
    expect(page.locator("h1")).to_have_text("Activity")
    expect(page.locator(".thread-row", has_text="grace replied").first).to_be_visible()
    footer = page.locator("#routing-footer [data-alias^=analytics]")
    expect(footer).to_have_count(1)


def test_it_works_at_human_speed(demo, gunicorn_url, page, stack):
    log_in(page, gunicorn_url)
    expect(page.locator(".account .me")).to_have_text("grace")
    stack.wait_for_replay()  # the reader takes a moment: the login reaches the replica

    use_strategy(page, "naive")
    expect(page.locator(".account .me")).to_have_text("grace")
    steps_3_and_4(page, demo)
    step_5(page)


def test_it_works_at_machine_speed(demo, gunicorn_url, page, stack):
    log_in(page, gunicorn_url)
    use_strategy(page, "naive")  # at once: the replica has not replayed the login
    expect(page.locator("#login-lost")).to_be_visible()
    expect(page.locator(".account .me")).to_have_count(0)

    # The README's way out: pick causal, log in again, count to three, pick naive.
    use_strategy(page, "causal")
    log_in(page, gunicorn_url)
    expect(page.locator(".account .me")).to_have_text("grace")
    stack.wait_for_replay()
    use_strategy(page, "naive")
    expect(page.locator(".account .me")).to_have_text("grace")
    steps_3_and_4(page, demo)
    step_5(page)
