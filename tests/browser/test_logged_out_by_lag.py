"""In a real headless Chromium: a login lost to a lagging replica is explained, not silent."""

import pytest
from django.conf import global_settings
from playwright.sync_api import expect

from tests.browser.test_lag_in_the_browser import use_strategy
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.stack, pytest.mark.browser, pytest.mark.usefixtures("live_db")]


@pytest.mark.parametrize(("strategy", "logged_in"), [("naive", False), ("causal", True)])
def test_it_explains_a_log_out_under_naive_and_keeps_the_login_under_causal(
    gunicorn_url,
    stack,
    lagging_replicas,
    page,
    settings,
    tmp_path,
    strategy,
    logged_in,
):
    # gunicorn checks passwords with the real hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    UserFactory(username="browser-member")
    stack.wait_for_replay()

    page.goto(gunicorn_url + "/login/")
    use_strategy(page, strategy)
    page.fill("#id_username", "browser-member")
    page.fill("#id_password", PASSWORD)
    page.click("form.form button[type=submit]")

    if logged_in:
        expect(page.locator(".account .me")).to_have_text("browser-member")
        expect(page.locator("#login-lost")).to_have_count(0)
    else:
        expect(page.locator("#login-lost")).to_contain_text("logged out by replication lag")
        expect(page.locator(".account .me")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "login-lost.png"), full_page=True)


@pytest.mark.parametrize(("signed_up_under", "then"), [("causal", "sticky"), ("sticky", "causal")])
def test_it_keeps_a_new_member_logged_in_when_the_strategy_changes_at_once(
    gunicorn_url, lagging_replicas, page, signed_up_under, then
):
    page.goto(gunicorn_url + "/signup/")
    use_strategy(page, signed_up_under)
    page.fill("#id_username", "quick-switcher")
    page.fill("#id_password1", "a-long-browser-passphrase")
    page.fill("#id_password2", "a-long-browser-passphrase")
    page.click("form.form button[type=submit]")
    expect(page.locator(".account .me")).to_have_text("quick-switcher")

    use_strategy(page, then)  # well within the replicas' 3 s delay

    expect(page.locator(".account .me")).to_have_text("quick-switcher")
    expect(page.locator("#login-lost")).to_have_count(0)
