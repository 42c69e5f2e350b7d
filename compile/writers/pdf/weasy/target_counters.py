"""Page references resolved before their page is laid out, not after: the parts' pages are laid out once.

Why: WeasyPrint 70 builds the text of `target-counter(attr(href url), page)` before layout, when no page is
known ("0"). Once a target's page is made, the references to it are marked pending, and a page holding one
is laid out, then its references are parsed again and the page laid out a second time. The chronology,
sources and outlet index point back at articles whose pages are known by then: every one of their pages was
laid out twice (a hundred pages of a 300-article book, most of the frame's time).

Two things stand in the way, both in WeasyPrint's formatting_structure/build.py (compute_content_list):
- it files a reference's missing counters under the anchor name of the *unresolved* token (None for
  `attr(href url)`), so a target's page never reaches the references to it the intended way;
- reading a target counter, it rebinds the box's own list of missing counters to the target's, so the box
  asks for its own page counters to be refreshed on every page: the only reason the references were right.

While PATCH is installed:
- `collect_missing_counters`: a reference's missing counters are filed under the anchor it resolves to, and
  a box whose `content` reads no counter of its own gets no list of its own (as WeasyPrint meant). A value
  with a counter() of its own is left to WeasyPrint, as it is.
- `remake_page`: before a page is laid out, the references already pending (their target's page is known)
  are parsed again, so the page is laid out once with the right numbers. A forward reference (the contents)
  is updated when its target's page is made, and its page laid out again, as before.
The pages come out the same.
"""

from __future__ import annotations

from weasyprint.css import targets
from weasyprint.layout import page as layout_page
from weasyprint.urls import get_url_tuple

from compile.writers.pdf.weasy import patching
from compile.writers.pdf.weasy.patching import Private

_COLLECT = targets.TargetCollector.collect_missing_counters
_REMAKE = layout_page.remake_page
REFERENCES = {"target-counter()", "target-counters()"}
OWN_COUNTERS = {"counter()", "counters()"}


def collect_missing_counters(self, parent_box, css_token, parse_again_function, missing_counters,
                             missing_target_counters):
    values = _content(parent_box, css_token)
    by_anchor = _by_anchor(parent_box, values, missing_target_counters) if values is not None else None
    if values is not None and by_anchor is not None:  # else not as expected: WeasyPrint's own way
        missing_target_counters = by_anchor
        if not any(v[0] in OWN_COUNTERS for v in values):
            missing_counters = []
    return _COLLECT(self, parent_box, css_token, parse_again_function, missing_counters, missing_target_counters)


def _content(parent_box, css_token: str) -> list[tuple] | None:
    """The box's `content` value, when it is one this patch understands (a list of (type, value) pairs)."""
    if css_token != "content":
        return None
    values = parent_box.style["content"]
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, tuple) and len(v) == 2 for v in values):
        return None
    return list(values)


def _by_anchor(parent_box, values: list[tuple], missing: dict) -> dict | None:
    """`missing` filed under the anchors the box's references resolve to, as lookup_target resolves them."""
    names = [anchor_name(parent_box, value[1][0]) for value in values if value[0] in REFERENCES]
    if None not in missing or not names or None in names:
        return None
    counters = missing[None]
    return {**{k: v for k, v in missing.items() if k is not None}, **{name: list(counters) for name in names}}


def anchor_name(parent_box, token) -> str | None:
    """The anchor a reference token names, as WeasyPrint's lookup_target resolves it."""
    if token[0] == "attr()":
        attr_name, kind, fallback = token[1]
        value = parent_box.element.get(attr_name, fallback) if parent_box.element is not None else fallback
        if kind == "string":
            token = ("string", value)
        elif kind == "url":
            token = ("url", get_url_tuple(value, parent_box.style.base_url))
    return targets.anchor_name_from_token(token)


def remake_page(index, context, root_box, html):
    collector = context.target_collector
    for item in collector.counter_lookup_items.values():
        if item.pending and not item.missing_counters:  # references only: their targets' pages are known
            item.pending = False
            item.parse_again(item.cached_page_counter_values)
    return _REMAKE(index, context, root_box, html)


PATCH = patching.register(patching.Patch(
    "target_counters",
    without="the same pages; those with page references (contents, parts) are laid out twice",
    replaces={
        Private(targets.TargetCollector, "collect_missing_counters",
                "self, parent_box, css_token, parse_again_function, missing_counters, missing_target_counters"):
            collect_missing_counters,
        Private(layout_page, "remake_page", "index, context, root_box, html"): remake_page,
    },
    uses=(Private(targets, "anchor_name_from_token", "anchor_token"),
          Private(targets.CounterLookupItem, "pending"), Private(targets.CounterLookupItem, "missing_counters"),
          Private(targets.CounterLookupItem, "cached_page_counter_values"),
          Private(targets.TargetCollector, "counter_lookup_items"))))
