"""Page geometry: the page sizes a user can name, their CSS form, and the printed width of the text block.

One table for the PDF writer (the `@page size`), config checks and the images' print profile (the width a
full-width figure is printed at decides how many pixels it needs).
"""

from __future__ import annotations

import re

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
MM_PER = {"mm": 1.0, "cm": 10.0, "in": 25.4, "pt": 25.4 / 72}
MARGINS_MM = (38, 40)  # page less text block, both sides together: a typical book's margins and indent
DEFAULT = "A5"


class PageSizeError(ValueError):
    """A page size that is neither a preset nor `<width> x <height>` with units."""


def css_page_size(value: str) -> str:
    """A preset name (A4, A5, B5, JIS-B5, Letter ...) or a custom size such as `140mm x 203mm`."""
    preset = PAGE_SIZES.get(value.strip().lower())
    if preset:
        return preset
    match = CUSTOM.match(value)
    if not match:
        raise PageSizeError(f"page size '{value}': use one of {', '.join(sorted(PAGE_SIZES))} or e.g. "
                            "'140mm x 203mm'")
    return f"{match[1]}{match[3].lower()} {match[4]}{match[6].lower()}"


def size_mm(value: str) -> tuple[float, float]:
    """Width and height of a page size (preset or custom), in millimetres."""
    return tuple(float(length[:-2]) * MM_PER[length[-2:]] for length in css_page_size(value).split())  # type: ignore[return-value]


def page_width_mm(value: str) -> float:
    return size_mm(value)[0]


def text_width_mm(page_size: str) -> float:
    """The printed width of a full-width figure for a page size like 'A5', 'A4 landscape' or '148mm 210mm'
    (the default page's for a size that cannot be read)."""
    words = page_size.split()
    landscape = any(w.lower() == "landscape" for w in words)
    named = " ".join(w for w in words if w.lower() not in ("landscape", "portrait"))
    try:
        width, height = size_mm(named)
    except PageSizeError:
        width, height = size_mm(DEFAULT)
    return (height if landscape else width) - MARGINS_MM[0]
