"""The lab's texts from the repository's markdown: one source for GitHub and the lab.

A lesson's doc (docs/lessons/NN-slug.md), the glossary (docs/glossary.md) and the "use it
in your project" page (docs/use-it-in-your-project.md) are rendered on their lab pages.
Raw HTML in the markdown is escaped, not passed through, and markdown-it refuses
javascript: links. A link to the glossary as the docs write it (`../glossary.md#wal`,
or `glossary.md#wal` from docs/) points at the lab's glossary page instead; a heading
gets the id GitHub gives it, so those anchors hold on both.
"""

import re
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

GLOSSARY = "docs/glossary.md"
USE_IT = "docs/use-it-in-your-project.md"

_GLOSSARY_LINK = re.compile(r'href="(?:\.\./)?glossary\.md#([\w-]+)"')


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, a hyphen per space."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _heading_with_id(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("id", slug(tokens[idx + 1].content))
    return str(self.renderToken(tokens, idx, options, env))


_markdown = MarkdownIt("commonmark", {"html": False})
_markdown.add_render_rule("heading_open", _heading_with_id)


def _lab_links(html: str) -> str:
    glossary = reverse("lab:glossary")
    return _GLOSSARY_LINK.sub(lambda found: f'href="{glossary}#{found[1]}"', html)


def render_file(path: str) -> SafeString:
    """The markdown file at `path` (from the repository's root), without its title (the
    page has its own). A code block can be focused, so a keyboard can scroll one wider
    than a phone."""
    text = (settings.BASE_DIR / path).read_text(encoding="utf-8")
    if text.startswith("# "):
        text = text.split("\n", 1)[1]
    html = _markdown.render(text).replace("<pre>", '<pre tabindex="0">')
    # Safe: rendered from the project's own markdown, with raw HTML escaped.
    return mark_safe(_lab_links(html))


def render_inline(text: str) -> SafeString:
    """One sentence of markdown (a lesson's problem or fix), its links made the lab's."""
    return mark_safe(_lab_links(_markdown.renderInline(text)))


def plain(text: str) -> str:
    """The same sentence without its links' markup: for a list of lessons, say."""
    return re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
