"""The build: readers -> date -> clean -> order -> images -> writers -> report.

`prepare` does everything that needs no network and writes nothing (used by `inspect`); `build`
adds images and outputs. One bad file never sinks the book: it becomes an entry in `inputs`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import functools
import json
import logging
import os
import re
import traceback
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from compile import atomic, locales, processes, readers, sources, theme
from compile.build import reading, report, timings, volumes
from compile.build.store import ArticleStore, TypesetStore, article_key, typeset_fields
from compile.config import ConfigError, Override, Settings
from compile.images import fetch, markup, variants
from compile.images.cache import Cache
from compile.model import Anthology, Article
from compile.readers import site as site_settings
from compile.sanitize import sanitize_html, xml_text
from compile.text import theme_language
from compile.transforms import clean, dates, order, outlets, stories, typeset
from compile.writers import registry
from compile.writers.context import Book, Output, Resources

log = logging.getLogger("anthology")
ARTICLE_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".xhtml", ".text", ""}
CONFIG_NAME = "anthology.toml"


@dataclass
class Prepared:
    anthology: Anthology
    inputs: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    stories_rejected: list[dict] = field(default_factory=list)  # pairs that came near a story without joining


@dataclass
class Result:
    prepared: Prepared
    outputs: list[Output]
    report: dict
    report_path: Path


def discover(source: Path) -> list[sources.Entry]:
    """Every file of the source folder, those that are not read with the reason (compile/sources.py)."""
    return sources.discover(source)


def selected(relative: str, settings: Settings) -> bool:
    """Include/exclude globs from the config; `**/*` also matches files at the top level."""
    path = PurePosixPath(relative)

    def matches(pattern: str) -> bool:
        if pattern.startswith("**/") and matches(pattern[3:]):
            return True
        return path.match(pattern) or fnmatch.fnmatch(relative, pattern)

    return any(matches(p) for p in settings.include) and not any(matches(p) for p in settings.exclude)


def prepare(source: Path, settings: Settings, store: ArticleStore | None = None,
            on_read: Callable[[int, int], None] | None = None) -> Prepared:
    """`on_read(done, total)` as the files are read, for a progress bar (a saved page takes ~0.1 s to read: a large
    archive takes minutes)."""
    zone = ZoneInfo(settings.timezone)
    inputs: list[dict] = []
    articles: list[Article] = []
    packed: dict[str, bytes] = {}  # packed grams by source, for duplicates and stories (as each reader made them)
    packed_units: dict[str, bytes] = {}
    entries = discover(source)
    _require_candidates(source, entries)
    kind = sources.site_kind(source.resolve())
    plans = [_plan(index, entry, settings) for index, entry in enumerate(entries)]
    to_read = [plan for plan in plans if not plan.status]
    # Outcomes come in the folder's order; closing stops the reading workers, however this loop ends.
    with contextlib.closing(_read_all(source, to_read, settings, store, len(entries))) as outcomes:
        for done, plan in enumerate(plans):
            if on_read:
                on_read(done, len(plans))
            relative = plan.entry.relative
            if plan.status:
                inputs.append({"source": relative, "status": plan.status, "reason": plan.reason})
                continue
            outcome = next(outcomes)
            article = _read_reported(relative, outcome, inputs)
            status, reason = _not_for_the_book(relative, article, kind) if article is not None else ("", "")
            if status:
                log.info("%s: %s: %s", relative, status, reason)
                inputs.append({"source": relative, "status": status, "reason": reason})
            elif article is not None:
                inputs.append({"source": relative, "status": "article", "id": article.id,
                               "reader": article.reader, "extraction": article.meta.get("extraction")})
                articles.append(article)
                if outcome.grams:
                    packed[relative], packed_units[relative] = outcome.grams
    if on_read:
        on_read(len(plans), len(plans))
    _unique_ids(articles)
    outlets.unify(articles)  # one name per outlet across the book, before duplicates and sections
    ids = {a.source: a.id for a in articles}
    for entry in inputs:
        if entry["source"] in ids:
            entry["id"] = ids[entry["source"]]
    articles, duplicates = order.drop_duplicates(articles, packed, _spread(settings, len(articles)))
    dropped = {decision["dropped"]: decision for decision in duplicates}
    for entry in inputs:
        if entry["source"] in dropped:
            entry.update(status="duplicate", reason=f"same article as {dropped[entry['source']]['kept']}")
    articles = order.chronological(articles)
    language = settings.language or archive_language(articles)
    title = settings.title or locales.load(locales.edition_language(language))("default_title")
    anthology = Anthology(title=title, subtitle=settings.subtitle, editor=settings.editor, language=language,
                          articles=articles)
    anthology.sections = order.sections(articles, settings.sections, zone)
    grouping = stories.Grouping()
    if settings.stories.enabled:  # after duplicates: a wire copy in another outlet is kept, and grouped here
        grouping = stories.group(articles, settings.stories.threshold, settings.stories.days, packed_units)
    anthology.stories = grouping.stories
    if not articles:
        anthology.warnings.append(f"no articles found in {source}")
    return Prepared(anthology, inputs, duplicates, grouping.rejected)


def archive_language(articles: list[Article]) -> str:
    """The book's language when the config names none: the one most of its articles are written in (zh-Hans,
    zh-Hant, en ...), zh-Hans when none says. A site's own setting is not asked: many Chinese blogs keep their
    template's `languageCode = "en-us"`."""
    counts = Counter(theme_language(article.language) for article in articles if article.language)
    return max(counts, key=lambda tag: (counts[tag], tag == DEFAULT_LANGUAGE)) if counts else DEFAULT_LANGUAGE


DEFAULT_LANGUAGE = "zh-Hans"


# Texts compared for duplicates in forked workers from this many (forking costs ~0.06 s; 300 texts compare in
# ~0.2 s, 1,000 benchmark texts sharing passages in ~1.5 s).
MIN_SPREAD = 400


def _spread(settings: Settings, count: int) -> order.Spread | None:
    workers = reading.workers_for(settings.pdf.workers, count)
    if count < MIN_SPREAD or workers <= 1:
        return None
    return functools.partial(processes.forked_map, workers=workers, batch=1, minimum=2)


@dataclass
class _Plan:
    """One file of the folder: to read (empty `status`), or what became of it without reading."""

    index: int
    entry: sources.Entry
    status: str = ""
    reason: str = ""
    override: Override | None = None


def _plan(index: int, entry: sources.Entry, settings: Settings) -> _Plan:
    status, reason = _triage(entry, settings)
    if status:
        return _Plan(index, entry, status, reason)
    name = PurePosixPath(entry.relative).name
    override = settings.overrides.get(name) or settings.overrides.get(entry.relative)
    if override is not None and override.exclude:
        return _Plan(index, entry, "excluded", "excluded by override")
    return _Plan(index, entry, override=override)


def _is_candidate(entry: sources.Entry) -> bool:
    name = PurePosixPath(entry.relative)
    return not entry.reason and name.name != CONFIG_NAME and name.suffix.lower() in ARTICLE_SUFFIXES


def _require_candidates(source: Path, entries: list[sources.Entry]) -> None:
    """A folder without a single article file is a mistake (a wrong path, an empty download), not a book."""
    if not any(_is_candidate(e) for e in entries):
        found = f"{len(entries)} file(s), none of them an article file" if entries else "it is empty"
        raise ConfigError(f"{source}: no articles to read ({found}; article files end in "
                          f"{', '.join(sorted(s for s in ARTICLE_SUFFIXES if s))} or have no extension)")


def _triage(entry: sources.Entry, settings: Settings) -> tuple[str, str]:
    """(status, reason) of an entry that is not read, ("", "") for one to read."""
    if entry.reason:
        return "skipped", entry.reason
    if PurePosixPath(entry.relative).name == CONFIG_NAME:
        return "skipped", "the anthology's configuration"
    if not _is_candidate(entry):
        return "skipped", "not an article file"
    if not selected(entry.relative, settings):
        return "excluded", "excluded by include/exclude globs"
    return _site_file(entry.relative)


# Files of a static site that are not posts, by name: Hugo's list pages, Jekyll's unpublished drafts.
LIST_PAGE = re.compile(r"_index\.[^/]+")
DRAFTS_FOLDER = "_drafts"
# A repository's own files (`README.md`, `LICENSE`, `LICENSE-MIT`, `CHANGELOG.txt`, `README.zh-CN.md`), by name: not
# articles, unless the file is a post (front matter with a date), as a post that happens to be called readme.md is.
PROJECT_FILE = re.compile(r"(README|LICEN[CS]E|COPYING|CHANGELOG|CHANGES|CONTRIBUTING|CODE_OF_CONDUCT|SECURITY|"
                          r"AUTHORS)([._-][A-Za-z0-9]{1,10}(-[A-Za-z]{2,4})?)?(\.[A-Za-z]{1,8})?", re.I)


def _site_file(relative: str) -> tuple[str, str]:
    """(status, reason) of a static site's file that is never a post, from its path alone; ("", "") otherwise."""
    path = PurePosixPath(relative)
    if LIST_PAGE.fullmatch(path.name):
        return "excluded", f"list page ({path.name})"
    if DRAFTS_FOLDER in path.parts[:-1]:
        return "excluded", f"draft (in a {DRAFTS_FOLDER} folder)"
    return "", ""


def _not_for_the_book(relative: str, article: Article, site: str = "") -> tuple[str, str]:
    """(status, reason) of a file that was read but is no article: a draft, a project file, or a page of a
    Jekyll site (its about page, its home and archive pages: outside `_posts/` and undated)."""
    front = article.meta.get("front_matter") or {}
    if _true(front.get("draft")):
        return "excluded", "draft (front matter draft = true)"
    if "published" in front and not _true(front.get("published"), default=True):
        return "excluded", "draft (front matter published = false)"
    name = PROJECT_FILE.fullmatch(PurePosixPath(relative).name)
    if name and not front.get("date"):
        return "skipped", f"project file ({name[1].upper()})"
    if site == "Jekyll" and POSTS_FOLDER not in PurePosixPath(relative).parts[:-1] and not front.get("date"):
        return "skipped", f"Jekyll page, not a post (outside {POSTS_FOLDER}/, no date in its front matter)"
    return "", ""


POSTS_FOLDER = "_posts"


def _true(value, default: bool = False) -> bool:
    """A front matter flag: YAML/TOML booleans, and the strings people write for them."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "false", "no", "off"):
        return value.strip().lower() in ("true", "yes", "on")
    return default


def _read_all(source: Path, plans: list[_Plan], settings: Settings, store: ArticleStore | None,
              size: int) -> Generator[reading.Outcome, None, None]:
    """Each file's outcome, in order: read in worker processes when there are enough of them (compile/build/reading.py),
    as `pdf.workers` allows; looked up in the store first, and stored by whoever read it."""
    workers = reading.workers_for(settings.pdf.workers, len(plans))
    site = _site(source)
    read = functools.partial(_read_job, _Context(source, settings, store, site))
    jobs = (_job(plan, settings, store, site) for plan in plans)
    yield from reading.run(jobs, read, workers, size, reading.batch_size(len(plans), workers))


def _site(source: Path) -> dates.Site:
    """What the archive says of its posts' dates: its folder's own name, its Hugo config's setting."""
    root = source.resolve()
    return dates.Site(root.name, site_settings.hugo_filename(root))


def _job(plan: _Plan, settings: Settings, store: ArticleStore | None,
         site: dates.Site) -> reading.Job | reading.Outcome:
    """The file's bytes, read once here through the checks of compile/sources.py, as a job for a reader; or its
    outcome already: skipped (a link out, too large ...), or the store's copy."""
    entry = plan.entry
    try:
        data = sources.read_bytes(entry.path, entry.identity, limit=int(settings.max_file_mb * sources.MB))
    except sources.Skipped as exc:
        return reading.Outcome(plan.index, status="skipped", reason=str(exc))
    key = ""
    if store is not None:
        key = article_key(data, entry.relative, plan.override, settings.timezone, site.key())
        article, grams = store.load(key)
        if article is not None:
            return reading.Outcome(plan.index, article, grams=grams)
    return reading.Job(plan.index, entry.relative, entry.path, data, plan.override, key=key)


def _read_reported(relative: str, outcome: reading.Outcome, inputs: list[dict]) -> Article | None:
    """The article, or None with its `inputs` entry added: one bad file never sinks the book."""
    if outcome.status == "skipped":
        log.warning("%s: skipped: %s", relative, outcome.reason)
    if outcome.status:
        inputs.append({"source": relative, "status": outcome.status, "reason": outcome.reason})
    return outcome.article


@dataclass(frozen=True)
class _Context:
    """What every article is read with; sent to the workers along with their jobs."""

    source: Path
    settings: Settings
    store: ArticleStore | None = None  # where each article read is kept (by the worker that read it)
    site: dates.Site = dates.Site()  # what the archive says of its posts' dates

    @functools.cached_property
    def zone(self) -> dt.tzinfo:
        return ZoneInfo(self.settings.timezone)


def _read_job(context: _Context, job: reading.Job) -> reading.Outcome:
    """One article read under its time limit, in a worker or here; a failure is its outcome, never raised."""
    try:
        with sources.time_limit(context.settings.read_seconds):
            article = read_one(context.source, job.path, context.zone, job.override, data=job.data,
                               relative=job.relative, site=context.site)
    except (readers.UnreadableFile, sources.ReadTimeout) as exc:
        log.warning("%s: %s", job.relative, exc)
        return reading.Outcome(job.index, status="failed", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - one bad file must not sink the book
        log.warning("%s: could not be read: %s", job.relative, exc)
        log.debug("%s", traceback.format_exc())
        return reading.Outcome(job.index, status="failed", reason=f"internal error: {exc!r}")
    # What duplicates and stories compare, made here too: in a worker, not in the build's process after reading;
    # and stored with the article, for the builds that take it from the store.
    grams = (order.packed_grams(article), stories.packed_grams(article))
    if context.store is not None and job.key:  # stored where it was read: the workers share this work too
        context.store.put(job.key, article, grams)
    return reading.Outcome(job.index, article, grams=grams)


def read_one(source: Path, path: Path, zone: dt.tzinfo, override, data: bytes | None = None,
             relative: str | None = None, site: dates.Site | None = None) -> Article:
    relative = relative or path.relative_to(source).as_posix()
    if data is None:
        data = sources.read_inside(source, relative)
    article = readers.read_file(source, source / relative, data)
    found = dates.signals(article.body)  # once: dating and the outlet's rules read them
    dates.date_article(article, zone, override.date if override else None, found, site or _site(source))
    article.meta.pop("raw_html", None)  # only dating reads the whole page: keep it out of the store and memory
    head = found.text_head
    clean.clean_article(article, found.parsed)  # the body's tree, built once for dating and cleaning
    markup.add_lead_image(article)
    article.outlet = outlets.resolve(article, head)
    article.title = _bounded_title(article, re.sub(r"\s+", " ", xml_text(article.title)).strip())
    article.author, article.outlet = xml_text(article.author), xml_text(article.outlet)
    if override is not None:
        article.title = override.title or article.title
        article.language = override.language or article.language
    if not article.title:
        article.warn("no title found; the file name is used")
    # The body as the article store gives it back (it sanitises what it loads): cleaning's last tree, written out
    # by BeautifulSoup, may hold what an HTML5 parser mends (a heading inside a <p>: an empty <p></p> after it),
    # and a rebuild would then set another body than the cold build did, and render its pages again.
    article.body = sanitize_html(article.body)
    return article


MAX_TITLE = 300  # characters: a title runs in headings, the TOC and running heads


def _bounded_title(article: Article, title: str) -> str:
    if len(title) <= MAX_TITLE:
        return title
    article.warn(f"title of {len(title):,} characters cut to {MAX_TITLE}")
    return title[:MAX_TITLE - 1] + "…"


# The book's own documents and anchors (the EPUB's cover, title page and nav, the themes' ids): an article
# named cover.md must not replace the cover.
RESERVED_IDS = ("cover", "titlepage", "nav", "toc", "contents")


def _unique_ids(articles: list[Article]) -> None:
    seen: dict[str, int] = dict.fromkeys(RESERVED_IDS, 1)
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
    on_read: Callable[[int, int], None] | None = None,
) -> Result:
    clock = timings.Timings()
    chosen = theme.load(settings.theme)
    cache = Cache.from_settings(settings.images)
    remove_stale_parts(out_dir)
    with clock.stage("read"):
        prepared = prepare(source, settings, ArticleStore(cache.root), on_read)
    anthology = prepared.anthology
    with clock.stage("images"):
        summary = fetch_images(anthology, settings, cache, on_image, on_fetch_start, source)
    # Text-level typography (and the Simplified/Traditional edition) after images: captions are converted too.
    with clock.stage("typeset"):
        scripts = typeset_articles(anthology, settings, _Edition.of(settings.script or chosen.script, settings),
                                   TypesetStore(cache.root))
    slug = slug_for(source, settings)
    outputs = []
    parts = order.volumes(anthology, settings.volumes, ZoneInfo(settings.timezone), settings.sections)
    books = []
    for part in parts:
        if len(parts) > 1:  # a volume says "also reported by" of its own articles only
            part.stories = stories.within(anthology.stories, part.articles)
        book = Book(anthology=part, theme=chosen, settings=settings,
                    slug=f"{slug}-{part.volume:02d}" if len(parts) > 1 else slug, cache_root=cache.root)
        if settings.pdf.pdfa and "pdf" in settings.formats:
            book.attachments = archive_attachments(source, part, prepared, settings, chosen.name)
        books.append(book)
    # Everything is written to a staging folder and published together, under the output folder's lock.
    with atomic.publishing(out_dir) as staging:
        # Volumes are independent: a process pool, or a Dask cluster with --scheduler (compile/build/volumes.py).
        jobs = [volumes.Job(book, staging, cache.root, images_fetched=summary is not None) for book in books]
        with clock.stage("write"):
            done = volumes.run(jobs, write_volume, scheduler=settings.scheduler)
        for part, volume in zip(parts, done, strict=True):
            outputs.extend(volume.outputs)
            _take_back(anthology, part, volume, summary, len(parts))
        for output in outputs:  # a note every volume's writer makes (inactive WeasyPrint patches) warns once
            anthology.warnings.extend(dict.fromkeys(n for n in output.notes if n not in anthology.warnings))
            output.path = out_dir / output.path.relative_to(staging)  # where it will be once published
            if "timing" in output.details:
                clock.add(f"write {output.format}", output.details["timing"]["wall_s"],
                          output.details["timing"]["cpu_s"])
        data = report.build_report(anthology, settings, chosen.name, prepared.inputs, prepared.duplicates, outputs,
                                   summary)
        for entry in data["articles"]:
            if entry["id"] in scripts:
                entry["script"] = scripts[entry["id"]]
        data["stories_rejected"] = prepared.stories_rejected
        if len(parts) > 1:
            data["volumes"] = [report.volume_entry(part) for part in parts]
        data["timings"] = clock.report()
        report.write(data, staging / f"{slug}.report.json")
    return Result(prepared, outputs, data, out_dir / f"{slug}.report.json")


@dataclass(frozen=True)
class _Edition:
    """The script an edition is typeset in, and how it is converted: sent to the workers, which make the
    conversion once each (an OpenCC converter is not sent)."""

    script: str
    profile: str = ""
    protect: tuple[str, ...] = ()
    quotes: str = "corner"
    words: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, script: str, settings: Settings) -> _Edition:
        conversion = settings.conversion
        return cls(script, conversion.profile, tuple(conversion.protect), conversion.quotes,
                   tuple(conversion.words.items()))

    def conversion(self) -> typeset.Conversion | None:
        return _conversion(self) if self.script else None


@functools.lru_cache(maxsize=4)
def _conversion(edition: _Edition) -> typeset.Conversion:
    return typeset.converter(edition.script, edition.profile, edition.protect, edition.quotes, dict(edition.words))


# Typesetting an article takes ~2 ms, a fifth of reading it: a pool (~0.06 s to start, articles sent both ways)
# saves time from about 80 articles on two cores (corpus-dev's 36 took 0.33 s in a pool, 0.08 s here).
MIN_TYPESET = 100


def typeset_articles(anthology: Anthology, settings: Settings, edition: _Edition,
                     store: TypesetStore | None = None) -> dict[str, dict]:
    """Text-level typography and the edition's script (compile/transforms/typeset.py): the book's own texts
    here, the articles in the reading workers (each needs nothing of the others), or from `store` when typeset
    by an earlier build; their script reports."""
    typeset.typeset_book(anthology, edition.conversion())
    articles = anthology.articles
    reports: dict[str, dict] = {}
    keys = [store.key(a, repr(edition)) if store else "" for a in articles]
    jobs: list[reading.Job] = []
    for i, article in enumerate(articles):
        kept = store.get(keys[i], article) if store else None
        if kept is None:
            jobs.append(reading.Job(i, article.source, Path(article.source), b"", article=article, key=keys[i]))
        else:
            _take_typeset(article, kept)
            if kept["report"] is not None:
                reports[article.id] = kept["report"]
    workers = reading.workers_for(settings.pdf.workers, len(jobs), MIN_TYPESET)
    work = functools.partial(_typeset_job, edition, store)
    # The jobs keep their places in the book: the workers' shared table is the book's size.
    for outcome in reading.run(jobs, work, workers, len(articles), reading.batch_size(len(jobs), workers)):
        article = articles[outcome.index]
        if outcome.article is None:  # its worker died on it: the text stays as it was read
            article.warn(f"typography not applied: {outcome.reason}")
            continue
        _take_typeset(article, typeset_fields(outcome.article))
        if outcome.report is not None:
            reports[article.id] = outcome.report
    return reports


def _typeset_job(edition: _Edition, store: TypesetStore | None, job: reading.Job) -> reading.Outcome:
    """One article typeset, and kept in `store` by whoever typeset it (a worker: the writes go side by side)."""
    assert job.article is not None
    try:
        report = typeset.typeset_article(job.article, edition.conversion())
    except Exception as exc:  # noqa: BLE001 - one article's typography must not sink the book
        log.debug("%s", traceback.format_exc())
        return reading.Outcome(job.index, status="failed", reason=f"internal error: {exc!r}")
    if store and job.key:
        store.put(job.key, {**typeset_fields(job.article), "report": report})
    return reading.Outcome(job.index, job.article, report=report)


def _take_typeset(article: Article, done: dict) -> None:
    """What typesetting changed (a worker's copy, or a kept one: the book's sections hold this very article)."""
    article.body, article.title, article.outlet, article.language = (done[name] for name in
                                                                     ("body", "title", "outlet", "language"))
    for image, (caption, alt) in zip(article.images, done["images"], strict=True):
        image.caption, image.alt = caption, alt


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


def fetch_images(anthology: Anthology, settings: Settings, cache: Cache, on_image: Callable | None,
                 on_fetch_start: Callable[[int], None] | None, source: Path | None = None):
    """Every image's original into the cache: downloaded, or read from `source` (the source folder) for a
    relative reference that names one of its files."""
    all_images = anthology.images
    summary = None
    if settings.images.enabled and all_images:
        if on_fetch_start:
            on_fetch_start(len(all_images))
        summary = fetch.fetch_all(all_images, settings.images, cache, offline=settings.offline, on_done=on_image,
                                  source=source, retry=settings.retry_images)
    for image in all_images:
        if image.status == "pending":
            image.status, image.reason = "skipped", "image fetching is disabled"
    return summary


def archive_attachments(source: Path, part: Anthology, prepared: Prepared, settings: Settings,
                        theme_name: str) -> list[tuple[str, bytes]]:
    """The volume's source files and the report (as it stands before the PDF is written), for PDF/A."""
    # Read again through the same checks as the articles were (compile/sources.py): never a link out of the folder.
    limit = int(settings.max_file_mb * sources.MB)
    files = [(_attachment_name(article.source), sources.read_inside(source, article.source, limit))
             for article in part.articles]
    data = report.build_report(part, settings, theme_name, prepared.inputs, prepared.duplicates, [], None)
    files.append(("report.json", json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")))
    return files


def _attachment_name(relative: str) -> str:
    """A file name a PDF reader shows and saves as it is: no backslashes (`x\\..\\Startup\\evil.bat.md` on
    Windows), no control or bidi characters (`c` U+202E `gpj.md` shows as "cdm.jpg")."""
    return "".join(c if c.isprintable() and c != "\\" else "_" for c in relative)


def write_volume(job: volumes.Job) -> volumes.Done:
    """One volume's outputs; a top-level function so that worker processes can run it."""
    summary = fetch.FetchSummary() if job.images_fetched else None
    outputs = write_outputs(job.book, job.out_dir, Cache(job.cache_root), summary)
    return volumes.Done(outputs, job.book.anthology, summary.profiles if summary else {})


def _take_back(anthology: Anthology, part: Anthology, volume: volumes.Done, summary, count: int) -> None:
    for mine, theirs in zip(part.articles, volume.anthology.articles, strict=True):
        mine.images, mine.warnings = theirs.images, theirs.warnings
    prefix = f"volume {part.volume}: " if count > 1 else ""
    anthology.warnings.extend(prefix + w for w in volume.anthology.warnings if prefix + w not in anthology.warnings)
    if summary is not None:
        summary.profiles.update(volume.profiles)


def write_outputs(book: Book, out_dir: Path, cache: Cache, summary: fetch.FetchSummary | None) -> list[Output]:
    """Each format's outputs (compile/writers/registry.py), its images made for it first.

    The images of every format are made here, in the formats' order (a variant that fails for one is missing
    from the next, as it always was); then the formats are written side by side, the PDF here and the others
    each in a forked process of its own, each seeing its own images. A one-edit rebuild then costs its PDF,
    not the sum."""
    if not book.anthology.articles:
        return []
    resources = Resources(cache_root=cache.root, image_roots=(cache.root,))
    formats = book.settings.formats
    images: dict[str, _ImageState] = {}
    timing: dict[str, dict] = {}
    for fmt in formats:
        timing[fmt] = {}
        with timings.measured(timing[fmt]):
            _use_images(book.anthology, fmt, registry.WRITERS[fmt].images(book), cache, book.settings, summary)
        images[fmt] = _ImageState.of(book.anthology)

    def write(fmt: str) -> _Written:
        images[fmt].restore(book.anthology)
        before = _Said.of(book.anthology)
        spent: dict = {}
        with timings.measured(spent):
            written = registry.WRITERS[fmt].write(book, out_dir / f"{book.slug}.{fmt}", resources)
        if written:  # the report's `timings` adds them up per format
            written[0].details["timing"] = timings.added(timing[fmt]["timing"], spent["timing"])
        return _Written(written, before.taken_back(book.anthology))

    # The PDF, the longest, is written here: its own pool of workers is this process's.
    here = "pdf" if "pdf" in formats else formats[-1]
    aside = [fmt for fmt in formats if fmt != here] if book.workers > 1 else []
    with processes.aside(write, aside) as written_aside:
        mine = {fmt: write(fmt) for fmt in formats if fmt not in aside}
        done = {**{fmt: _died(book, fmt, result) if isinstance(result, processes.Died) else result
                   for fmt, result in zip(aside, written_aside(), strict=True)}, **mine}
    images[formats[-1]].restore(book.anthology)  # the book's images end as the last format left them
    for fmt in formats:  # what each writer said of the book, in the formats' order wherever it was written
        done[fmt].said.tell(book.anthology)
    return [output for fmt in formats for output in done[fmt].outputs]


def _died(book: Book, fmt: str, died: processes.Died) -> _Written:
    """A format whose process died (out of memory): not written, the book says so, the others go on."""
    said = f"{fmt.upper()}: not written: {died.how}"
    log.warning("%s", said)
    return _Written([], _Said([said], [[] for _ in book.anthology.articles]))


@dataclass(frozen=True)
class _ImageState:
    """Where every image of the book points for one format (its variant), and how that went."""

    states: tuple[tuple, ...]

    @classmethod
    def of(cls, anthology: Anthology) -> _ImageState:
        return cls(tuple((i.path, i.media_type, i.status, i.reason) for i in anthology.images))

    def restore(self, anthology: Anthology) -> None:
        for image, (path, media_type, status, reason) in zip(anthology.images, self.states, strict=True):
            image.path, image.media_type, image.status, image.reason = path, media_type, status, reason


@dataclass
class _Said:
    """The book's warnings and each article's: how many there were, or what a writer added."""

    book: list[str]
    articles: list[list[str]]

    @classmethod
    def of(cls, anthology: Anthology) -> _Said:
        return cls(list(anthology.warnings), [list(a.warnings) for a in anthology.articles])

    def taken_back(self, anthology: Anthology) -> _Said:
        """What was added to `anthology` since this was taken, taken out of it again."""
        added = _Said(anthology.warnings[len(self.book):],
                      [a.warnings[len(had):] for a, had in zip(anthology.articles, self.articles, strict=True)])
        del anthology.warnings[len(self.book):]
        for article, had in zip(anthology.articles, self.articles, strict=True):
            del article.warnings[len(had):]
        return added

    def tell(self, anthology: Anthology) -> None:
        anthology.warnings.extend(self.book)
        for article, warnings in zip(anthology.articles, self.articles, strict=True):
            article.warnings.extend(warnings)


@dataclass
class _Written:
    """A format's outputs, and what its writer said of the book."""

    outputs: list[Output]
    said: _Said


def _use_images(anthology: Anthology, fmt: str, wanted: registry.ImageSpec, cache: Cache,
                settings: Settings, summary: fetch.FetchSummary | None) -> None:
    """Point every fetched image at its variant for this output (each output has its own)."""
    if summary is None:
        return
    profile = variants.profile(wanted.profile, settings.images, wanted.width_mm)
    entry = variants.use_profile(anthology.images, profile, cache, settings.images, int(wanted.budget_mb * 1e6))
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
