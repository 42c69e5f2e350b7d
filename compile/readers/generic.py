"""The last resort: anything else is read as an HTML fragment, with a warning."""

from __future__ import annotations

from pathlib import Path

from compile.model import Article


def can_read(text: str) -> bool:
    return True


def read(path: Path, text: str) -> Article:
    article = Article(id="", source=str(path), body=text, meta={"body_format": "html"})
    article.warn("unrecognised source shape; read as an HTML fragment")
    return article
