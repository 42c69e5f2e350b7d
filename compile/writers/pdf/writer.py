"""The PDF writer: chunked when it pays (chunked/: same pages, rendered in parallel and cached), else one pass;
a vertical theme's book is printed by Chromium (chromium.py: WeasyPrint has no vertical writing)."""

from __future__ import annotations

import logging
from pathlib import Path

import weasyprint

from compile import atomic
from compile.writers.context import Book, Output, Resources
from compile.writers.pdf import chromium, prepress
from compile.writers.pdf.chunked import build as chunked
from compile.writers.pdf.chunked import split
from compile.writers.pdf.render import LockedFetcher, RenderTimeout, extended, html_document, stylesheets
from compile.writers.pdf.weasy import patching

log = logging.getLogger("anthology")
__all__ = ["RenderTimeout", "write", "write_single"]


def write(book: Book, target: Path, resources: Resources) -> Output:
    """Chunked when it pays (see chunked/build.py: same pages, rendered in parallel and cached), else one pass.
    A vertical theme goes to Chromium, or raises chromium.EngineMissing: never a horizontal book instead."""
    image_roots = list(resources.image_roots)
    if book.theme.writing_mode.startswith("vertical"):
        vertical = chromium.write(book, target, image_roots, resources.cache_root)
        vertical.notes.extend(book.theme.pdf_notes)
        return vertical
    notes = []
    output = None
    if chunked.wanted(book):
        try:
            output, _ = chunked.build(book, target, image_roots, resources.cache_root, chunked.worker_count(book))
        except split.NotChunkable as exc:
            log.info("pdf: rendered in one pass: %s", exc)
            if book.settings.pdf.mode == "chunked":  # asked for, so say why it was not done
                notes.append(f"PDF rendered in one pass: {exc}")
    if output is None:
        output = write_single(book, target, image_roots)
    output.notes[:0] = notes
    output.details["extensions"] = patching.status()  # every WeasyPrint patch, active or why not
    if inactive := patching.warning():
        log.warning("pdf: %s", inactive)
        output.notes.append(inactive)
    output.notes.extend(book.theme.pdf_notes)
    return output


def write_single(book: Book, target: Path, image_roots: list[Path]) -> Output:
    fetcher = LockedFetcher([book.theme.root, *image_roots])
    html = weasyprint.HTML(string=html_document(book), base_url=book.theme.root.as_uri() + "/", url_fetcher=fetcher)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    with extended(), atomic.replacing(target) as tmp:
        sheets, font_config = stylesheets([str(p) for p in book.theme.print_stylesheets()],
                                          [prepress.stylesheet(book.settings.pdf)], fetcher)
        document = html.render(stylesheets=sheets, font_config=font_config)
        document.write_pdf(tmp, **prepress.write_options(book.settings.pdf, book.attachments))
    notes = [f"refused resource: {url}" for url in fetcher.refused]
    return Output(path=target, format="pdf", bytes=target.stat().st_size, pages=len(document.pages), notes=notes)
