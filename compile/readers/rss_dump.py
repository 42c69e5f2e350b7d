"""RSS-dump files: `<!--epoch-ms-->`, a `[title](url)` line, a `-----` rule, then the item's HTML.

The epoch comment is when the feed was captured (archived), not when the article was published.
"""

from __future__ import annotations

import re
from pathlib import Path

from compile.model import Article

HEADER = re.compile(
    r"\A\s*<!--\s*(?P<epoch>\d{9,13})\s*-->\s*\n"
    r"\s*\[(?P<title>.*?)\]\((?P<url>\S*?)\)\s*\n"
    r"\s*-{3,}\s*\n",
    re.S,
)


def can_read(text: str) -> bool:
    return HEADER.match(text) is not None


def read(path: Path, text: str) -> Article:
    match = HEADER.match(text)
    if match is None:
        raise ValueError("not an RSS dump (the registry asks can_read first)")
    epoch = int(match["epoch"])
    if epoch < 10**11:  # seconds, not milliseconds
        epoch *= 1000
    return Article(
        id="",
        source=str(path),
        title=match["title"].strip(),
        url=match["url"].strip(),
        body=text[match.end():],
        meta={"epoch_ms": epoch, "body_format": "html"},
    )
