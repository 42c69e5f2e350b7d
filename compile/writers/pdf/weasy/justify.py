"""Inter-character justification for CJK text: a small, explicit extension of WeasyPrint's line layout.

Why: WeasyPrint (up to at least 70) justifies a line by widening only U+0020/U+00A0 spaces
(`layout.inline.justify_line`). Chinese has no spaces, so its justified lines stay ragged by up to two
characters wherever kinsoku (no 。 at line start...) or a Latin word moves the break. Browsers follow CSS
Text 3 `text-justify: auto`: for CJK they add the extra room between characters ("inter-character").

What this module does, only while its PATCH is installed (render.extended() wraps render() and write_pdf()):

1. `justify_line` is replaced. Each character gets a weight: 1 for ideographs, kana, hangul and spaces, 0 for
   punctuation, Latin letters and digits. The room left on the line is divided by the total weight, and each
   weighted character is widened by its share, half on each side (Pango's letter-spacing model). So an
   ideograph pair gets a full share between them, an ideograph next to punctuation or Latin half a share, and
   a compressed punctuation pair (see typeset.py) none: compression survives justification.
   Pango drops the outer halves at the ends of each text box; where a box meets the next one inside the line,
   those halves are restored by moving the following boxes, so the widening is the same across <a>, <strong>
   and the spans typeset.py adds. At the two ends of the line nothing is added: the line is flush.
   Lines with no weighted character, right-to-left lines and lines with CSS letter/word-spacing keep
   WeasyPrint's own algorithm.
2. `Layout.set_text` is wrapped: when a text box carries a share (`inter_character`), the share is applied as
   Pango letter-spacing attributes on the weighted characters when the box is drawn.
3. `text_align` is wrapped: the CJK–Latin spacing spans of typeset.py (class `cjk-latin`) lose their margin
   at the start and end of a line, as `text-autospace` does in browsers, so a line never begins with a gap
   and justified lines end flush even when they end with a Latin word.

Nothing is inserted into the text: spacing is glyph positioning only, so the PDF's text (copy, search)
is exactly the document's text. Leaving `patching.installed()` restores WeasyPrint's functions.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator

from weasyprint.formatting_structure import boxes
from weasyprint.layout import inline
from weasyprint.text import line_break
from weasyprint.text.ffi import TO_UNITS, ffi, pango

from compile.transforms.typeset import AUTOSPACE_CLASS
from compile.writers.pdf.document import ZWSP
from compile.writers.pdf.weasy import patching
from compile.writers.pdf.weasy.patching import Private

_ORIGINAL = {
    "justify_line": inline.justify_line,
    "text_align": inline.text_align,
    "set_text": line_break.Layout.set_text,
}


# --- Character weights -----------------------------------------------------------------------------------

# Kana, bopomofo, CJK ideographs (with extensions and compatibility forms) and hangul syllables; their
# punctuation (U+30FB katakana middle dot...) does not count, the kana prolonged sound mark and iteration
# marks do. Spaces count too.
_CJK_BLOCKS = ((0x3040, 0x30FF), (0x3100, 0x312F), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF),
               (0xF900, 0xFAFF), (0x20000, 0x3134F))


@functools.cache  # on first use (~40 ms): a build's process that only merges chunks never lays out text
def _weighted() -> tuple[re.Pattern, re.Pattern]:
    """The weighted characters, and runs of them."""
    one = re.compile(_weighted_class())
    return one, re.compile(one.pattern + "+")


def _weighted_class() -> str:
    """A regex character class of the weighted characters (the blocks minus punctuation)."""
    parts = [re.escape(" \u00a0\u3000")]
    for low, high in _CJK_BLOCKS:
        start = low
        for code in range(low, high + 2):
            if code > high or unicodedata.category(chr(code)).startswith("P"):
                if start < code:
                    parts.append(f"{chr(start)}-{chr(code - 1)}")
                start = code + 1
    return "[" + "".join(parts) + "]"


def weight(char: str) -> int:
    """1 where a justifying engine may add room around the character (CJK inter-character), else 0."""
    return 1 if _weighted()[0].fullmatch(char) else 0


def weighing(text: str) -> tuple[int, int, int]:
    """(weight of the first character, of all, of the last): what distribution needs of a text box."""
    if not text:
        return 0, 0, 0
    return weight(text[0]), len(_weighted()[0].findall(text)), weight(text[-1])


# --- Layout: line-level distribution -----------------------------------------------------------------------

def _leaves(box) -> Iterator:
    """Text boxes and atomic inline boxes of a line, in logical order."""
    if isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        for child in box.children:
            if child.is_in_normal_flow():
                yield from _leaves(child)
    else:
        yield box


def _zero_width(box) -> bool:
    return isinstance(box, boxes.TextBox) and not box.text.strip(ZWSP)


def _plain(box) -> bool:
    style = box.style
    return style["letter_spacing"] == "normal" and not style["word_spacing"] and style["direction"] == "ltr"


def justify_line(context, line, extra_width):
    """Distribute `extra_width` over spaces and CJK characters (see the module docstring)."""
    leaves = list(_leaves(line))
    texts = [leaf for leaf in leaves if isinstance(leaf, boxes.TextBox)]
    if not texts or line.style["direction"] != "ltr" or not all(_plain(box) for box in texts):
        return _ORIGINAL["justify_line"](context, line, extra_width)
    # The line's edges are its first and last visible boxes: a <wbr> (typeset.py's breaks beside quotation
    # marks) is a zero-width space, a box of its own or (render.py) the end of the text before it, and the
    # line often ends with it.
    visible = [leaf for leaf in leaves if not _zero_width(leaf)] or leaves
    first, last = visible[0], visible[-1]
    if isinstance(last, boxes.TextBox) and (kept := last.text.rstrip(ZWSP)) != last.text and kept and \
            weight(kept[-1]):
        last.text = kept  # else Pango keeps the half share after its last ideograph
    box_weights = {id(box): weighing(box.text) for box in texts}
    total: float = sum(w[1] for w in box_weights.values())
    if isinstance(first, boxes.TextBox):
        total -= box_weights[id(first)][0] / 2
    if isinstance(last, boxes.TextBox):
        total -= box_weights[id(last)][2] / 2
    if total <= 0:
        return _ORIGINAL["justify_line"](context, line, extra_width)
    share = extra_width / total
    _spread(context, line, share, 0.0, box_weights, first, last)


def _spread(context, box, share, x_advance, box_weights, first, last) -> float:
    if isinstance(box, boxes.TextBox):
        head, weighted, tail = box_weights[id(box)]
        if not weighted:
            box.position_x += x_advance
            return x_advance
        lead = 0 if box is first else share * head / 2
        trail = 0 if box is last else share * tail / 2
        inner = share * (weighted - head / 2 - tail / 2)  # Pango drops the outer halves of a box
        x_advance += lead
        box.position_x += x_advance
        box.width += inner
        layout = line_break.create_layout(box.text, box.style, context, max_width=None, justification_spacing=0)
        layout.inter_character = share
        layout.deactivate()
        box.pango_layout, box.justification_spacing = layout, 0
        return x_advance + inner + trail
    if isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        box.position_x += x_advance
        before = x_advance
        for child in box.children:
            if child.is_in_normal_flow():
                x_advance = _spread(context, child, share, x_advance, box_weights, first, last)
        box.width += x_advance - before
        return x_advance
    box.translate(x_advance, 0)  # atomic inline-level box (image, inline-block)
    return x_advance


# --- Layout: CJK–Latin spacing at line edges ---------------------------------------------------------------

def _is_autospace(box) -> bool:
    element = getattr(box, "element", None)
    return (isinstance(box, boxes.InlineBox) and element is not None
            and AUTOSPACE_CLASS in (element.get("class") or "").split())


def _edge_chain(line, end: bool) -> list:
    """The inline boxes from the line down to its first (or last) leaf."""
    chain, box = [], line
    while isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        children = [c for c in box.children if c.is_in_normal_flow()]
        if not children:
            break
        box = children[-1] if end else children[0]
        chain.append(box)
    return chain


def trim_edges(line) -> None:
    """Drop the autospace margin of a `cjk-latin` span at the very start or end of a line."""
    if line.style["direction"] != "ltr":
        return
    chain = _edge_chain(line, end=False)
    for depth, box in enumerate(chain):
        if _is_autospace(box) and box.margin_left:
            margin, box.margin_left = box.margin_left, 0
            for child in line.children:
                child.translate(-margin, 0)
            for ancestor in chain[:depth + 1]:
                ancestor.position_x += margin  # their left edge stays; only what they contain moves
            for ancestor in chain[:depth]:
                ancestor.width -= margin
            line.width -= margin
            break
    chain = _edge_chain(line, end=True)
    for depth, box in enumerate(chain):
        if _is_autospace(box) and box.margin_right:
            margin, box.margin_right = box.margin_right, 0
            for ancestor in chain[:depth]:
                ancestor.width -= margin
            line.width -= margin
            break


def text_align(context, line, available_width, last):
    trim_edges(line)
    return _ORIGINAL["text_align"](context, line, available_width, last)


# --- Drawing: apply the share as Pango letter-spacing ----------------------------------------------------

def set_text(self, text, justify=False):
    _ORIGINAL["set_text"](self, text, justify)
    share = getattr(self, "inter_character", 0)
    if not (justify and share and self.text):
        return
    attr_list = pango.pango_layout_get_attributes(self.layout)
    if attr_list == ffi.NULL:
        attr_list = ffi.gc(pango.pango_attr_list_new(), pango.pango_attr_list_unref)
    spacing = int(share * TO_UNITS)
    position, done = 0, 0  # byte offset (Pango attributes index UTF-8), and characters measured so far
    for run in _weighted()[1].finditer(self.text):  # one attribute per run of weighted characters
        start = position + len(self.text[done:run.start()].encode())
        position, done = start + len(run.group().encode()), run.end()
        attr = pango.pango_attr_letter_spacing_new(spacing)
        attr.start_index, attr.end_index = start, position
        pango.pango_attr_list_change(attr_list, attr)
    pango.pango_layout_set_attributes(self.layout, attr_list)


# --- The patch ---------------------------------------------------------------------------------------------

PATCH = patching.register(patching.Patch(
    "justify",
    without="Chinese lines are justified at spaces only: ragged by up to two characters",
    replaces={Private(inline, "justify_line", "context, line, extra_width"): justify_line,
              Private(inline, "text_align", "context, line, available_width, last"): text_align,
              Private(line_break.Layout, "set_text", "self, text, justify"): set_text},
    uses=(Private(line_break, "create_layout", "text, style, context, max_width, justification_spacing"),
          Private(line_break.Layout, "deactivate", "self"), Private(line_break.Layout, "layout"),
          Private(line_break.Layout, "text"), Private(boxes.TextBox, "translate"))))
