"""The build: readers -> date -> clean -> order -> images -> writers -> report.

`prepare` does everything that needs no network and writes nothing (used by `inspect`); `build`
adds images and outputs. One bad file never sinks the book: it becomes an entry in `inputs`.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from compile import clean, dates, images, order, outlets, readers, report, theme, volumes
from compile.config import Settings
from compile.model import Anthology, Article
from compile.store import ArticleStore, article_key
from compile.writers import epub as epub_writer
from compile.writers import pdf as pdf_writer
from compile.writers.context import Book, Output

log = logging.getLogger("anthology")
ARTICLE_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".xhtml", ".text", ""}
CONFIG_NAME = "anthology.toml"


@dataclass
class Prepared:
    anthology: Anthology
    inputs: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)


@dataclass
class Result:
    prepared: Prepared
    outputs: list[Output]
    report: dict
    report_path: Path


def discover(source: Path) -> list[Path]:
    return sorted(
        p for p in source.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source).parts)
    )


def selected(relative: str, settings: Settings) -> bool:
    """Include/exclude globs from the config; `**/*` also matches files at the top level."""
    path = PurePosixPath(relative)

    def matches(pattern: str) -> bool:
        if pattern.startswith("**/") and matches(pattern[3:]):
            return True
        return path.match(pattern) or fnmatch.fnmatch(relative, pattern)

    return any(matches(p) for p in settings.include) and not any(matches(p) for p in settings.exclude)


def prepare(source: Path, settings: Settings, store: ArticleStore | None = None) -> Prepared:
    zone = ZoneInfo(settings.timezone)
    inputs, articles = [], []
    for path in discover(source):
        relative = path.relative_to(source).as_posix()
        if path.name == CONFIG_NAME:
            inputs.append({"source": relative, "status": "skipped", "reason": "the anthology's configuration"})
            continue
        if path.suffix.lower() not in ARTICLE_SUFFIXES:
            inputs.append({"source": relative, "status": "skipped", "reason": "not an article file"})
            continue
        if not selected(relative, settings):
            inputs.append({"source": relative, "status": "excluded", "reason": "excluded by include/exclude globs"})
            continue
        override = settings.overrides.get(path.name) or settings.overrides.get(relative)
        if override is not None and override.exclude:
            inputs.append({"source": relative, "status": "excluded", "reason": "excluded by override"})
            continue
        try:
            article = read_cached(source, path, settings, zone, override, store)
        except readers.UnreadableFile as exc:
            log.warning("%s: %s", relative, exc)
            inputs.append({"source": relative, "status": "failed", "reason": str(exc)})
            continue
        except Exception as exc:  # noqa: BLE001 - one bad file must not sink the book
            log.warning("%s: could not be read: %s", relative, exc)
            log.debug("%s", traceback.format_exc())
            inputs.append({"source": relative, "status": "failed", "reason": f"internal error: {exc!r}"})
            continue
        inputs.append({"source": relative, "status": "article", "id": article.id})
        articles.append(article)
    _unique_ids(articles)
    articles, duplicates = order.drop_duplicates(articles)
    for decision in duplicates:
        for entry in inputs:
            if entry["source"] == decision["dropped"]:
                entry.update(status="duplicate", reason=f"same article as {decision['kept']}")
    articles = order.chronological(articles)
    anthology = Anthology(title=settings.title, subtitle=settings.subtitle, editor=settings.editor,
                          language=settings.language, articles=articles)
    anthology.sections = order.sections(articles, settings.sections, zone)
    if not articles:
        anthology.warnings.append(f"no articles found in {source}")
    return Prepared(anthology, inputs, duplicates)


def read_cached(source: Path, path: Path, settings: Settings, zone: dt.tzinfo, override,
                store: ArticleStore | None) -> Article:
    """read_one, through the incremental store when there is one."""
    if store is None:
        return read_one(source, path, zone, override)
    relative = path.relative_to(source).as_posix()
    key = article_key(path.read_bytes(), relative, override, settings.timezone)
    article = store.get(key)
    if article is None:
        article = read_one(source, path, zone, override)
        store.put(key, article)
    return article


def read_one(source: Path, path: Path, zone: dt.tzinfo, override) -> Article:
    article = readers.read_file(source, path)
    dates.date_article(article, zone, override.date if override else None)
    head, _ = dates.body_signals(article.body)
    clean.clean_article(article)
    article.outlet = article.outlet or outlets.from_dateline(head) or outlets.from_host(article.url)
    article.title = re.sub(r"\s+", " ", article.title).strip()
    if override is not None:
        article.title = override.title or article.title
        article.language = override.language or article.language
    if not article.title:
        article.warn("no title found; the file name is used")
    return article


def _unique_ids(articles: list[Article]) -> None:
    seen: dict[str, int] = {}
    for article in articles:
        count = seen.get(article.id, 0)
        seen[article.id] = count + 1
        if count:
            article.warn(f"id '{article.id}' is already taken; renamed '{article.id}-{count + 1}'")
            article.id = f"{article.id}-{count + 1}"


def slug_for(source: Path, settings: Settings) -> str:
    if settings.slug:
        return settings.slug
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", source.resolve().name).strip("-.")
    return name or "anthology"


def build(
    source: Path,
    out_dir: Path,
    settings: Settings,
    on_image: Callable | None = None,
) -> Result:
    chosen = theme.load(settings.theme)
    cache = images.Cache.from_settings(settings.images)
    prepared = prepare(source, settings, ArticleStore(cache.root))
    anthology = prepared.anthology
    summary = fetch_images(anthology, settings, cache, on_image)
    slug = slug_for(source, settings)
    outputs = []
    parts = order.volumes(anthology, settings.volumes, ZoneInfo(settings.timezone), settings.sections)
    books = [Book(anthology=part, theme=chosen, settings=settings,
                  slug=f"{slug}-{part.volume:02d}" if len(parts) > 1 else slug) for part in parts]
    # Volumes are independent: a process pool, or a Dask cluster with --scheduler (compile/volumes.py).
    for written in volumes.run(books, write_volume, out_dir, cache.root, scheduler=settings.scheduler):
        outputs.extend(written)
    for output in outputs:
        anthology.warnings.extend(output.notes)
    data = report.build_report(anthology, settings, chosen.name, prepared.inputs, prepared.duplicates, outputs, summary)
    if len(parts) > 1:
        data["volumes"] = [report.volume_entry(part) for part in parts]
    report_path = out_dir / f"{slug}.report.json"
    report.write(data, report_path)
    return Result(prepared, outputs, data, report_path)


def fetch_images(anthology: Anthology, settings: Settings, cache: images.Cache, on_image: Callable | None):
    all_images = [image for article in anthology.articles for image in article.images]
    summary = None
    if settings.images.enabled and all_images:
        summary = images.fetch_all(all_images, settings.images, cache, offline=settings.offline, on_done=on_image)
    for image in all_images:
        if image.status == "pending":
            image.status, image.reason = "skipped", "image fetching is disabled"
    return summary


def write_volume(book: Book, out_dir: Path, cache_root: Path) -> list[Output]:
    """One volume's outputs; a top-level function so that worker processes can run it."""
    return write_outputs(book, out_dir, images.Cache(cache_root))


def write_outputs(book: Book, out_dir: Path, cache: images.Cache) -> list[Output]:
    outputs = []
    if not book.anthology.articles:
        return outputs
    for fmt in book.settings.formats:
        target = out_dir / f"{book.slug}.{fmt}"
        if fmt == "epub":
            outputs.append(epub_writer.write(book, target))
        elif fmt == "pdf":
            outputs.append(pdf_writer.write(book, target, [cache.root]))
    return outputs


def has_warnings(result: Result) -> bool:
    return bool(
        result.report["warnings"]
        or any(a["warnings"] for a in result.report["articles"])
        or any(i["status"] != "ok" for i in result.report["images"])
        or any(i["status"] == "failed" for i in result.report["inputs"])
    )
