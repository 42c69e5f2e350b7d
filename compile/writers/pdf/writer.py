"""The PDF writer: chunked when it pays (chunked/: same pages, rendered in parallel and cached), else one pass
(single.py); a vertical theme's book is printed by Chromium (chromium.py: WeasyPrint has no vertical writing).
WeasyPrint is imported by the path that renders with it, never by Chromium's."""

from __future__ import annotations

import logging
from pathlib import Path

import pikepdf

from compile.writers import parts
from compile.writers.context import Book, Output, Resources
from compile.writers.pdf import chromium
from compile.writers.pdf.chunked import build as chunked
from compile.writers.pdf.chunked import split
from compile.writers.pdf.document import RenderTimeout

log = logging.getLogger("anthology")
__all__ = ["RenderTimeout", "write", "write_single"]


def write(book: Book, target: Path, resources: Resources) -> Output:
    """Chunked when it pays (see chunked/build.py: same pages, rendered in parallel and cached), else one pass.
    A vertical theme goes to Chromium, or raises chromium.EngineMissing: never a horizontal book instead."""
    image_roots = list(resources.image_roots)
    if book.theme.writing_mode.startswith("vertical"):
        vertical = chromium.write(book, target, image_roots, resources.cache_root)
        _vertical_variant(book, vertical)
        vertical.notes.extend(book.theme.pdf_notes)
        vertical.details["parts"] = parts.placement(book)
        return vertical
    notes = []
    output = None
    if chunked.wanted(book):
        try:
            output, _ = chunked.build(book, target, image_roots, resources.cache_root, book.workers)
        except split.NotChunkable as exc:
            log.info("pdf: rendered in one pass: %s", exc)
            if book.settings.pdf.mode == "chunked":  # asked for, so say why it was not done
                notes.append(f"PDF rendered in one pass: {exc}")
    if output is None:
        output = write_single(book, target, image_roots)
    # Every patch registered, as the report lists them: `tagging` is the one pass's alone (PDF/UA, PDF/A).
    from compile.writers.pdf.weasy import patching, tagging  # noqa: F401

    output.notes[:0] = notes
    output.details["extensions"] = patching.status()  # every WeasyPrint patch, active or why not
    output.details["parts"] = parts.placement(book)
    if inactive := patching.warning():
        log.warning("pdf: %s", inactive)
        output.notes.append(inactive)
    output.notes.extend(book.theme.pdf_notes)
    return output


def _vertical_variant(book: Book, output: Output) -> None:
    """What Chromium's print is of what was asked: tagged it is (Chromium tags its PDFs), PDF/X it is not."""
    settings = book.settings.pdf
    if not (settings.tagged or settings.pdfx):
        return
    with pikepdf.open(output.path) as pdf:
        tagged = "/StructTreeRoot" in pdf.Root
    output.details["variant"] = {"name": "pdf", "tagged": tagged, "output_profile": None}
    if settings.tagged and not tagged:
        output.notes.append("PDF: Chromium wrote no structure tree; the vertical theme's PDF is not tagged")
    if settings.pdfx:
        output.notes.append("PDF: a vertical theme's PDF is not PDF/X-4 (Chromium cannot make it), and its "
                            "images' resolution is not checked")


def write_single(book: Book, target: Path, image_roots: list[Path]) -> Output:
    """The book in one WeasyPrint pass, in this process (single.py)."""
    from compile.writers.pdf import single

    return single.write(book, target, image_roots)
