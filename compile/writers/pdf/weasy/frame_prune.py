"""The frame lays out only what it needs of the units it hides: a contained speed-up of chunked PDFs.

Why: the frame (pdf_split) keeps each article's first element (its header), hidden, for the running-head
strings, the bookmark and the anchors it carries. WeasyPrint still lays out everything in it (the meta
line, its typeset spans), which was about a third of a 300-article frame's time.

pdf_split marks the elements of hidden units with PRUNE. While PATCH is installed, such an element makes no box
when neither it nor anything inside it carries what the frame takes from hidden content: string-set,
bookmarks, anchors (ids), counters, breaks and named pages, floats and positioning (running elements,
footnotes). A named page counts only where it changes. An element that sets a string or a bookmark is
built whole, since their `content()` reads its text; when their values are final once the box is built
(content(), attr(), strings), it then loses the text and whatever else carries nothing, so its lines are
not laid out. Values with counters or target-*() are computed again later from the text: it stays. A theme
that reads text across the book with target-text() gets no pruning at all (pdf_chunks). The checks use
computed styles; the hidden header only gets shorter, and `pdf_chunks.place` still checks every frame page
against the chunks.
"""

from __future__ import annotations

from weasyprint.css import StyleFor
from weasyprint.css.properties import INITIAL_VALUES
from weasyprint.formatting_structure import boxes, build

from compile.writers.pdf.chunked.split import PRUNE
from compile.writers.pdf.weasy import patching
from compile.writers.pdf.weasy.patching import Private

_ORIGINAL = build.element_to_box
# Properties whose effect outlives a hidden box, with their inert computed values: the frame keeps an
# element that has any other value (a named page computes to '' where no name is set).
_INERT = {name: {INITIAL_VALUES[name]} for name in (
    "string_set", "bookmark_level", "anchor", "counter_reset", "counter_increment", "counter_set", "position",
    "float", "break_before", "break_after")} | {"page": {"auto", ""}}
_READ_BY_CONTENT = ("string_set", "bookmark_level")  # their content() is the element's text: keep it all


def element_to_box(element, style_for, *args, **kwargs):
    if isinstance(element.tag, str) and element.get(PRUNE) is not None:
        needed = _needed(element, style_for)
        if not needed:
            return []
        if needed == "whole":
            for descendant in element.iter():
                descendant.attrib.pop(PRUNE, None)
            made = _ORIGINAL(element, style_for, *args, **kwargs)
            if _set_once(style_for(element)):  # its strings and bookmark label are final: no line layout
                for box in made:
                    _strip(box)
            return made
    return _ORIGINAL(element, style_for, *args, **kwargs)


def _carries(style) -> bool:
    if any(style[name] not in inert for name, inert in _INERT.items() if name != "page"):
        return True
    # A named page is computed from the nearest ancestor that names one: only where it changes does it count.
    parent = getattr(style, "parent_style", None)
    return style["page"] not in _INERT["page"] and (parent is None or style["page"] != parent["page"])


# Parts of string-set and bookmark-label values computed once, when the box is built. Others (counters,
# target-*()) are computed again later, from the box's text, which must then still be there.
_FINAL_PARTS = {"content()", "content", "attr()", "string"}


def _set_once(style) -> bool:
    values = [parts for _name, parts in style["string_set"]] if style["string_set"] != "none" else []
    if style["bookmark_level"] != "none":
        values.append(style["bookmark_label"])
    return all(part[0] in _FINAL_PARTS for parts in values for part in parts)


def _strip(box) -> None:
    """Keep only the children (boxes of elements and pseudo-elements) that carry something themselves."""
    kept = []
    for child in getattr(box, "children", None) or ():
        if isinstance(child, boxes.TextBox):
            continue
        _strip(child)
        if _carries(child.style) or getattr(child, "children", None):
            kept.append(child)
    box.children = kept


def _needed(element, style_for) -> str:
    """'whole' when the element's own text is read, 'box' when it or a descendant carries something."""
    for index, node in enumerate(element.iter()):
        if not isinstance(node.tag, str):
            continue
        for pseudo in (None, "before", "after"):
            style = style_for(node, pseudo)
            if style is None or not _carries(style):
                continue
            if index == 0 and pseudo is None and any(style[n] not in _INERT[n] for n in _READ_BY_CONTENT):
                return "whole"
            return "box"
    return ""


PATCH = patching.register(patching.Patch(
    "frame_prune",
    without="the same pages; a chunked PDF's frame lays out all of its hidden content (slower)",
    replaces={Private(build, "element_to_box", "element, style_for, get_image_from_uri, base_url, "
                      "target_collector, counter_style, footnotes, state"): element_to_box},
    uses=(Private(StyleFor, "__call__", "self, element, pseudo_type"), Private(boxes.ParentBox, "children"))))
