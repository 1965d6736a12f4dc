"""The cluster panel, clicked in a real browser: the lag it sets is the lag the footer shows,
and a replica it pauses stops serving reads until it is resumed."""

import pytest
from playwright.sync_api import Page, expect

from lab.cluster import set_replay_paused
from tests.browser.test_lag_in_the_browser import use_strategy
from tests.factories import TagFactory
from tests.helpers import fetch, gunicorn, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.browser, pytest.mark.usefixtures("live_db")]

MAX_LAG_SECONDS = 2


@pytest.fixture(scope="module")
def demo_url(django_db_setup, tmp_path_factory):
    """gunicorn as `make demo` runs it: the cluster controls on; a 2 s bound on lag."""
    with gunicorn(
        tmp_path_factory.mktemp("demo"),
        LAB_CLUSTER_CONTROLS="true",
        ROUTERS_MAX_LAG_SECONDS=str(MAX_LAG_SECONDS),
    ) as url:
        yield url


@pytest.fixture
def panel(demo_url, page, stack):
    """The panel open; every replica back to the stack's 1 s delay, replaying, afterwards."""
    page.goto(demo_url + "/lab/cluster/")
    yield page
    for alias in ("replica", "replica_2"):
        set_replay_paused(alias, False)  # what the panel's resume button runs
    stack.set_lag("1s")
    stack.wait_for_replay()


def footer_seconds(page: Page, url: str, alias: str) -> float | None:
    page.goto(url)
    text = page.get_attribute(f'#routing-footer [data-replica="{alias}"]', "data-lag-seconds")
    return float(text) if text else None


def aliases_read(page: Page, url: str) -> set[str]:
    page.goto(url)
    return set(
        page.locator("#routing-footer [data-alias]").evaluate_all(
            "nodes => nodes.map(node => node.dataset.alias)"
        )
    )


def test_the_footer_shows_the_delay_set_on_the_panel_in_seconds(panel, demo_url):
    # Under the tests' default strategy, primary: the footer still measures the replicas.
    panel.select_option("#id_target", "replica_2")
    panel.fill("#id_seconds", "6")
    panel.click("#delay-form button[type=submit]")
    expect(panel.locator(".messages")).to_contain_text("Apply delay set to 6")
    wait_until(lambda: fetch("replica_2", "SHOW recovery_min_apply_delay") == "6s", what="reload")
    TagFactory()  # a commit replica_2 now holds back 6 s

    # The stack's 1 s delay never lets a commit wait this long: only the new delay can.
    wait_until(
        lambda: (footer_seconds(panel, demo_url + "/", "replica_2") or 0) >= 3,
        what="the footer to show replica_2 3 s behind",
    )
    assert footer_seconds(panel, demo_url + "/", "replica") < 1.5
    panel.goto(demo_url + "/lab/cluster/")
    expect(panel.locator('[data-node="replica_2"] [data-field="delay"]')).to_have_text("6s")

    panel.fill("#id_seconds", "0")
    panel.click("#delay-form button[type=submit]")
    wait_until(
        lambda: footer_seconds(panel, demo_url + "/", "replica_2") == 0,
        what="the footer to show replica_2 caught up",
    )


def test_a_paused_replica_serves_no_reads_until_resumed(panel, demo_url):
    use_strategy(panel, "causal")
    panel.click('[data-node="replica"] button[value="pause"]')
    expect(panel.locator('[data-node="replica"] [data-field="state"]')).to_have_text("paused")
    TagFactory()  # a commit the paused replica keeps receiving and never applies

    # Past the bound, every anonymous page reads replica_2; round-robin would alternate.
    wait_until(
        lambda: all(aliases_read(panel, demo_url + "/") == {"replica_2"} for _ in range(4)),
        what=f"replica out of rotation {MAX_LAG_SECONDS} s after the write",
    )
    panel.goto(demo_url + "/lab/cluster/")
    panel.click('[data-node="replica"] button[value="resume"]')
    expect(panel.locator('[data-node="replica"] [data-field="state"]')).to_have_text("up")
    wait_until(
        lambda: any("replica" in aliases_read(panel, demo_url + "/") for _ in range(2)),
        what="replica back in rotation",
    )
