"""The build report: the machine-readable record of every decision (a public contract: extend, never break)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from compile import __version__, atomic
from compile.images.variants import report_entry
from compile.model import Anthology, Article, Story


def iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def characters(article: Article) -> int:
    return len(re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", article.body)))


def article_entry(article: Article) -> dict:
    return {
        "id": article.id,
        "source": article.source,
        "title": article.title,
        "outlet": article.outlet,
        "author": article.author,
        "url": article.url,
        "published": iso(article.published),
        "precision": article.precision or None,
        "date_source": article.date_source or None,
        "archived": iso(article.archived),
        "language": article.language,
        "reader": article.reader,
        "encoding": article.encoding,
        # Full web pages: which engine found the article in the page and what share of its visible text it kept;
        # null when the reader took the whole file.
        "extraction": article.meta.get("extraction"),
        "characters": characters(article),
        "images": len(article.images),
        "warnings": list(article.warnings),
    }


def story_entry(story: Story) -> dict:
    """One story across outlets: its articles in order, the first leading, and why each later one joined."""
    joined = {decision["source"]: decision for decision in story.decisions}
    articles = []
    for article in story.articles:
        decision = joined.get(article.source, {})
        articles.append({"id": article.id, "source": article.source, "outlet": article.outlet,
                         "title": article.title, "published": iso(article.published),
                         "matched": decision.get("matched"), "similarity": decision.get("similarity"),
                         "reason": decision.get("reason", "leads the story: published first")})
    return {"key": story.key, "outlets": [a.outlet for a in story.articles], "articles": articles}


def volume_entry(part: Anthology) -> dict:
    span = part.date_range
    return {"volume": part.volume, "articles": [a.id for a in part.articles],
            "date_range": [iso(span[0]), iso(span[1])] if span else None}


def build_report(anthology: Anthology, settings, theme: str, inputs: list[dict], duplicates: list[dict],
                 outputs: list, image_summary=None) -> dict:
    span = anthology.date_range
    return {
        "anthology": {
            "title": anthology.title,
            "subtitle": anthology.subtitle,
            "editor": anthology.editor,
            "language": anthology.language,
            "theme": theme,
            "sections": settings.sections,
            "articles": len(anthology.articles),
            "date_range": [iso(span[0]), iso(span[1])] if span else None,
            "generator": f"anthology-compiler {__version__}",
        },
        "inputs": inputs,
        "articles": [article_entry(a) for a in anthology.articles],
        "images": [report_entry(image, a.id) for a in anthology.articles for image in a.images],
        "image_summary": vars(image_summary) if image_summary else None,
        "duplicates": duplicates,
        "stories": [story_entry(story) for story in anthology.stories],
        "outputs": [{"path": str(o.path), "format": o.format, "bytes": o.bytes, "pages": o.pages, "notes": o.notes,
                     "details": o.details}
                    for o in outputs],
        "warnings": list(anthology.warnings),
    }


def write(report: dict, target: Path) -> None:
    atomic.write_bytes(target, json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8"))
