"""Every page, as a visitor and as a member: accessible, and no sideways scroll on a phone.

axe-core (pinned in package.json, installed by `make test`) is injected into each page
and must find no serious or critical WCAG 2 A/AA violation. A 390 px wide screen is
an iPhone's; a page wider than that makes the reader scroll sideways.
"""

import json
from pathlib import Path

import pytest
from django.conf import global_settings
from playwright.sync_api import Page

from lab.lessons import LESSONS
from tests.browser.test_lag_in_the_browser import use_strategy
from tests.factories import PostFactory, ThreadFactory, UserFactory

pytestmark = [pytest.mark.stack, pytest.mark.browser, pytest.mark.usefixtures("live_db")]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PHONE_WIDTH = 390
# A title that is one word longer than a phone is wide.
LONG_WORD = "Supercalifragilisticexpialidocious" * 3
MEMBERS_ONLY = ("new thread", "edit post", "delete post", "replies")


@pytest.fixture
def site(gunicorn_url, stack, settings):
    """A member, a thread with a long one-word title and a reply: every page's paths."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # gunicorn's hashers
    member = UserFactory(username="ada", password="ada-password")
    thread = ThreadFactory(title=LONG_WORD, author=member)
    post = PostFactory(thread=thread, author=member, body=LONG_WORD)
    stack.wait_for_replay()
    return {
        "forum index": "/",
        "board": thread.board.get_absolute_url(),
        "thread": thread.get_absolute_url(),
        "user": f"/u/{member.username}/",
        "log in": "/login/",
        "sign up": "/signup/",
        "not found": "/p/999999999/",
        "new thread": f"{thread.board.get_absolute_url()}new/",
        "edit post": f"/p/{post.pk}/edit/",
        "delete post": f"/p/{post.pk}/delete/",
        "replies": "/replies/",
        "lab": "/lab/",
        "how streaming replication works": "/lab/streaming-replication/",
        "glossary": "/lab/glossary/",
        "use it in your project": "/lab/use-it-in-your-project/",
        "cluster panel": "/lab/cluster/",
        **{f"lesson {lesson.slug}": f"/lab/{lesson.slug}/" for lesson in LESSONS},
    }


def problems(page: Page) -> list[str]:
    """axe-core's serious and critical WCAG 2 A/AA findings, and a sideways scroll."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate(
        """async () => (await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
        })).violations"""
    )
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + json.dumps([node["target"] for node in v["nodes"][:3]])
        for v in results
        if v["impact"] in ("serious", "critical")
    ]
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE_WIDTH:
        found.append(f"{width} px wide on a {PHONE_WIDTH} px screen")
    return found


def check_every_page(page: Page, base: str, paths: dict[str, str]) -> dict[str, list[str]]:
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 800})
    found = {}
    for name, path in paths.items():
        page.goto(base + path)
        if problems_here := problems(page):
            found[f"{name} ({path})"] = problems_here
    return found


def test_every_page_passes_for_a_visitor(site, gunicorn_url, page):
    visitor_pages = {name: path for name, path in site.items() if name not in MEMBERS_ONLY}

    assert check_every_page(page, gunicorn_url, visitor_pages) == {}


def test_every_page_passes_for_a_member(site, gunicorn_url, page):
    page.goto(gunicorn_url + "/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "ada-password")
    page.click("form.form button[type=submit]")

    assert check_every_page(page, gunicorn_url, site) == {}


@pytest.mark.usefixtures("task_worker")  # lesson 15's tasks run on it
def test_a_lesson_after_run_it_passes(site, gunicorn_url, page):
    """The results and their timelines (SVG) too, on a phone."""
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 800})
    page.goto(gunicorn_url + "/lab/")
    use_strategy(page, "causal")
    found = {}
    for lesson in LESSONS:
        page.goto(f"{gunicorn_url}/lab/{lesson.slug}/")
        page.click("button:has-text('Run it')")
        page.wait_for_selector("#outcomes")
        if problems_here := problems(page):
            found[lesson.slug] = problems_here

    assert found == {}
