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
# A first paragraph that only names where the text was published (`> 原文：<https://…>`, `Source: https://…`):
# translated and reposted archives carry their link so. It is the article's link (shown in its header and among
# the sources), not its first paragraph.
SOURCE_LINE = re.compile(
    r"\A\s*(?:>[ \t]*)?(?:[*_]{1,2})?(?:原文(?:链接|地址|网址|出处)?|文章来源|来源|出处|本文转载自|转载自|"
    r"Source|Original(?:ly published)?(?: at| on| in)?)(?:[*_]{1,2})?[ \t]*[:：][ \t]*(?:[*_]{1,2})?[ \t]*"
    r"(?:<(?P<angle>https?://[^>\s]+)>|\[[^\]\n]*\]\((?P<link>https?://[^)\s]+)\)|(?P<bare>https?://[^\s<>]+))"
    r"[ \t]*(?:[*_]{1,2})?[ \t]*(?:\n[ \t]*>?[ \t]*\n|\n?\Z)", re.I)


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
    url, text = source_line(text)
    text, flattened = _DEEP_QUOTES.subn(r"\1", text)
    article = Article(id="", source=str(path), title=title, body=_MD.render(text), url=url,
                      meta={"body_format": "markdown"})
    if flattened:
        article.warn(f"{flattened} line(s) quoted deeper than {MAX_QUOTES} levels flattened to {MAX_QUOTES}")
    return article


def source_line(text: str) -> tuple[str, str]:
    """The link of a first paragraph that only names the text's source (SOURCE_LINE), and the text without it;
    else "" and the text."""
    match = SOURCE_LINE.match(text)
    if not match or not text[match.end():].strip():  # a text of its link only: kept as written
        return "", text
    return _link(match), text[match.end():]


def source_link(paragraph: str) -> str:
    """The link, when the whole paragraph only names the text's source (SOURCE_LINE); else ""."""
    match = SOURCE_LINE.match(paragraph)
    return _link(match) if match and not paragraph[match.end():].strip() else ""


def _link(match: re.Match) -> str:
    return match["angle"] or match["link"] or match["bare"]
