"""Plain markdown: an optional `# title` heading, then the body (CommonMark with tables)."""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it import MarkdownIt

from compile.model import Article

# Headings, bold, lists, quotes, images, code fences, and inline links (`[text](http...)`), which plain text
# never has and which the text reader would print raw.
SIGNS = re.compile(r"^(#{1,6} \S|\*\*[^*\n]+\*\*|[-*+] \S|\d+\. \S|> |!\[[^\]]*\]\(|```|~~~)"
                   r"|\[[^\]\n]+\]\((https?://|/|\.{0,2}/?[\w-]+\.(md|html?)\b)[^)\s]*\)", re.M)
TITLE = re.compile(r"\A\s*#[ \t]+(?P<title>[^\n]+?)[ \t#]*\n")
# markdown-it drops whatever is nested deeper than maxNesting (20 by default) without a word: allow deep nesting,
# and flatten quote markers past MAX_QUOTES before parsing (cleaning caps element depth at 64 anyway).
_MD = MarkdownIt("commonmark", {"html": True, "maxNesting": 200}).enable("table").enable("strikethrough")
MAX_QUOTES = 64
_DEEP_QUOTES = re.compile(rf"^((?:[ \t]*>){{{MAX_QUOTES}}})(?:[ \t]*>)+", re.M)


def can_read(text: str) -> bool:
    """Markdown signs, and few HTML blocks for them: markdown may hold raw HTML (an embedded player, a figure
    in a <div>), an HTML fragment may hold a line that looks like markdown."""
    head = text[:20000]
    signs = len(SIGNS.findall(head))
    blocks = head.count("<p") + head.count("<div")
    return signs >= 1 and (blocks < 3 or signs >= 4 * blocks)


def read(path: Path, text: str) -> Article:
    title = ""
    match = TITLE.match(text)
    if match:
        title, text = match["title"].strip(), text[match.end():]
    text, flattened = _DEEP_QUOTES.subn(r"\1", text)
    article = Article(id="", source=str(path), title=title, body=_MD.render(text), meta={"body_format": "markdown"})
    if flattened:
        article.warn(f"{flattened} line(s) quoted deeper than {MAX_QUOTES} levels flattened to {MAX_QUOTES}")
    return article
