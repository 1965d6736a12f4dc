"""The lab's first pages: how streaming replication works, the glossary, and "use it in
your project". Each renders, its links resolve, and every glossary link anywhere in the
lab (the lessons' texts, the pages, the results' verdicts) lands on an anchor that exists."""

import html
import re

import pytest

from lab.lessons import LESSONS
from lab.replication import STEPS
from lab.verdicts import VERDICTS

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]

FIRST_PAGES = ["/lab/streaming-replication/", "/lab/glossary/", "/lab/use-it-in-your-project/"]


def links(page: str) -> list[str]:
    """The page's links within the site."""
    return [html.unescape(href) for href in re.findall(r'href="(/[^"]*)"', page)]


def glossary_anchors(client) -> set[str]:
    return set(re.findall(r'id="([^"]+)"', client.get("/lab/glossary/").content.decode()))


def test_the_lab_links_its_first_pages_before_the_lessons(client):
    page = client.get("/lab/").content.decode()

    first_lesson = page.index(f'href="/lab/{LESSONS[0].slug}/"')
    for path in FIRST_PAGES:
        assert 0 < page.index(f'href="{path}"') < first_lesson


@pytest.mark.parametrize("path", FIRST_PAGES)
def test_each_first_page_renders_and_its_links_resolve(client, path):
    response = client.get(path)

    assert response.status_code == 200
    for link in links(response.content.decode()):
        target = link.partition("#")[0]
        if target.startswith("/static/") or target.startswith("/lab/glossary/"):
            continue  # the stylesheet; glossary anchors are checked below
        assert client.get(target).status_code == 200, link


def test_no_lesson_takes_a_first_pages_name():
    assert {f"/lab/{lesson.slug}/" for lesson in LESSONS}.isdisjoint(FIRST_PAGES)


def test_every_glossary_link_the_lab_makes_has_its_anchor(client):
    anchors = glossary_anchors(client)
    pages = [*FIRST_PAGES, "/lab/", *(f"/lab/{lesson.slug}/" for lesson in LESSONS)]
    linked = {}
    for path in pages:
        for link in links(client.get(path).content.decode()):
            if link.startswith("/lab/glossary/#"):
                linked.setdefault(link.split("#", 1)[1], path)

    assert {anchor: path for anchor, path in linked.items() if anchor not in anchors} == {}
    # The lessons' texts really link their terms: the glossary is not an orphan.
    assert {"primary", "replica", "wal", "lsn", "replay", "apply-delay", "lag"} <= set(linked)


def test_every_lesson_links_a_term_to_the_glossary(client):
    for lesson in LESSONS:
        page = client.get(f"/lab/{lesson.slug}/").content.decode()
        doc = page[page.index('id="lesson-doc"') :]

        assert 'href="/lab/glossary/#' in doc, lesson.slug


def test_the_glossary_defines_the_terms_a_newcomer_tripped_on(client):
    anchors = glossary_anchors(client)

    for term in (
        "primary",
        "standby",
        "replica",
        "alias",
        "server",
        "wal",
        "lsn",
        "receive",
        "replay",
        "apply-delay",
        "lag-in-bytes",
        "lag-in-seconds",
    ):
        assert term in anchors, term


def test_the_glossary_defines_every_verdict_once(client):
    page = client.get("/lab/glossary/").content.decode()

    for verdict in VERDICTS:
        assert page.count(f'id="{verdict.anchor}"') == 1
        assert verdict.meaning in html.unescape(page)
    assert len({verdict.word for verdict in VERDICTS}) == len(VERDICTS)


def test_the_first_page_draws_every_node_in_every_step(client):
    page = client.get("/lab/streaming-replication/").content.decode()
    figures = page.split('<figure class="step card"')[1:]

    assert len(figures) == len(STEPS) >= 5
    for figure, step in zip(figures, STEPS, strict=True):
        svg = figure[figure.index("<svg") : figure.index("</svg>")]
        for node in ("Django", "primary", "standby"):
            assert f">{node}</text>" in svg
        # Readable without the picture: described for a screen reader, a sentence under it.
        assert html.escape(step.description, quote=True) in figure
        assert "<figcaption>" in figure.split("</svg>", 1)[1]


def test_the_first_page_shows_the_replay_held_back_before_the_read_misses(client):
    described = [step.description for step in STEPS]

    held = next(i for i, text in enumerate(described) if "COMMIT at 0/30000D0 held back" in text)
    missed = next(i for i, step in enumerate(STEPS) if step.query and not step.query.ok)
    found = next(
        i
        for i, step in enumerate(STEPS)
        if step.query and step.query.node == "standby" and step.query.ok
    )
    assert held < missed < found
    assert "COMMIT at 0/30000D0 replayed" in described[found]
