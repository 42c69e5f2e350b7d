"""The PDF in one WeasyPrint pass: small books, and the variants only WeasyPrint's writer makes for the whole
document (PDF/A, PDF/UA tags, PDF/X, bleed)."""

from __future__ import annotations

import logging
from pathlib import Path

from compile.writers.pdf import loading  # noqa: F401 - first: it imports WeasyPrint without running gcc

# isort: split
import weasyprint

from compile import atomic
from compile.writers.context import Book, Output
from compile.writers.pdf import prepress
from compile.writers.pdf.document import html_document
from compile.writers.pdf.render import LockedFetcher, extended, stylesheets
from compile.writers.pdf.weasy import patching, tagging


def write(book: Book, target: Path, image_roots: list[Path]) -> Output:
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
