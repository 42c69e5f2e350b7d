"""Two walks WeasyPrint makes of every earlier or other page for each page, made cheap: a book of thousands of
pages (a chunked book's frame has all of them) spent most of its layout in them.

Why: WeasyPrint (up to at least 70) is quadratic in pages twice over:
- `layout.layout_document` lays out on each page the `position: fixed` boxes of every other page
  (`layout_fixed_boxes(context, pages[:i], page)`, then `pages[i + 1:]`), whether or not any page has one.
  While PATCH is installed, a page made that holds a fixed box marks its layout context, and
  `layout_fixed_boxes` in a context never marked yields nothing at once: all that the walk would have found.
  A marked context gets WeasyPrint's own walk.
- `layout.page.make_page` gathers the anchors and content lookups of every earlier page, in a Python loop over
  `page_maker[:page_number - 1]` (a frame has an anchor on every page: its lists grow with the book). PATCH
  runs make_page as WeasyPrint wrote it but for that loop: `_gathered` goes on from the lists it gathered for
  the page before, reading only the entries added since (see why that holds there), and hands make_page
  copies. make_page's source is rewritten at import; if the loop is not found as written, the patch is
  inactive and says why.
The same pages, byte for byte (tests/test_page_walks.py). A 3,000-page frame-like book: 21.4 → 14.9 s with
the first alone.
"""

from __future__ import annotations

import inspect
import itertools
import operator
import textwrap

from weasyprint import layout
from weasyprint.layout import page as layout_page

from compile.writers.pdf.weasy import patching
from compile.writers.pdf.weasy.patching import Private

_LAYOUT_FIXED_BOXES = layout.layout_fixed_boxes
_MAKE_PAGE = layout_page.make_page
_MARK = "anthology_fixed_boxes"  # set on a LayoutContext one of whose pages holds a fixed box

_LOOP = """
    for (_, _, _, _, x_remake_state) in page_maker[:page_number - 1]:
        cached_anchors.extend(x_remake_state.get('anchors', []))
        cached_lookups.extend(x_remake_state.get('content_lookups', []))
"""
_GATHERED = """
    cached_anchors, cached_lookups = _gathered(context, page_maker, page_number - 1)
    # page_walks.py: the loop's three lines are these three, so that a traceback's line numbers are page.py's
    pass
"""
_STATE = operator.itemgetter(4)  # the remake state: WeasyPrint's loop unpacks five values
_ANCHORS = operator.methodcaller("get", "anchors", ())
_LOOKUPS = operator.methodcaller("get", "content_lookups", ())
_PREFIX = "anthology_gathered"  # on a LayoutContext: (page_maker, count, anchors, lookups) of its last call


def _gathered(context, page_maker: list, count: int) -> tuple[list, list]:
    """The anchors and content lookups of the first `count` entries' remake states, in order, as WeasyPrint's
    loop gathers them (new lists: make_page appends to them).

    Gathered on from the last call's: within a pass of make_all_pages pages are made in order, and a page's
    remake state is reset only when the page is made again, so the entries before `count` are those the last
    call read, as it read them, plus the new ones. A page made again is made in a later pass, from a smaller
    `count`: everything is gathered afresh, as it is for another page_maker list (WeasyPrint truncates it by
    making a new one)."""
    prefix = getattr(context, _PREFIX, None)
    if prefix is None or prefix[0] is not page_maker or prefix[1] > count:
        prefix = (page_maker, 0, [], [])
    _, known, anchors, lookups = prefix
    states = list(map(_STATE, page_maker[known:count]))
    anchors.extend(itertools.chain.from_iterable(map(_ANCHORS, states)))
    lookups.extend(itertools.chain.from_iterable(map(_LOOKUPS, states)))
    setattr(context, _PREFIX, (page_maker, count, anchors, lookups))
    return list(anchors), list(lookups)


def _rewritten_make_page():
    """WeasyPrint's make_page with its loop over earlier pages replaced by `_gathered`, or None when its source
    does not hold that loop exactly once. Compiled with page.py's globals, `_gathered` given as a closure."""
    try:
        lines, first = inspect.getsourcelines(_MAKE_PAGE)
    except (OSError, TypeError):
        return None
    source = textwrap.dedent("".join(lines))
    if source.count(_LOOP) != 1:
        return None
    factory = "\n" * (first - 2) + "def _factory(_gathered):\n" + \
        textwrap.indent(source.replace(_LOOP, _GATHERED), "    ") + "    return make_page\n"
    namespace: dict = {}
    exec(compile(factory, inspect.getsourcefile(_MAKE_PAGE) or "<make_page>", "exec"),  # noqa: S102
         layout_page.__dict__, namespace)
    return namespace["_factory"](_gathered)


_REWRITTEN = _rewritten_make_page()


def make_page(context, root_box, page_type, resume_at, page_number, page_state):
    made = _REWRITTEN(context, root_box, page_type, resume_at, page_number, page_state)
    if made[0].fixed_boxes:
        setattr(context, _MARK, True)
    return made


def layout_fixed_boxes(context, pages, containing_page):
    if getattr(context, _MARK, False):
        return _LAYOUT_FIXED_BOXES(context, pages, containing_page)
    return iter(())


PATCH = patching.register(patching.Patch(
    "page_walks",
    without="the same pages; a book of thousands of pages takes much longer to lay out (quadratic in pages)",
    replaces={Private(layout, "layout_fixed_boxes", "context, pages, containing_page"): layout_fixed_boxes,
              Private(layout_page, "make_page",
                      "context, root_box, page_type, resume_at, page_number, page_state"): make_page},
    probe=lambda: None if _REWRITTEN is not None else
    "layout.page.make_page no longer walks the earlier pages as this patch rewrites it"))
