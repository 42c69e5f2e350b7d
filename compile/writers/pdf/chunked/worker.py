"""The PDF workers' side of a chunked build: WeasyPrint renders a job (a chunk, the frame, the probe) to PDF and
tells its page facts. The build's process imports it before it forks the workers (build.py), which inherit it."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path

from compile import atomic, cachekey, processes
from compile.writers.pdf import render as shared
from compile.writers.pdf.chunked import fontshare
from compile.writers.pdf.chunked.jobs import CHUNK_CSS, Facts, Job, Page, Style
from compile.writers.pdf.weasy import known_targets


def render(job: Job) -> Facts:
    """Render one HTML document to job.out and return its page facts. Runs in worker processes.

    Inside shared.extended(), the WeasyPrint extensions the one-pass writer uses, so a chunk is laid out
    exactly as the one-pass writer would lay it out.
    """
    if not _IN_WORKER:  # the build's own process (one worker; Dask's volumes in threads): collect at once
        facts = _render(job)
        processes.release_memory()
        return facts
    # A worker never renders beside the collection after its last render, which runs once the reply is sent: it
    # would otherwise wait between renders (and through the frame) at its last peak.
    with _RENDERING:
        facts = _render(job)
    processes.release_memory_after_reply(_RENDERING)
    return facts


def _render(job: Job) -> Facts:
    started, cpu = time.perf_counter(), time.process_time()
    fetcher = shared.LockedFetcher([Path(r) for r in job.style.roots])
    stylesheets, font_config = _parsed_stylesheets(job, fetcher)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    # Laid out and drawn exactly as the one-pass writer does it, CJK justification included; each face is
    # embedded as a stub, cut once for the whole book after the merge (fontshare).
    references: contextlib.AbstractContextManager[set[str]] = (
        known_targets.known(dict(job.known)) if job.known else contextlib.nullcontext(set()))
    wanted_ids = set(job.anchors)
    with shared.extended(), fontshare.deferred(), references as unknown:
        document = shared.parsed(job.html, job.style.base_url, fetcher).render(
            stylesheets=stylesheets, font_config=font_config)
        pages = tuple(_page_facts(page, wanted_ids) for page in document.pages)
        if job.early:  # what the build waits for (a part's page count), told before the drawing's third of the time
            atomic.write_bytes(Path(job.early), Facts(pages).dumps())
        if job.draw:
            with atomic.replacing(Path(job.out)) as tmp:
                document.write_pdf(tmp)
    facts = Facts(pages, tuple(fetcher.refused), time.perf_counter() - started, time.process_time() - cpu,
                  tuple(sorted(unknown)))
    del document
    return facts


# Parsed stylesheets (and the fonts their @font-face rules loaded) by their text: a worker parses them once.
_SHEETS: dict[str, tuple[list, object, list[str]]] = {}


def _parsed_stylesheets(job: Job, fetcher) -> tuple[list, object]:
    """The job's stylesheets and the font configuration to render with, made once per process (~10 ms a
    chunk) unless they @import other files. What parsing refused is reported with every job that uses them."""
    style, extras = job.style, [job.style.page_css, job.extra_css]
    texts = [Path(path).read_bytes() for path in style.css]
    if any(b"@import" in text for text in texts):
        return shared.stylesheets(list(style.css), extras, fetcher)
    # `common` holds the theme's files and the installed fonts: a worker outlives a font change.
    key = cachekey.digest(style.common, *style.css, *texts, *extras, *style.roots, style.base_url)
    if key not in _SHEETS:
        if len(_SHEETS) >= 8:  # one per theme and page size in use: old ones are not worth their fonts
            _SHEETS.clear()
        before = len(fetcher.refused)
        sheets, font_config = shared.stylesheets(list(style.css), extras, fetcher)
        _SHEETS[key] = sheets, font_config, fetcher.refused[before:]
    sheets, font_config, refused = _SHEETS[key]
    fetcher.refused.extend(url for url in refused if url not in fetcher.refused)
    return sheets, font_config


def _page_facts(page, wanted_ids: set[str]) -> Page:
    box = page._page_box  # noqa: SLF001 - the text block's geometry is only on the page box (WeasyPrint 70)
    return Page(anchors=tuple(sorted(a for a in page.anchors if a in wanted_ids)), blank=bool(box.page_type.blank),
                block=tuple(round(v, 3) for v in (box.content_box_x(), box.content_box_y(), box.width, box.height)))


_IN_WORKER = False  # whether this process is a pool's worker (in_worker)
_RENDERING = threading.Lock()  # a worker's render, or the collection after one (release_memory_after_reply)


def in_worker() -> None:
    """Called once by a pool's worker as it starts (build._init_worker)."""
    global _IN_WORKER  # noqa: PLW0603 - set once, in the worker's own process
    _IN_WORKER = True


def warm(style: Style) -> None:
    """A worker's first task: the book's stylesheets parsed as its chunks use them, while the build's process
    makes the HTML. (Laying out a small document too, to load the fonts, saved ~0.1 s more of a rebuild, but
    left each worker of a 1,000-article book ~50 MiB larger at its peak.)"""
    with _RENDERING:  # fonts loaded (fontconfig) while no collection runs
        _parsed_stylesheets(Job("", "", style, extra_css=CHUNK_CSS),
                            shared.LockedFetcher([Path(r) for r in style.roots]))


def parts_can_be_apart() -> bool:
    """Whether the parts' page references can be given (known_targets' patch is active on this WeasyPrint)."""
    return known_targets.PATCH.active()
