"""The PDF writer: chunked when it pays (chunked/: same pages, rendered in parallel and cached), else one pass;
a vertical theme's book is printed by Chromium (chromium.py: WeasyPrint has no vertical writing)."""

from __future__ import annotations

import logging
from pathlib import Path

import pikepdf
import weasyprint

from compile import atomic
from compile.writers import parts
from compile.writers.context import Book, Output, Resources
from compile.writers.pdf import chromium, prepress
from compile.writers.pdf.chunked import build as chunked
from compile.writers.pdf.chunked import split
from compile.writers.pdf.render import LockedFetcher, RenderTimeout, extended, html_document, stylesheets
from compile.writers.pdf.weasy import patching, tagging

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
    settings = book.settings.pdf
    chosen = prepress.variant(settings)
    fetcher = LockedFetcher([book.theme.root, *image_roots])
    html = weasyprint.HTML(string=html_document(book, weasyprint_breaks=True), base_url=book.theme.root.as_uri() + "/",
                           url_fetcher=fetcher)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    with extended(), patching.installed(tagging.PATCH), atomic.replacing(target) as tmp:
        sheets, font_config = stylesheets([str(p) for p in book.theme.print_stylesheets()],
                                          [prepress.stylesheet(settings)], fetcher)
        document = html.render(stylesheets=sheets, font_config=font_config, **prepress.render_options(chosen))
        document.write_pdf(tmp, **prepress.write_options(chosen, book.attachments))
    notes = [f"refused resource: {url}" for url in fetcher.refused]
    output = Output(path=target, format="pdf", bytes=target.stat().st_size, pages=len(document.pages), notes=notes)
    if chosen.name or chosen.tagged or settings.pdfx:  # a plain PDF, as ever, says nothing new
        output.details["variant"] = chosen.details()
    output.notes.extend(chosen.notes)
    if settings.pdfx:  # --print: for the print shop, whichever variant could be made
        _check_resolution(output, prepress.low_resolution(document, book, settings.min_image_dpi),
                          settings.min_image_dpi)
    return output


def _check_resolution(output: Output, low: list[dict], min_dpi: int) -> None:
    """In print, images under `min_dpi` at their printed size: each in the report, one note for them all."""
    output.details["images_below_dpi"] = {"min_dpi": min_dpi, "images": low}
    if low:
        output.notes.append(f"{len(low)} printed image(s) below {min_dpi} dpi at their printed size (lowest "
                            f"{min(i['dpi'] for i in low)} dpi): see details.images_below_dpi of the PDF output")
