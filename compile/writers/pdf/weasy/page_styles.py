"""Page styles computed once per kind of page: a small, contained speed-up of WeasyPrint's pagination.

Why: for every page, WeasyPrint (up to at least 70) cascades the @page rules again and computes fresh
styles for the page and each of its margin boxes (`layout.page.set_page_type_computed_styles`), walking a
cascade that keeps every earlier page's entries: work that grows with the square of the page count, and
most of a frame's time (pdf_chunks: ~10 ms of a page's ~12 ms at 573 pages).

Pages of one kind get the same styles: @page selectors match on side, blank, name and :first, and only
:nth() looks further. So, while PATCH is installed, the first page of a kind is styled by WeasyPrint and each
later one shares its style objects. Layout adjusts them in place only to values that are the same on every
page of the kind (the page counter's increment, the root's overflow), and a shared style keeps what it has
computed: copies, which computed every property again lazily on every page, made a 573-page frame ~15 %
slower. A document whose stylesheets use :nth() is styled by WeasyPrint's own function throughout.
"""

from __future__ import annotations

import weakref

from weasyprint.css import StyleFor
from weasyprint.layout import page as layout_page

from compile.writers.pdf.weasy import patching
from compile.writers.pdf.weasy.patching import Private

_ORIGINAL = layout_page.set_page_type_computed_styles
# Per document (its StyleFor): page kind -> (its first page type, its pseudo-elements); None if :nth() is used.
_KINDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def kind(page_type) -> tuple:
    """What @page selectors other than :nth() can tell apart."""
    return page_type.side, page_type.blank, page_type.name, page_type.index == 0


def uses_nth(style_for) -> bool:
    return any(selector[2].index is not None for sheet, _origin, _specificity in style_for._sheets  # noqa: SLF001
               for _rule, selectors, _declarations in sheet.page_rules for selector in selectors)


def set_page_type_computed_styles(page_type, html, style_for) -> None:
    if style_for not in _KINDS:
        _KINDS[style_for] = None if uses_nth(style_for) else {}
    kinds = _KINDS[style_for]
    if kinds is None:
        return _ORIGINAL(page_type, html, style_for)
    computed = style_for.get_computed_styles()
    first = kinds.get(kind(page_type))
    if first is None:
        _ORIGINAL(page_type, html, style_for)
        kinds[kind(page_type)] = (page_type, [pseudo for element, pseudo in list(computed) if element == page_type])
        return None
    earlier, pseudos = first
    for pseudo in pseudos:
        computed[page_type, pseudo] = computed[earlier, pseudo]
    return None


PATCH = patching.register(patching.Patch(
    "page_styles",
    without="the same pages; long PDFs are paginated slower (page styles computed again for every page)",
    replaces={Private(layout_page, "set_page_type_computed_styles", "page_type, html, style_for"):
              set_page_type_computed_styles},
    uses=(Private(StyleFor, "_sheets"), Private(StyleFor, "get_computed_styles", "self"),
          *(Private(layout_page.PageType, name) for name in ("side", "blank", "name", "index")))))
