"""What the print shop and the archive need from the PDF: page sizes, bleed and crop marks, PDF/A-3b
with the sources attached, and a saddle-stitched booklet imposition.

Bleed, marks and PDF/A are WeasyPrint features (it writes TrimBox/BleedBox, the XMP identification
and the output intent); imposition is pdfimpose's job. This module only turns settings into them.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from compile.config import ConfigError
from compile.writers.context import Output

# Preset names -> CSS page sizes. ISO B5 and JIS B5 differ (176×250 vs 182×257 mm).
PAGE_SIZES = {
    "a4": "210mm 297mm",
    "a5": "148mm 210mm",
    "a6": "105mm 148mm",
    "b5": "176mm 250mm",
    "iso-b5": "176mm 250mm",
    "jis-b5": "182mm 257mm",
    "b6": "125mm 176mm",
    "jis-b6": "128mm 182mm",
    "letter": "8.5in 11in",
    "legal": "8.5in 14in",
}
CUSTOM = re.compile(r"^\s*(\d+(\.\d+)?)\s*(mm|cm|in|pt)\s*[x× ]\s*(\d+(\.\d+)?)\s*(mm|cm|in|pt)\s*$", re.I)


def css_page_size(value: str) -> str:
    """A preset name (A4, A5, B5, JIS-B5, Letter ...) or a custom size such as `140mm x 203mm`."""
    preset = PAGE_SIZES.get(value.strip().lower())
    if preset:
        return preset
    match = CUSTOM.match(value)
    if not match:
        raise ConfigError(f"page size '{value}': use one of {', '.join(sorted(PAGE_SIZES))} or e.g. '140mm x 203mm'")
    return f"{match[1]}{match[3].lower()} {match[4]}{match[6].lower()}"


def page_width_mm(value: str) -> float:
    """The width of a page size (preset or custom), in millimetres."""
    width = css_page_size(value).split()[0]
    number, unit = float(width[:-2]), width[-2:]
    return number * {"mm": 1.0, "cm": 10.0, "in": 25.4, "pt": 25.4 / 72}[unit]


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


def impose_booklet(source: Path, target: Path) -> Output:
    """Saddle stitch: pages padded with blanks to a multiple of 4, two per sheet side, in booklet order."""
    from pdfimpose.schema import saddle

    from compile import atomic

    buffer = io.BytesIO()
    saddle.impose([source], buffer, folds="h", bind="left")
    atomic.write_bytes(target, buffer.getvalue())
    from pypdf import PdfReader

    pages = len(PdfReader(target).pages)
    return Output(path=target, format="pdf-booklet", bytes=target.stat().st_size, pages=pages)
