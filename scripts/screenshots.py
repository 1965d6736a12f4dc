"""Retake the README's screenshots from a running demo: `make screenshots`.

Start the demo first (`make demo`, or `docker compose up`), then run this. It drives
headless Chromium against DEMO_URL (default http://127.0.0.1:8000) and writes PNGs to
docs/images/. Running a lesson writes to the demo's database and deletes what it wrote.
"""

import os
import sys
from pathlib import Path

from playwright.sync_api import Error as BrowserError
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  (the tests' browser)

DEMO_URL = os.environ.get("DEMO_URL", "http://127.0.0.1:8000").rstrip("/")
OUT = REPO / "docs/images"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        try:
            page.goto(DEMO_URL + "/lab/")
        except BrowserError as error:
            sys.exit(f"No demo answers at {DEMO_URL} ({error}). Start one: make demo")
        page.screenshot(path=OUT / "lab.png", full_page=True)

        page.goto(DEMO_URL + "/lab/post-redirect-lag/")
        page.click("text=Run it")
        page.wait_for_selector("#outcomes")
        # From the results table to the last timeline: what a run shows.
        top = page.locator("#outcomes").bounding_box()
        bottom = page.locator(".timeline").last.bounding_box()
        assert top is not None
        assert bottom is not None
        clip = {
            "x": 0,
            "y": top["y"] - 16,
            "width": 1100,
            "height": bottom["y"] + bottom["height"] - top["y"] + 32,
        }
        page.screenshot(path=OUT / "lesson-run.png", full_page=True, clip=clip)

        page.goto(DEMO_URL + "/lab/cluster/")
        page.wait_for_timeout(1200)  # one live refresh of the table, for the picture
        page.screenshot(path=OUT / "cluster.png", full_page=True)
        browser.close()
    for name in ("lab.png", "lesson-run.png", "cluster.png"):
        print(OUT / name)


if __name__ == "__main__":
    main()
