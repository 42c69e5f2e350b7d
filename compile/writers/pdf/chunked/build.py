"""Chunked PDF rendering: independent chunks in parallel worker processes, cached, stamped onto a frame.

WeasyPrint's layout is linear in pages and single-threaded, so a big book is cut into chunks (runs of
articles, see split) that worker processes render at the same time. A chunk's layout does not depend
on where it lands because the theme's text block has the same width on left and right pages: a chunk is
rendered from a right page, without margin boxes, and a page that lands on a left page is shifted. The
frame (see split) supplies folios, running heads, blank pages, the front matter with its table of
contents, the outline and the link destinations; merge stamps the chunk pages onto it.

Every chunk's PDF is cached by what produced it (its HTML, the theme's files, the images it uses, the
extra CSS, the code and WeasyPrint's version), and so is the frame: after editing one article only that
article's chunk is rendered again (and the frame, if the page sequence changed), then merged.

What renders (worker.py) is apart from what plans and merges (here): this module does not import WeasyPrint, so
deciding whether a book is chunked, and printing a vertical book with Chromium, does not load it (~0.7 s). A
chunked build loads it before it forks its workers, which inherit it.

Nothing here is taken on trust: the frame must show exactly the chunks' page sequence with the same text
block on every page, or the writer falls back to one pass and says why. A render in a worker has a time limit
(`time_limit`): past it the workers are killed and the PDF fails, naming the chunk's articles.
"""

from __future__ import annotations

import atexit
import gc
import json
import logging
import multiprocessing
import os
import re
import tempfile
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from compile import atomic, cachekey, fonts, processes
from compile.writers import parts
from compile.writers.context import Book, Output
from compile.writers.pdf import document, prepress
from compile.writers.pdf.chunked import split
from compile.writers.pdf.chunked.jobs import CHUNK_CSS, Facts, Job, Page, Placement, Style

log = logging.getLogger("anthology")

PX_TO_PT = 0.75  # WeasyPrint measures in CSS pixels (1/96 in); PDF in points (1/72 in)
MIN_ARTICLES = 24  # below this, one pass is about as fast and simpler
# A render in a worker may take CHUNK_SECONDS per CHUNK_CHARS of its HTML (at least CHUNK_SECONDS): a
# 24-article chunk takes a few seconds, so only a pathological article reaches it.
CHUNK_SECONDS = 300.0
CHUNK_CHARS = 500_000
POLL_SECONDS = 1.0  # how often running renders are checked against their limit
LATE_POLL_SECONDS = 0.05  # and for the parts' page facts, while the frame waits for them


@dataclass
class Stats:
    """What a chunked build did: for tests, benchmarks and the verbose log."""

    chunks: int = 0
    rendered: int = 0  # chunks rendered in this build (the rest came from the cache)
    parts: int = 0  # of the chunks, the book's parts rendered apart from the frame
    rounds: int = 0  # how many times they were made (again when the frame moved an article)
    frame_rendered: bool = False
    frame_beside: bool = False  # laid out beside the parts, on their pages of the book's last build, which held
    workers: int = 1
    seconds: dict = field(default_factory=dict)


@dataclass
class Chunk:
    units: list[split.Unit]
    html: str = ""
    key: str = ""
    pieces: list[Chunk] = field(default_factory=list)  # rendered whole: its one-article pieces, kept as slices


# ------------------------------------------------------------------------------------------------ plan

def plan(units: list[split.Unit], target: int) -> list[list[split.Unit]]:
    """Runs of units; a chunk ends after an article whose id hashes to 0 mod `target` (or at 2×target).

    Content-defined boundaries (as in rsync) keep chunks stable: editing, adding or removing one article
    changes only its own chunk, never shifts the others, so the cache keeps serving them.
    """
    chunks: list[list[split.Unit]] = [[]]
    for unit in units:
        chunks[-1].append(unit)
        articles = sum(u.kind == "article" for u in chunks[-1])
        if unit.kind == "article" and (int(unit.digest[:8], 16) % target == 0 or articles >= 2 * target):
            chunks.append([])
    return [c for c in chunks if c]


def wanted(book: Book) -> bool:
    mode = book.settings.pdf.mode
    settings = book.settings.pdf
    if mode == "single" or settings.pdfa or settings.bleed or settings.pdfx or settings.tagged:
        return False  # PDF/A, PDF/X, tags and bleed boxes are made by WeasyPrint's writer for the whole document
    if mode == "chunked":
        return True
    return book.workers > 1 and len(book.anthology.articles) >= MIN_ARTICLES


# ------------------------------------------------------------------------------------------------ cache

def theme_digest(book: Book) -> str:
    """Every file of the theme (CSS, templates, fonts it ships) and the stylesheets it borrows: any change
    invalidates every chunk."""
    parts: list[bytes | str] = []
    for path in sorted(p for p in book.theme.root.rglob("*") if p.is_file()):
        parts += [path.relative_to(book.theme.root).as_posix(), path.read_bytes()]
    for path in book.theme.print_stylesheets():
        if not path.is_relative_to(book.theme.root):  # borrowed from the theme it extends
            parts += [str(path), path.read_bytes()]
    return cachekey.digest(*parts)


def _files_in(html: str) -> list[str]:
    """The local files a chunk uses (images): their size and mtime are part of its key. Each is the file the
    fetcher will check and open (document.local_path); a URL it refuses is keyed as written."""
    urls = sorted(set(re.findall(r'file://[^"\'\s)]+', html)))
    return [cachekey.file_state(path) if (path := document.local_path(url)) else f"{url}:refused" for url in urls]


KEY = re.compile(r"[0-9a-f]{64}")  # a cache key (cachekey.digest)


class ChunkCache:
    """Rendered chunk PDFs and their page facts, by key. Entries are written atomically.

    The cache folder is not trusted (docs/security.md): the facts file carries a MAC with the user's key
    (compile/cachekey.py) over the facts and the PDF's bytes, so a PDF or facts placed there by anyone else is
    a miss, rendered again and overwritten, never stamped into the book.
    """

    KIND = "pdf-chunk"

    def __init__(self, root: Path):
        self.entries = cachekey.Entries(root / "pdf", self.KIND)  # the facts; the PDF beside them
        self.slices = cachekey.Entries(root / "pdf", "pdf-slice", ".slice.json")  # pages of another entry
        self.part_pages = cachekey.Entries(root / "pdf", "pdf-part-pages", ".parts.json")  # by book: _parts_and_frame
        self._whole: dict[str, Facts | None] = {}  # entries checked in this build, by key

    def paths(self, key: str) -> tuple[Path, Path]:
        meta = self.entries.path(key)
        return meta.with_suffix(".pdf"), meta

    def pdf(self, key: str, facts: Facts) -> Path:
        """The PDF that holds the pages of `facts`, found under `key`."""
        return self.paths(facts.source or key)[0]

    def has(self, key: str) -> bool:
        """Whether an entry or a slice is there (get() still checks it)."""
        return all(path.is_file() for path in self.paths(key)) or self.slices.path(key).is_file()

    def get(self, key: str, drawn: bool = True) -> Facts | None:
        """The facts stored under `key` (and its PDF, when `drawn`: a skeleton has facts only), or a slice's:
        pages of another entry's PDF (`Facts.source`), which must be whole and hold them."""
        found = self._entry(key, drawn)
        if found is not None or not drawn:
            return found
        try:
            payload = self.slices.get(key)
            sliced = Facts.loads(payload) if payload is not None else None
        except (ValueError, KeyError, TypeError):
            return None
        if sliced is None or not KEY.fullmatch(sliced.source) or sliced.first < 0:
            return None
        source = self.whole(sliced.source)  # a chunk rendered again since (a font upgraded ...) has other pages
        if source is None or source.pages[sliced.first:sliced.first + len(sliced.pages)] != sliced.pages:
            return None
        return sliced

    def whole(self, key: str) -> Facts | None:
        """A rendered entry's facts for its slices, its PDF checked once a build (a chunk's slices share it)."""
        if key not in self._whole:
            self._whole[key] = self._entry(key, drawn=True)
        return self._whole[key]

    def _entry(self, key: str, drawn: bool) -> Facts | None:
        pdf, _ = self.paths(key)
        try:
            payload = self.entries.get(key, cachekey.read_entry(pdf) if drawn else b"")
            facts = Facts.loads(payload) if payload is not None else None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return facts if facts is None or not facts.source else None  # an entry is rendered pages, not a slice

    def put(self, key: str, facts: Facts, drawn: bool = True) -> None:
        """Seal the facts with the PDF the render just wrote; without a key, or on a full disk, the chunk is
        simply not reused next time."""
        pdf, _ = self.paths(key)
        try:
            drawing = pdf.read_bytes() if drawn else b""
        except OSError as exc:
            self.entries.failed(exc)
            return
        self.entries.put(key, facts.dumps(), drawing)
        self._whole.pop(key, None)

    def pages_of_parts(self, key: str, ids: list[str]) -> dict[str, int] | None:
        """The pages each part (by id) took in the last build stored under `key`, if sealed and of that shape."""
        try:
            payload = self.part_pages.get(key)
            found = json.loads(payload) if payload is not None else None
        except ValueError:
            return None
        if not (isinstance(found, dict) and sorted(found) == sorted(ids)
                and all(type(pages) is int and pages > 0 for pages in found.values())):
            return None
        return found

    def keep_pages_of_parts(self, key: str, pages: dict[str, int]) -> None:
        self.part_pages.put(key, json.dumps(pages, sort_keys=True).encode())

    def put_slice(self, key: str, facts: Facts) -> None:
        """Keep `facts` (pages of the entry `facts.source`) under `key`: a piece of a chunk rendered whole is
        then found without rendering it (the source's PDF is checked whenever a slice is read)."""
        self.slices.put(key, facts.dumps())


# ------------------------------------------------------------------------------------------------ workers

_POOL: dict[int, ProcessPoolExecutor] = {}


def _init_worker(parent: int) -> None:
    processes.init_worker(parent)  # dies with the build, leaves Ctrl-C to it
    from compile.writers.pdf.chunked import worker  # WeasyPrint and the writer's extensions, once per worker

    gc.freeze()  # what is imported lives as long as the worker: no collection need walk it again
    worker.in_worker()


def task(name: str, *args: Any) -> Any:
    """worker.py's function `name` on `args`, looked up where it runs: this module does not import worker.py
    (and WeasyPrint) at its own import, so deciding whether to chunk, and Chromium's path, do not load it."""
    from compile.writers.pdf.chunked import worker

    return getattr(worker, name)(*args)


def local(job: Job) -> Facts:
    """A job rendered in this process (one worker: no pool)."""
    return task("render", job)


def pool(workers: int) -> ProcessPoolExecutor:
    """One pool per process, reused by every volume and every build in it."""
    if workers not in _POOL:
        # Forked: the workers inherit WeasyPrint, imported by build() (and whatever the process set up).
        _POOL[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                                             initializer=_init_worker, initargs=(os.getpid(),))
    return _POOL[workers]


@atexit.register
def close_pools() -> None:
    """Kill the workers, busy or not (at exit; Ctrl-C; a render over its time limit; a benchmark's cold runs)."""
    for executor in _POOL.values():
        processes.stop(executor)
    _POOL.clear()


# ------------------------------------------------------------------------------------------------ build

class PartsInFrame(Exception):
    """The book's parts cannot be rendered apart (a reference whose page is unknown; pages that do not
    settle): the build lays them out in the frame instead."""


def build(book: Book, target: Path, image_roots: list[Path], cache_root: Path,
          workers: int = 1) -> tuple[Output, Stats]:
    """Chunked PDF of `book` at `target`. Raises split.NotChunkable when it cannot be done safely."""
    clock = time.perf_counter()
    # WeasyPrint, once: the workers forked below inherit it, the merge needs its fonts (~0.7 s to import; tried
    # in each worker instead, alongside this process's work, it cost a rebuild more than it saved on 2 cores).
    from compile.writers.pdf.chunked import worker  # noqa: F401

    style = _style(book, image_roots)
    if workers > 1:  # the workers warm up (the stylesheets) while the book's HTML is made
        executor = pool(workers)
        for _ in range(workers):
            executor.submit(task, "warm", style)
    html = document.html_document(book, weasyprint_breaks=True)
    if parts_apart(book):
        try:
            return _build(book, html, style, target, cache_root, workers, apart=True, clock=clock)
        except PartsInFrame as exc:
            log.info("pdf: the book's parts are laid out in the frame: %s", exc)
            clock = time.perf_counter()
    return _build(book, html, style, target, cache_root, workers, apart=False, clock=clock)


# A stylesheet that sets the page counter: a page's number is then not its place in the book.
_PAGE_COUNTER = re.compile(r"counter-(?:reset|set|increment)\s*:[^;}]*\bpage\b")


def parts_apart(book: Book) -> bool:
    """Whether the parts after the articles can be chunks of their own: their page references are given
    (known_targets), as each article's place in the book."""
    from compile.writers.pdf.chunked import worker

    sheets = (path.read_text(encoding="utf-8", errors="replace") for path in book.theme.print_stylesheets())
    return worker.parts_can_be_apart() and not any(_PAGE_COUNTER.search(text) for text in sheets)


def _style(book: Book, image_roots: list[Path]) -> Style:
    css = tuple(str(path) for path in book.theme.print_stylesheets())
    page_css = prepress.stylesheet(book.settings.pdf)  # page size
    # Cached layouts hold for these fonts only: a font upgraded between builds renders everything again.
    common = cachekey.digest(cachekey.code_version(), _weasyprint_version(), fonts.fingerprint(),
                             theme_digest(book), *css, page_css)
    return Style(css, page_css, roots=(str(book.theme.root), *map(str, image_roots)),
                 base_url=book.theme.root.as_uri() + "/", common=common)


def _build(book: Book, html: str, style: Style, target: Path, cache_root: Path, workers: int,
           apart: bool, clock: float) -> tuple[Output, Stats]:
    stats = Stats(workers=workers)
    css, common = style.css, style.common
    cache = ChunkCache(cache_root)
    part_ids = frozenset(parts.element_id(name) for name in book.theme.parts.back) if apart else frozenset()
    cut = split.split(html, [a.id for a in book.anthology.articles], part_ids)
    body = [unit for unit in cut.units if unit.kind != "part"]
    chunks = [Chunk(units) for units in plan(body, book.settings.pdf.chunk_articles)]
    for chunk in chunks:
        _key(chunk, cut, common)
    chunks = finer(chunks, cut, common, cache, workers)
    stats.seconds["split"] = time.perf_counter() - clock

    probe(cache, style, workers)
    facts = _render_chunks(chunks, cache, style, workers, stats)
    keep_slices(chunks, facts, cache, cut)
    stats.seconds["chunks"] = time.perf_counter() - clock - stats.seconds["split"]

    counts = unit_pages(chunks, facts)
    reads_text = any("target-text(" in Path(path).read_text(encoding="utf-8", errors="replace") for path in css)
    frame = _Frame(cut, cache, style, workers, prunable=not reads_text)
    part_chunks, part_facts, frame_facts, frame_key = _parts_and_frame(frame, body, counts, stats)
    chunks, facts = chunks + part_chunks, facts + part_facts

    started = time.perf_counter()
    from compile.writers.pdf.chunked import fontshare, merge

    placements = place(cut.units, chunks, facts, frame_facts.pages, counts)
    try:
        with atomic.replacing(target) as tmp:
            sources = [cache.pdf(chunk.key, fact) for chunk, fact in zip(chunks, facts, strict=True)]
            pages = merge.stamp(cache.paths(frame_key)[0], sources, placements, tmp, stats.seconds, cache_root)
    except fontshare.Deferred as exc:
        raise split.NotChunkable(f"a font cannot be embedded after the merge: {exc}") from exc
    stats.chunks = len(chunks)
    stats.seconds["merge"] = time.perf_counter() - started
    stats.seconds["total"] = time.perf_counter() - clock
    refused = sorted({url for f in [*facts, frame_facts] for url in f.refused})
    notes = [f"refused resource: {url}" for url in refused]
    log.info("pdf: %d chunks, %d rendered, frame %s, %d workers, %.1f s (%s)", stats.chunks, stats.rendered,
             ("rendered beside the parts" if stats.frame_beside else "rendered") if stats.frame_rendered else "reused",
             workers, stats.seconds["total"],
             ", ".join(f"{step} {seconds:.1f} s" for step, seconds in stats.seconds.items() if step != "total"))
    output = Output(path=target, format="pdf", bytes=target.stat().st_size, pages=pages, notes=notes)
    return output, stats


def finer(chunks: list[Chunk], cut: split.Split, common: str, cache: ChunkCache, workers: int) -> list[Chunk]:
    """The chunks to render: each the cache has, as it is; one it lacks, as pieces of one article each (with
    what stands before it) when the cache has some of those pieces (a chunk rendered whole keeps its pieces as
    slices: `keep_slices`), or when fewer chunks are lacking than there are workers. A rebuild after one edit
    then renders the edited article alone. A cold build of more chunks than workers renders them whole."""
    lacking = [i for i, chunk in enumerate(chunks) if not cache.has(chunk.key)]
    refined: list[Chunk] = []
    for i, chunk in enumerate(chunks):
        pieces = _pieces(chunk, cut, common) if i in lacking else []
        if len(pieces) > 1 and (len(lacking) < workers or any(cache.has(piece.key) for piece in pieces)):
            refined.extend(pieces)
        else:
            chunk.pieces = pieces if len(pieces) > 1 else []
            for piece in chunk.pieces:
                piece.html = ""  # its key is what a slice needs: a big book's HTML is not held twice
            refined.append(chunk)
    return refined


def keep_slices(chunks: list[Chunk], facts: list[Facts], cache: ChunkCache, cut: split.Split) -> None:
    """Each piece of a chunk rendered whole, kept as a slice of its pages: the first edit in that chunk then
    renders the edited piece alone, and takes the others' pages from the chunk (`finer`), as laid out."""
    for chunk, fact in zip(chunks, facts, strict=True):
        for piece, sliced in zip(chunk.pieces, slices(chunk, fact, chunk.pieces, cut), strict=True):
            cache.put_slice(piece.key, sliced)


def slices(chunk: Chunk, fact: Facts, pieces: list[Chunk], cut: split.Split) -> list[Facts]:
    """The facts of each piece of `chunk`: its run of the chunk's pages (blank pages between pieces belong to
    none: a piece rendered alone has none there either). A refused resource is told by the pieces whose HTML
    names it, or by all when none does (a stylesheet's)."""
    where: dict[str, list[int]] = {}
    for unit, _k, index in _chunk_sequence(chunk, fact):
        where.setdefault(unit, []).append(index)
    html = [cut.chunk_html(piece.units) if fact.refused else "" for piece in pieces]
    named = {url for url in fact.refused if any(url in text for text in html)}
    found = []
    for piece, text in zip(pieces, html, strict=True):
        indices = [index for unit in piece.units for index in where[unit.id]]
        first, last = min(indices), max(indices)
        refused = tuple(url for url in fact.refused if url in text or url not in named)
        found.append(Facts(fact.pages[first:last + 1], refused, unknown=fact.unknown, source=chunk.key,
                           first=first))
    return found


def _pieces(chunk: Chunk, cut: split.Split, common: str) -> list[Chunk]:
    """`chunk` as runs of units that each end with an article (units after its last article join the last)."""
    runs: list[list[split.Unit]] = [[]]
    for unit in chunk.units:
        runs[-1].append(unit)
        if unit.kind == "article":
            runs.append([])
    trailing = runs.pop()
    if not runs:
        return [chunk]
    runs[-1].extend(trailing)
    pieces = [Chunk(units) for units in runs]
    for piece in pieces:
        _key(piece, cut, common)
    return pieces


def _key(chunk: Chunk, cut: split.Split, common: str, known: tuple[tuple[str, int], ...] = ()) -> None:
    chunk.html = cut.chunk_html(chunk.units)
    chunk.key = cachekey.digest(common, CHUNK_CSS, chunk.html, *_files_in(chunk.html), json.dumps(known))


@dataclass
class _Frame:
    """What renders the frame and the skeleton share."""

    cut: split.Split
    cache: ChunkCache
    style: Style
    workers: int
    prunable: bool

    def render(self, counts: dict[str, int], stats: Stats, known: dict[str, int] | None = None,
               skeleton: bool = False, dropped: frozenset[str] = frozenset()) -> tuple[Facts, str]:
        """The frame's facts and cache key. The skeleton is the frame laid out without margin boxes and not
        drawn: its page sequence tells where every article lands, before the parts are made. `known`: the
        pages of units, given to the contents' references (laid out once instead of three times)."""
        key, job, facts = self.job(counts, known, skeleton, dropped)
        if job is not None:
            started = time.perf_counter()
            # In a worker: its heap is small and frozen, so the collector has less to walk than in this process.
            facts = (_gather(pool(self.workers), {"frame": job}, {"frame": []}, self.workers)["frame"]
                     if self.workers > 1 else local(job))
            self.done(key, facts, stats, skeleton, time.perf_counter() - started)
        assert facts is not None
        return facts, key

    def job(self, counts: dict[str, int], known: dict[str, int] | None = None, skeleton: bool = False,
            dropped: frozenset[str] = frozenset()) -> tuple[str, Job | None, Facts | None]:
        """(key, the job to render, None) or (key, None, the facts the cache has)."""
        units, step = self.cut.units, "skeleton" if skeleton else "frame"
        html = self.cut.frame_html(counts, prunable=self.prunable, dropped=dropped)
        extra = CHUNK_CSS if skeleton else ""
        pages = tuple(sorted((known or {}).items()))
        key = cachekey.digest(self.style.common, step, extra, html, *_files_in(html), json.dumps(pages))
        facts = self.cache.get(key, drawn=not skeleton)
        if facts is not None:
            return key, None, facts
        anchors = [u.id for u in units if u.id not in dropped] + [
            split.fill_id(u, k) for u in units if u.id not in dropped for k in range(1, counts[u.id])]
        return key, Job(html, str(self.cache.paths(key)[0]), self.style, tuple(anchors), extra, pages,
                        draw=not skeleton), None

    def done(self, key: str, facts: Facts, stats: Stats, skeleton: bool, seconds: float) -> None:
        step = "skeleton" if skeleton else "frame"
        self.cache.put(key, facts, drawn=not skeleton)
        stats.seconds[step] = seconds
        stats.seconds[f"{step} cpu"] = facts.cpu
        stats.frame_rendered = stats.frame_rendered or not skeleton


def _parts_and_frame(frame: _Frame, body: list[split.Unit], counts: dict[str, int],
                     stats: Stats) -> tuple[list[Chunk], list[Facts], Facts, str]:
    """The parts' chunks (if the parts are units) and the frame, with the page counts of every unit.

    A part's page references need every article's page, and the frame needs the part's page count. So the
    skeleton comes first (the parts as one page each: they follow the articles, which land where they will),
    then the parts with those page numbers, then the frame. Should the frame put an article elsewhere (a
    contents page more), the parts are made again with the frame's numbers."""
    units = [unit for unit in frame.cut.units if unit.kind == "part"]
    if not units:
        frame_facts, key = frame.render(counts, stats)
        return [], [], frame_facts, key
    stats.parts = len(units)
    numbers = _skeleton_pages(frame, body, units, counts, stats)
    # The book's parts took as many pages in its last build, most likely (an edit moves their page numbers, not
    # their lines): the frame is then laid out on those beside the parts, not after them, and kept if they hold.
    book_key = cachekey.digest(frame.style.common, "part pages", *[unit.id for unit in [*body, *units]])
    stored = guess = frame.cache.pages_of_parts(book_key, [unit.id for unit in units])
    for stats.rounds in range(1, 4):
        known = tuple(sorted(numbers.items()))
        chunks = [Chunk([unit]) for unit in units]
        for chunk in chunks:
            _key(chunk, frame.cut, frame.style.common, known)
        started = time.perf_counter()
        guessed, job, _ = frame.job({**counts, **guess}, numbers) if guess and frame.workers > 1 else ("", None, None)
        beside: dict[str, Any] = {"frame": job} if job is not None else {}  # one the cache has is found below
        with tempfile.TemporaryDirectory(prefix="anthology-parts-") as told:
            late = _LateFrame(frame, counts, numbers, chunks, Path(told)) if not guess and stats.rounds == 1 else None
            facts = _render_chunks(chunks, frame.cache, frame.style, frame.workers, stats, known, beside, late)
        guessed = late.key if late is not None and "frame" in beside else guessed
        stats.seconds["parts"] = stats.seconds.get("parts", 0.0) + time.perf_counter() - started
        for chunk, fact in zip(chunks, facts, strict=True):
            if fact.unknown:
                raise PartsInFrame(f"{chunk.units[0].id} refers to {', '.join(fact.unknown[:3])}, "
                                   "whose page is not known before the frame")
        counts.update(unit_pages(chunks, facts))
        pages = {unit.id: counts[unit.id] for unit in units}
        if pages != stored:  # an unchanged book's rebuild writes nothing
            frame.cache.keep_pages_of_parts(book_key, pages)
            stored = pages
        if beside:
            frame.done(guessed, beside["frame"], stats, False, time.perf_counter() - started)
        guess = None  # one guess a build: a second round knows the parts' pages
        frame_facts, key = frame.render(counts, stats, numbers)  # the frame beside them, if they held
        stats.frame_beside = stats.frame_beside or (bool(beside) and key == guessed)
        found = first_pages(frame_facts.pages, body)
        if found == numbers:
            return chunks, facts, frame_facts, key
        numbers = found
    raise PartsInFrame("the articles' pages did not settle")


@dataclass
class _LateFrame:
    """The frame of a book whose parts' pages no earlier build knew: its job is made as soon as every part is laid
    out (each tells its page facts before it is drawn, `Job.early`), so that it is laid out beside their drawing
    and on their pages; until then, and once made, `job()` gives None."""

    frame: _Frame
    counts: dict[str, int]
    numbers: dict[str, int]
    chunks: list[Chunk]
    folder: Path
    known: dict[int, Facts] = field(default_factory=dict)  # the parts the cache had
    key: str = ""
    tried: bool = False

    def path(self, index: int) -> str:
        return str(self.folder / f"{index}.json")

    def job(self) -> Job | None:
        if self.tried:
            return None
        told = [self.known.get(i) or _told(self.path(i)) for i in range(len(self.chunks))]
        if any(fact is None for fact in told):
            return None
        self.tried = True
        try:
            pages = unit_pages(self.chunks, told)  # type: ignore[arg-type]
        except split.NotChunkable:  # said again, and handled, when the parts are done
            return None
        self.key, job, _ = self.frame.job({**self.counts, **pages}, self.numbers)
        return job


def _told(path: str) -> Facts | None:
    """Page facts a worker wrote early (whole: written by rename), or None while there are none."""
    try:
        return Facts.loads(Path(path).read_bytes())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _skeleton_pages(frame: _Frame, body: list[split.Unit], parts_: list[split.Unit], counts: dict[str, int],
                    stats: Stats) -> dict[str, int]:
    """Where each unit of the body begins in the book, from the skeleton.

    A run of articles side by side stands there as its first article, for one page or two: as many as keep the
    run's parity, which decides the blank pages a left or right break after it adds; each other unit likewise
    for its own pages, each part for one, as they come after the articles. An article that breaks to a side of
    its own inside a run is not seen here: the frame then finds it elsewhere, and the parts are made again."""
    runs = _runs(body)
    short: dict[str, int] = {}
    dropped: set[str] = set()
    for run in runs:
        short[run[0].id] = 2 - sum(counts[unit.id] for unit in run) % 2
        dropped.update(unit.id for unit in run[1:])
    skeleton, _ = frame.render({**counts, **short, **{unit.id: 1 for unit in parts_}}, stats,
                               estimate(body, counts), skeleton=True, dropped=frozenset(dropped))
    found, pages, shift = first_pages(skeleton.pages, [run[0] for run in runs]), {}, 0
    for run in runs:
        if run[0].id not in found:
            continue
        page = found[run[0].id] + shift
        for unit in run:
            pages[unit.id] = page
            page += counts[unit.id]
        shift += sum(counts[unit.id] for unit in run) - short[run[0].id]
    return pages


def _runs(units: list[split.Unit]) -> list[list[split.Unit]]:
    """The units in runs: articles that follow one another in the same container together, others alone."""
    runs: list[list[split.Unit]] = []
    parents = [unit.elements[0].getparent() for unit in units]  # held: an lxml proxy is the same object while alive
    for index, unit in enumerate(units):
        if index and unit.kind == units[index - 1].kind == "article" and parents[index] is parents[index - 1]:
            runs[-1].append(unit)
        else:
            runs.append([unit])
    return runs


def estimate(units: list[split.Unit], counts: dict[str, int]) -> dict[str, int]:
    """Where each unit would begin after no front matter: page numbers of about the right width for the
    skeleton's contents, whose own length is what the skeleton measures."""
    pages, start = {}, 1
    for unit in units:
        pages[unit.id] = start
        start += counts[unit.id]
    return pages


def first_pages(pages: tuple[Page, ...], units: list[split.Unit]) -> dict[str, int]:
    """The page number (1-based) where each unit begins."""
    wanted = {unit.id for unit in units}
    found: dict[str, int] = {}
    for number, page in enumerate(pages, start=1):
        for anchor in page.anchors:
            if anchor in wanted:
                found.setdefault(anchor, number)
    return found


PROBE_HTML = "<html><body><p>1</p>" + "".join(f'<p style="break-before: page">{n}</p>' for n in (2, 3)) + \
    "</body></html>"


def probe(cache: ChunkCache, style: Style, workers: int = 1) -> None:
    """A three-page render with the theme's CSS: left and right pages must have the same text block."""
    key = cachekey.digest(style.common, "probe", PROBE_HTML)
    facts = cache.get(key)
    if facts is None:
        job = Job(PROBE_HTML, str(cache.paths(key)[0]), style)
        facts = _gather(pool(workers), {"probe": job}, {"probe": []}, workers)["probe"] if workers > 1 else local(job)
        cache.put(key, facts)
    left, right = facts.pages[1].block, facts.pages[2].block
    if any(abs(a - b) > 0.01 for a, b in zip(left[1:], right[1:], strict=True)):
        raise split.NotChunkable(f"the theme's text block differs between left {left} and right pages {right}, "
                                     "so pagination depends on parity")


def _render_chunks(chunks: list[Chunk], cache: ChunkCache, style: Style, workers: int, stats: Stats,
                   known: tuple[tuple[str, int], ...] = (), beside: dict[str, Any] | None = None,
                   late: _LateFrame | None = None) -> list[Facts]:
    """The chunks' facts, from the cache or rendered. `beside`: other jobs by name (the frame), rendered first in
    the same pool; each is replaced there by its facts. `late`: the frame, once the chunks' pages are told (in a
    pool only); its facts land in `beside` too, when it was made."""
    facts: list[Facts | None] = [cache.get(chunk.key) for chunk in chunks]
    todo = [i for i, f in enumerate(facts) if f is None]
    # Longest first: the pool then finishes with small chunks, and no worker waits for a long tail.
    todo.sort(key=lambda i: -len(chunks[i].html))
    others: dict[str, Any] = beside if beside is not None else {}
    late = late if workers > 1 and todo else None
    if late is not None:
        late.known = {i: f for i, f in enumerate(facts) if f is not None}
    jobs: dict[int | str, Job] = {name: job for name, job in others.items()}
    jobs.update({i: Job(chunks[i].html, str(cache.paths(chunks[i].key)[0]), style,
                        tuple(u.id for u in chunks[i].units), CHUNK_CSS, known,
                        early=late.path(i) if late is not None else "") for i in todo})
    if workers > 1 and jobs:  # in the pool even for one chunk: there it has a time limit
        ids: dict[int | str, list[str]] = {name: [] for name in others}
        ids.update({i: [u.id for u in chunks[i].units if u.kind == "article"] for i in todo})
        results = _gather(pool(workers), jobs, ids, workers, late)
    else:
        results = {i: local(job) for i, job in jobs.items()}
    for name in [*others, *(["frame"] if "frame" in results else [])]:
        others[name] = results[name]
    for i in todo:
        cache.put(chunks[i].key, results[i])
        facts[i] = results[i]
    stats.rendered += len(todo)
    return facts  # type: ignore[return-value]


def time_limit(html: str) -> float:
    """Seconds a render of `html` may take in a worker."""
    return CHUNK_SECONDS * max(1.0, len(html) / CHUNK_CHARS)


Key = TypeVar("Key")


def _gather(executor: ProcessPoolExecutor, jobs: dict[Key, Job], ids: dict[Key, list[str]],
            workers: int, late: _LateFrame | None = None) -> dict[Key, Facts]:
    """Render every job in the pool; results by the jobs' keys. A job running longer than its time limit
    kills the pool and raises document.RenderTimeout naming its articles (`ids` by the same keys). `late`: a job
    submitted as soon as it can be made, under the key "frame"."""
    futures: dict[Future, Any] = {executor.submit(task, "render", job): key for key, job in jobs.items()}
    pending = list(futures)
    started: dict[Future, float] = {}
    results: dict[Any, Facts] = {}
    try:
        while pending:
            if late is not None and (job := late.job()) is not None:
                jobs["frame"], ids["frame"] = job, []  # type: ignore[index]
                future = executor.submit(task, "render", job)
                futures[future] = "frame"
                pending.append(future)
            if late is not None and late.tried:
                late = None
            now = time.monotonic()
            # The workers take jobs in submission order: the first `workers` pending ones are being rendered.
            for future in pending[:workers]:
                key = futures[future]
                limit = time_limit(jobs[key].html)
                if now - started.setdefault(future, now) > limit:
                    raise document.RenderTimeout(ids[key], limit)
            wait(pending[:workers], timeout=LATE_POLL_SECONDS if late else POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in [f for f in pending if f.done()]:
                results[futures[future]] = future.result()
            pending = [f for f in pending if not f.done()]
    except BaseException:  # over time, a failed render, Ctrl-C: what the others render is not needed now
        close_pools()
        raise
    return results


def unit_pages(chunks: list[Chunk], facts: list[Facts]) -> dict[str, int]:
    """Pages of each unit, from the anchors on each chunk's pages; blank pages (forced left/right breaks,
    which depend on where the chunk lands) are not counted: the frame makes its own."""
    counts: dict[str, int] = {}
    for chunk, fact in zip(chunks, facts, strict=True):
        for _unit, _k, _page in _chunk_sequence(chunk, fact):
            counts[_unit] = counts.get(_unit, 0) + 1
    return counts


def _chunk_sequence(chunk: Chunk, fact: Facts) -> Iterator[tuple[str, int, int]]:
    """(unit id, k-th page of that unit, chunk page index) for every non-blank page of a chunk."""
    order = [u.id for u in chunk.units]
    current: str | None = None
    previous: set[str] = set()
    k = seen = 0
    for index, page in enumerate(fact.pages):
        # A box split over pages leaves its anchor on each of them: a unit starts where its anchor is new.
        starts = [a for a in page.anchors if a in order and a not in previous]
        previous = set(page.anchors)
        if len(starts) > 1:
            raise split.NotChunkable(f"units {', '.join(starts)} start on the same page: no page break "
                                         "between them, so they cannot be rendered apart")
        if starts:
            if order.index(starts[0]) != seen:
                raise split.NotChunkable(f"unit {starts[0]} is out of order in its chunk")
            current, k, seen = starts[0], 0, seen + 1
        elif page.blank:
            continue
        elif current is None:
            raise split.NotChunkable("a chunk page precedes its first unit")
        else:
            k += 1
        yield current, k, index
    if seen != len(order):
        raise split.NotChunkable("a unit of a chunk left no anchor on any page")


def place(units: list[split.Unit], chunks: list[Chunk], facts: list[Facts], frame_pages: tuple[Page, ...],
          counts: dict[str, int]) -> list[Placement]:
    """Match every chunk page with its frame page, checking the sequence and the text block."""
    markers = {}
    for unit in units:
        markers[unit.id] = (unit.id, 0)
        for k in range(1, counts[unit.id]):
            markers[split.fill_id(unit, k)] = (unit.id, k)
    frame_at: dict[tuple[str, int], int] = {}
    previous: set[str] = set()
    for index, page in enumerate(frame_pages):
        found = [markers[a] for a in page.anchors if a in markers and a not in previous]
        previous = set(page.anchors)
        if len(found) > 1:
            raise split.NotChunkable(f"frame page {index + 1} holds {len(found)} units: the theme does not "
                                         "break pages between articles")
        if found:
            if found[0] in frame_at:
                raise split.NotChunkable(f"frame: {found[0]} appears twice")
            frame_at[found[0]] = index
    placements = []
    last = -1
    for source, (chunk, fact) in enumerate(zip(chunks, facts, strict=True)):
        for unit_id, k, at in _chunk_sequence(chunk, fact):
            frame_index = frame_at.get((unit_id, k))
            if frame_index is None or frame_index <= last:
                raise split.NotChunkable(f"frame and chunks disagree on the pages of {unit_id}")
            last = frame_index
            mine, theirs = fact.pages[at].block, frame_pages[frame_index].block
            if any(abs(a - b) > 0.01 for a, b in zip(mine[1:], theirs[1:], strict=True)):
                raise split.NotChunkable(f"the text block of {unit_id} page {k + 1} differs between a lone "
                                             f"chunk {mine} and the book {theirs} (e.g. :first or :left pages "
                                             "with other widths): cannot chunk this theme")
            placements.append(Placement(frame_index, source, fact.first + at,
                                              (theirs[0] - mine[0]) * PX_TO_PT))
    return placements


def _weasyprint_version() -> str:
    import weasyprint  # imported already (build)

    return f"weasyprint {weasyprint.__version__} {zlib.crc32(CHUNK_CSS.encode())}"
