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
_MD = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


def can_read(text: str) -> bool:
    head = text[:20000]
    return len(SIGNS.findall(head)) >= 1 and head.count("<p") + head.count("<div") < 3


def read(path: Path, text: str) -> Article:
    title = ""
    match = TITLE.match(text)
    if match:
        title, text = match["title"].strip(), text[match.end():]
    return Article(id="", source=str(path), title=title, body=_MD.render(text), meta={"body_format": "markdown"})
