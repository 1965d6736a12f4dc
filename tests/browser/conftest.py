import os

import pytest
from django.db import connections
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Chromium's own network chatter is refused on an offline machine: switch it off.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium_args():
    """Chromium's command line beyond CHROMIUM_ARGS: a test module overrides it."""
    return []


@pytest.fixture
def page(monkeypatch, chromium_args):
    """A page in a fresh headless Chromium.

    Playwright runs an event loop in this thread, and while one runs Django keeps this
    thread's connections apart from the others (asgiref's Local goes by context then):
    a node restarted by another test since would leave them broken, and the closing
    done elsewhere never reaches them. So they are closed on the way in and out. The
    ORM runs between browser steps, never during one: Django is told so.
    """
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        connections.close_all()
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *chromium_args]
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()
            connections.close_all()
