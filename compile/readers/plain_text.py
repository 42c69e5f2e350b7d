"""Plain text: the first short line is the title, blank lines separate paragraphs."""

from __future__ import annotations

import html
import re
from pathlib import Path

from compile.model import Article
from compile.readers.markdown import source_link

TAG = re.compile(r"<[a-zA-Z][^>]*>")


def can_read(text: str) -> bool:
    return not TAG.search(text[:20000]) and any(line.strip() for line in text.splitlines())


def read(path: Path, text: str) -> Article:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    title = ""
    if len(paragraphs) > 1 and "\n" not in paragraphs[0] and len(paragraphs[0]) <= 120:
        title = paragraphs.pop(0)
    url = source_link(paragraphs[0]) if len(paragraphs) > 1 else ""
    if url:  # the link, after the title
        paragraphs.pop(0)
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return Article(id="", source=str(path), title=title, body=body, url=url, meta={"body_format": "text"})
