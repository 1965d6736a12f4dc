"""On a 390 px wide phone screen, no lab page scrolls sideways."""

import pytest

from forum.lab.lessons import LESSONS

pytestmark = [pytest.mark.stack, pytest.mark.browser, pytest.mark.usefixtures("live_db")]


def test_it_fits_every_lab_page_in_a_phone_screen(gunicorn_url, page):
    page.set_viewport_size({"width": 390, "height": 800})
    too_wide = {}
    for path in ["/lab/", *(f"/lab/{lesson.slug}/" for lesson in LESSONS)]:
        page.goto(gunicorn_url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide[path] = width

    assert too_wide == {}
