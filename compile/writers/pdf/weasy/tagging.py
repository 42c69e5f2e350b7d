"""A tagged PDF's structure, finished: each element says its language, and running heads are artifacts.

Why: WeasyPrint (up to at least 70) tags a PDF (pdf_tags, PDF/UA, PDF/A level A) with two gaps.
- Language: it writes the document's once (/Lang in the catalog, from `<html lang>`) and none on the structure
  elements, so a screen reader speaks an English article of a Chinese book with a Chinese voice (PDF/UA-1 7.2:
  a change of language shall be declared). While PATCH is installed, an element whose HTML element carries
  `lang` gets it as /Lang on its structure element (the elements inside inherit it, as in HTML). `<html>` and
  `<body>` make no structure element: theirs is the catalog's.
- Margin boxes: their text (running heads, folios) is marked content whose structure elements are built but
  left out of the tree (WeasyPrint's comment: an artifact there is PDF 2.0 only), so a reader finds content that
  belongs to nothing, and every page repeats it. Here they are drawn as /Artifact marked content (PDF 1.7:
  pagination artifacts, ISO 32000-1 14.8.2.2) and build no structure elements.
Only a tagged render marks content or builds structure: an untagged PDF is byte for byte the same.
"""

from __future__ import annotations

import pydyf  # type: ignore[import-untyped]  # WeasyPrint's PDF objects, no stubs
from weasyprint import draw
from weasyprint.formatting_structure import boxes
from weasyprint.pdf import stream as pdf_stream
from weasyprint.pdf import tags

from compile.writers.pdf.weasy import patching
from compile.writers.pdf.weasy.patching import Private

_BUILD = tags._build_box_tree  # noqa: SLF001 - the structure tree is built only there (WeasyPrint 70)
_DRAW = draw.draw_stacking_context


def build_box_tree(box, parent, pdf, page_number, nums, annotations, tags):
    """WeasyPrint's structure elements for `box` (it recurses through this function while installed), the
    box's own one with /Lang when its HTML element declares a language; none for a margin box."""
    if isinstance(box, boxes.MarginBox):
        return  # drawn as an artifact (draw_stacking_context below): nothing of it was marked
    element = None if isinstance(box, boxes.PageBox) else box.element
    lang = element.get("lang") if element is not None and box.element_tag not in ("html", "body") else None
    for built in _BUILD(box, parent, pdf, page_number, nums, annotations, tags):
        if lang and "Lang" not in built and built["P"] == parent.reference:
            built["Lang"] = pydyf.String(lang)
        yield built


def draw_stacking_context(stream, stacking_context):
    """A margin box of a tagged page drawn inside one /Artifact, with nothing in it marked as content."""
    marks = stream._tags  # noqa: SLF001 - None unless the PDF is tagged
    if marks is None or not isinstance(stacking_context.box, boxes.MarginBox):
        _DRAW(stream, stacking_context)
        return
    with stream.artifact():
        stream._tags = None  # noqa: SLF001 - its text and images are not marked (an artifact holds no MCID)
        try:
            _DRAW(stream, stacking_context)
        finally:
            stream._tags = marks  # noqa: SLF001


PATCH = patching.register(patching.Patch(
    "tagging",
    without="tagged PDFs declare the book's language only, not each article's, and their running heads are "
            "content outside the structure tree",
    replaces={Private(tags, "_build_box_tree", "box, parent, pdf, page_number, nums, annotations, tags"):
              build_box_tree,
              Private(draw, "draw_stacking_context", "stream, stacking_context"): draw_stacking_context},
    uses=(Private(boxes.Box, "element"), Private(boxes.Box, "element_tag"),
          Private(pdf_stream.Stream, "_tags"), Private(pdf_stream.Stream, "artifact", "self"))))
