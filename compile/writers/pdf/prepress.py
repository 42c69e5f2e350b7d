"""What the print shop and the archive need from the PDF: page sizes, bleed and crop marks, PDF/A-3b
with the sources attached, and a saddle-stitched booklet imposition.

Bleed, marks and PDF/A are WeasyPrint features (it writes TrimBox/BleedBox, the XMP identification
and the output intent); imposition is pdfimpose's job. This module only turns settings into them.
"""

from __future__ import annotations

import io
from pathlib import Path

from compile.pages import css_page_size
from compile.writers.context import Output


def stylesheet(settings) -> str:
    """Extra CSS that the PDF settings ask for, applied after the theme's print.css."""
    rules = []
    if settings.page_size:
        rules.append(f"@page {{ size: {css_page_size(settings.page_size)}; }}")
    if settings.bleed:
        rules.append(f"@page {{ bleed: {settings.bleed_mm:g}mm; marks: crop; }}")
    return "\n".join(rules)


def write_options(settings, attachments: list[tuple[str, bytes]]) -> dict:
    """Keyword arguments for WeasyPrint's write_pdf."""
    if not settings.pdfa:
        return {}
    import weasyprint

    files = [weasyprint.Attachment(string=data, name=name, description=f"source: {name}")
             for name, data in attachments]
    return {"pdf_variant": "pdf/a-3b", "attachments": files, "pdf_identifier": None}


def impose_booklet(source: Path, target: Path, bind: str = "left") -> Output:
    """Saddle stitch: pages padded with blanks to a multiple of 4, two per sheet side, in booklet order;
    bound on the right for a book read right to left (`bind`)."""
    from pdfimpose.schema import saddle

    from compile import atomic

    buffer = io.BytesIO()
    saddle.impose([source], buffer, folds="h", bind=bind)
    atomic.write_bytes(target, buffer.getvalue())
    from pypdf import PdfReader

    pages = len(PdfReader(target).pages)
    return Output(path=target, format="pdf-booklet", bytes=target.stat().st_size, pages=pages)
