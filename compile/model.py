"""The document model: what readers produce, transforms refine and writers consume.

Nothing here knows about EPUB or PDF.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass
class DateFinding:
    """A date found by one rule: the value, how precise it is, and which rule found it."""

    value: datetime  # always timezone-aware
    precision: str  # "minute" | "second" | "day" | "month"
    source: str  # e.g. "json-ld", "dateline", "front-matter", "override", "archived"
    inferred: bool = False  # part of the value (the year) was inferred, not read


@dataclass
class Image:
    """One image of an article, from its URL in the source to a local file."""

    url: str  # the original URL, after unwrapping proxies and resolving relative URLs
    found_url: str = ""  # the URL as written in the source (may be a proxy)
    caption: str = ""
    alt: str = ""
    status: str = "pending"  # pending | ok | failed | skipped
    reason: str = ""
    path: Path | None = None  # the processed file, once fetched
    media_type: str = ""
    width: int = 0
    height: int = 0
    bytes: int = 0
    from_cache: bool = False
    variants: dict = field(default_factory=dict)  # per output profile: width, height, bytes, media_type
    local: str = ""  # a file of the source folder the source names (relative POSIX path), read instead of the URL
    digest: str = ""  # SHA-256 of the local file's bytes, once read: its name in the image cache


@dataclass
class Article:
    id: str  # stable, from the source path
    source: str  # source file, relative to the source folder
    title: str = ""
    url: str = ""
    outlet: str = ""
    author: str = ""
    language: str = ""
    body: str = ""  # an HTML fragment; cleaned by clean.py
    reader: str = ""  # which reader made it
    encoding: str = "utf-8"
    meta: dict = field(default_factory=dict)  # what the reader found: front matter, meta tags, JSON-LD
    published: datetime | None = None
    precision: str = ""
    date_source: str = ""  # "" when no date could be found: the article is flagged
    archived: datetime | None = None
    images: list[Image] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def dated(self) -> bool:
        return self.published is not None

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


@dataclass
class Section:
    title: str
    key: str
    articles: list[Article]


@dataclass
class Story:
    """Articles of different outlets reporting one event (wire copies, rewrites): each is kept in the book."""

    key: str  # the leading (earliest) article's id
    articles: list[Article]  # chronological; the first leads, the others "also reported by"
    decisions: list[dict] = field(default_factory=list)  # why each article joined: for the report


@dataclass
class Anthology:
    title: str
    language: str
    subtitle: str = ""
    editor: str = ""
    articles: list[Article] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    volume: int = 0  # 1, 2 ... when the archive is split into volumes; 0 for a single book
    volume_count: int = 0
    stories: list[Story] = field(default_factory=list)  # only groups of two or more articles

    @property
    def images(self) -> list[Image]:
        """Every article's images, in reading order."""
        return [image for article in self.articles for image in article.images]

    @property
    def date_range(self) -> tuple[datetime, datetime] | None:
        dates = [a.published for a in self.articles if a.published]
        return (min(dates), max(dates)) if dates else None
