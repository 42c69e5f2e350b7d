"""The build: readers -> date -> clean -> order -> images -> writers -> report.

`prepare` does everything that needs no network and writes nothing (used by `inspect`); `build`
adds images and outputs. One bad file never sinks the book: it becomes an entry in `inputs`.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import json
import logging
import os
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from compile import clean, dates, images, order, outlets, readers, report, theme, typeset, volumes
from compile.config import Settings
from compile.model import Anthology, Article
from compile.store import ArticleStore, article_key
from compile.writers import epub as epub_writer
from compile.writers import pdf as pdf_writer
from compile.writers import prepress
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
    ids = {a.source: a.id for a in articles}
    for entry in inputs:
        if entry["source"] in ids:
            entry["id"] = ids[entry["source"]]
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
    images.add_lead_image(article)
    article.outlet = outlets.resolve(article, head)
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
    on_fetch_start: Callable[[int], None] | None = None,
) -> Result:
    chosen = theme.load(settings.theme)
    cache = images.Cache.from_settings(settings.images)
    remove_stale_parts(out_dir)
    prepared = prepare(source, settings, ArticleStore(cache.root))
    anthology = prepared.anthology
    summary = fetch_images(anthology, settings, cache, on_image, on_fetch_start)
    # Text-level typography (and the Simplified/Traditional edition) after images: captions are converted too.
    scripts = typeset.typeset(anthology, settings.script or chosen.script)
    slug = slug_for(source, settings)
    outputs = []
    parts = order.volumes(anthology, settings.volumes, ZoneInfo(settings.timezone), settings.sections)
    books = []
    for part in parts:
        book = Book(anthology=part, theme=chosen, settings=settings,
                    slug=f"{slug}-{part.volume:02d}" if len(parts) > 1 else slug)
        if settings.pdf.pdfa and "pdf" in settings.formats:
            book.attachments = archive_attachments(source, part, prepared, settings, chosen.name)
        books.append(book)
    # Volumes are independent: a process pool, or a Dask cluster with --scheduler (compile/volumes.py).
    write = functools.partial(write_volume, images_fetched=summary is not None)
    done = volumes.run(books, write, out_dir, cache.root, scheduler=settings.scheduler)
    for part, volume in zip(parts, done, strict=True):
        outputs.extend(volume.outputs)
        _take_back(anthology, part, volume, summary, len(parts))
    for output in outputs:
        anthology.warnings.extend(output.notes)
    data = report.build_report(anthology, settings, chosen.name, prepared.inputs, prepared.duplicates, outputs, summary)
    for entry in data["articles"]:
        if entry["id"] in scripts:
            entry["script"] = scripts[entry["id"]]
    if len(parts) > 1:
        data["volumes"] = [report.volume_entry(part) for part in parts]
    report_path = out_dir / f"{slug}.report.json"
    report.write(data, report_path)
    return Result(prepared, outputs, data, report_path)


def remove_stale_parts(folder: Path) -> None:
    """Temporary files of builds that were killed (`.NAME.PID.xxxx.part`, PID no longer running)."""
    for part in folder.glob(".*.part") if folder.is_dir() else []:
        match = re.search(r"\.(\d+)\.[^.]*\.part$", part.name)
        if match and not _alive(int(match[1])):
            part.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fetch_images(anthology: Anthology, settings: Settings, cache: images.Cache, on_image: Callable | None,
                 on_fetch_start: Callable[[int], None] | None):
    all_images = anthology.images
    summary = None
    if settings.images.enabled and all_images:
        if on_fetch_start:
            on_fetch_start(len(all_images))
        summary = images.fetch_all(all_images, settings.images, cache, offline=settings.offline, on_done=on_image)
    for image in all_images:
        if image.status == "pending":
            image.status, image.reason = "skipped", "image fetching is disabled"
    return summary


def archive_attachments(source: Path, part: Anthology, prepared: Prepared, settings: Settings,
                        theme_name: str) -> list[tuple[str, bytes]]:
    """The volume's source files and the report (as it stands before the PDF is written), for PDF/A."""
    files = [(article.source, (source / article.source).read_bytes()) for article in part.articles]
    data = report.build_report(part, settings, theme_name, prepared.inputs, prepared.duplicates, [], None)
    files.append(("report.json", json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")))
    return files


@dataclass
class VolumeDone:
    """What writing a volume produced. From a worker process it comes back as a copy: the book it wrote,
    with what the writers did to it (image variants and statuses, warnings), is taken back by the build."""

    outputs: list[Output]
    anthology: Anthology
    profiles: dict


def write_volume(book: Book, out_dir: Path, cache_root: Path, images_fetched: bool = True) -> VolumeDone:
    """One volume's outputs; a top-level function so that worker processes can run it."""
    summary = images.FetchSummary() if images_fetched else None
    outputs = write_outputs(book, out_dir, images.Cache(cache_root), summary)
    return VolumeDone(outputs, book.anthology, summary.profiles if summary else {})


def _take_back(anthology: Anthology, part: Anthology, volume: VolumeDone, summary, count: int) -> None:
    for mine, theirs in zip(part.articles, volume.anthology.articles, strict=True):
        mine.images, mine.warnings = theirs.images, theirs.warnings
    prefix = f"volume {part.volume}: " if count > 1 else ""
    anthology.warnings.extend(prefix + w for w in volume.anthology.warnings if prefix + w not in anthology.warnings)
    if summary is not None:
        summary.profiles.update(volume.profiles)


def write_outputs(book: Book, out_dir: Path, cache: images.Cache, summary) -> list[Output]:
    outputs = []
    if not book.anthology.articles:
        return outputs
    settings, part = book.settings, book.anthology
    for fmt in settings.formats:
        target = out_dir / f"{book.slug}.{fmt}"
        if fmt == "epub":
            _use_images(part, fmt, images.profile(settings.images.epub_profile, settings.images), cache, settings,
                        summary)
            outputs.append(epub_writer.write(book, target))
        elif fmt == "pdf":
            width = prepress.page_width_mm(settings.pdf.page_size or book.theme.page_size)
            printed = images.profile("print", settings.images, images.text_width_mm(f"{width:g}mm"))
            _use_images(part, fmt, printed, cache, settings, summary)
            outputs.append(pdf_writer.write(book, target, [cache.root]))
            if settings.pdf.impose == "booklet":
                outputs.append(prepress.impose_booklet(target, out_dir / f"{book.slug}.booklet.pdf"))
    return outputs


def _use_images(anthology: Anthology, fmt: str, profile, cache, settings: Settings, summary) -> None:
    """Point every fetched image at its variant for this output (each output has its own)."""
    if summary is None:
        return
    all_images = anthology.images
    budget = settings.images.epub_budget_mb if fmt == "epub" else settings.images.pdf_budget_mb
    entry = images.use_profile(all_images, profile, cache, settings.images, int(budget * 1e6))
    summary.profiles[fmt] = entry
    if entry["recompressed"] and entry["bytes"] > entry["budget"]:
        anthology.warnings.append(entry["recompressed"])


def has_warnings(result: Result) -> bool:
    return bool(
        result.report["warnings"]
        or any(a["warnings"] for a in result.report["articles"])
        or any(i["status"] != "ok" for i in result.report["images"])
        or any(i["status"] == "failed" for i in result.report["inputs"])
    )
