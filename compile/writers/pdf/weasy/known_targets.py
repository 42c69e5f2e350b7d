"""Page references to anchors of other documents: a book part rendered apart from its articles.

Why: the chunked PDF renders the book's back-matter parts (chronology, sources, outlet index) as chunks of
their own, beside the articles' chunks, instead of inside the serial frame. Their `target-counter(attr(href
url), page)` references point at articles that are not in the part's document; their pages are known from
the frame's page sequence (compile/writers/pdf/chunked/build.py).

While PATCH is installed and a render runs inside `known(pages)`, a reference to an anchor named in `pages`
resolves at once to that page number, as if its target were laid out on that page: the references' text is
final before layout, so the part's pages are laid out once. Any other reference is left to WeasyPrint; the
names looked up that way are collected (`unknown`), so the writer can refuse a part whose references it
cannot supply. The mapping is a context variable: renders in other threads (volumes under Dask) do not see it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping

from weasyprint.css import targets

from compile.writers.pdf.weasy import patching, target_counters
from compile.writers.pdf.weasy.patching import Private

_LOOKUP = targets.TargetCollector.lookup_target
_KNOWN: contextvars.ContextVar[tuple[Mapping[str, int], set[str]] | None] = contextvars.ContextVar(
    "known_targets", default=None)


class _Target:
    """Stands for a target box in another document: all a counter lookup reads of it."""

    def __init__(self, page: int):
        self.cached_counter_values = {"page": [page]}


@contextlib.contextmanager
def known(pages: Mapping[str, int]) -> Iterator[set[str]]:
    """Resolve references to `pages`' anchors to those page numbers in this block; yields the set that
    collects the names looked up that are not in `pages`."""
    unknown: set[str] = set()
    token = _KNOWN.set((pages, unknown))
    try:
        yield unknown
    finally:
        _KNOWN.reset(token)


def lookup_target(self, anchor_token, source_box, css_token, parse_again):
    state = _KNOWN.get()
    if state is None:
        return _LOOKUP(self, anchor_token, source_box, css_token, parse_again)
    pages, unknown = state
    name = target_counters.anchor_name(source_box, anchor_token)
    if name is None or name not in pages:
        unknown.add(str(name))
        return _LOOKUP(self, anchor_token, source_box, css_token, parse_again)
    item = targets.TargetLookupItem("up-to-date")
    item.target_box = _Target(pages[name])
    return item


PATCH = patching.register(patching.Patch(
    "known_targets",
    without="the same pages; the book's parts are laid out in the frame, serially, after the articles",
    replaces={Private(targets.TargetCollector, "lookup_target",
                      "self, anchor_token, source_box, css_token, parse_again"): lookup_target},
    uses=(Private(targets, "anchor_name_from_token", "anchor_token"), Private(targets, "TargetLookupItem"),
          Private(targets.TargetLookupItem, "target_box"))))
