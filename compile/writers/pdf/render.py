"""What both PDF paths share of WeasyPrint: our extensions, a URL fetcher that reads only our own files, the
theme's stylesheets. (The book's HTML is document.py's: the build's process makes it without WeasyPrint.)"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

from compile.writers.pdf import loading  # noqa: F401 - first: it imports WeasyPrint without running gcc

# isort: split
import lxml.html
import weasyprint
from lxml import etree
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from compile.writers.pdf.document import local_path
from compile.writers.pdf.weasy import (
    frame_prune,
    justify,
    known_targets,
    leaders,
    margin_widths,
    page_styles,
    page_walks,
    patching,
    png_data,
    shared_styles,
    target_counters,
    tree,
)

log = logging.getLogger("anthology")


class LockedFetcher(URLFetcher):
    """Serve `file:` URLs under the allowed folders, and the PNG data the writer made itself (the sources' QR
    codes: no file, no network; an article's own data URLs never reach the book, compile/urls.py); refuse
    everything else, and remember it."""

    OWN_DATA = "data:image/png;base64,"

    def __init__(self, roots: list[Path]):
        super().__init__(allowed_protocols={"file", "data"}, allow_redirects=False)
        self.roots = [r.resolve() for r in roots]
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        if url.startswith(self.OWN_DATA):
            return super().fetch(url, headers)
        path = local_path(url)
        if path is None or not any(path.is_relative_to(root) for root in self.roots):
            self.refused.append(url)
            raise ValueError(f"refused: {url} is not one of the build's own resources")
        return super().fetch(url, headers)


class _Collections:
    """What fewer_collections() shares between blocks: how many are inside, the thresholds to restore."""

    lock = threading.Lock()
    inside = 0
    saved: tuple[int, ...] = ()


@contextlib.contextmanager
def fewer_collections(threshold: int = 20_000) -> Iterator[None]:
    """Run Python's cyclic GC less often while WeasyPrint renders (re-entrant across threads, like patching).

    A render allocates millions of small objects that live until the pages are drawn; at the default
    cadence (a young collection every 700 allocations, promoting into ever-larger older ones) the collector
    walks them again and again: ~12 % of a 573-page render, ~7 % of a chunk's. Nothing is left uncollected.
    """
    shared = _Collections
    with shared.lock:
        if shared.inside == 0:
            shared.saved = gc.get_threshold()
            gc.set_threshold(threshold, *shared.saved[1:])
        shared.inside += 1
    try:
        yield
    finally:
        with shared.lock:
            shared.inside -= 1
            if shared.inside == 0:
                gc.set_threshold(*shared.saved)


@contextlib.contextmanager
def extended() -> Iterator[None]:
    """WeasyPrint as both PDF paths use it, for layout (render) and drawing (write_pdf): CJK justification
    (justify.py), page styles computed once per kind of page (page_styles.py), the chunked frame's hidden
    units laid out only as far as needed (frame_prune.py), a leader's dots drawn from one kept layout (leaders.py),
    page references laid out once (target_counters.py) or given (known_targets.py), one computed style for elements
    with equal cascades (shared_styles.py), margin boxes sized without their min-content width where the
    max-content one decides (margin_widths.py), WeasyPrint's two walks of every page for each page made cheap
    (page_walks.py), a PNG's rows taken from its file instead of encoded again (png_data.py), fewer GC passes.
    Re-entrant and thread-safe; the patches that are inactive on this WeasyPrint stay out."""
    with patching.installed(justify.PATCH, page_styles.PATCH, frame_prune.PATCH, leaders.PATCH,
                            target_counters.PATCH, known_targets.PATCH, shared_styles.PATCH, margin_widths.PATCH,
                            page_walks.PATCH, png_data.PATCH), \
            fewer_collections():
        yield


# Elements an HTML5 parser places differently from lxml (tables get a tbody; svg and math are foreign
# content in their namespaces; template, noscript, select and frameset have their own parsing rules;
# pre, textarea and listing lose a leading newline).
_HTML5_ONLY = {"table", "svg", "math", "template", "noscript", "select", "frameset", "pre", "textarea", "listing"}
# Elements that close an open <p> in HTML5 (lxml nests some of them inside it).
_CLOSES_P = {"address", "article", "aside", "blockquote", "details", "dialog", "div", "dl", "fieldset",
             "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup",
             "hr", "main", "menu", "nav", "ol", "p", "pre", "search", "section", "summary", "table", "ul"}


def parsed(text: str, base_url: str, fetcher: URLFetcher) -> weasyprint.HTML:
    """WeasyPrint's document for HTML we serialized from an lxml tree (a chunk, the frame).

    WeasyPrint parses HTML with tinyhtml5, in pure Python: ~1 s for a 300-article frame. lxml (C) builds
    the same tree for such HTML unless it holds one of _HTML5_ONLY or namespace declarations; then the tree
    goes to WeasyPrint as XML (expat, C), in an HTML object built by weasy/tree.py (while its patch is active).
    Otherwise, or if the XML does not parse, WeasyPrint parses the HTML itself.
    """
    root = _element_tree(text) if tree.PATCH.active() else None
    if root is None:
        return weasyprint.HTML(string=text, base_url=base_url, url_fetcher=fetcher)
    return tree.document(root, base_url, fetcher)


def _element_tree(text: str):
    try:
        root = lxml.html.document_fromstring(text)
        for element in root.iter(etree.Element):
            if element.tag == "table" and _whole_table(element):
                continue
            if element.tag in _HTML5_ONLY or any(name.startswith("xmlns") or ":" in name for name in element.attrib):
                return None
            if element.tag == "p" and any(inner.tag in _CLOSES_P for inner in element.iterdescendants(etree.Element)):
                return None
        return ElementTree.fromstring(etree.tostring(root, encoding="unicode"))
    except (ValueError, etree.LxmlError, ElementTree.ParseError):
        return None


# A table that spells out its row groups, with no text between its parts (the chronology's), parses alike.
_TABLE_PARTS = {"table": {"caption", "colgroup", "thead", "tbody", "tfoot"}, "thead": {"tr"}, "tbody": {"tr"},
                "tfoot": {"tr"}, "tr": {"td", "th"}}


def _whole_table(element) -> bool:
    for part in element.iter(*_TABLE_PARTS):
        children = [c for c in part if not isinstance(c, etree._Comment)]
        if any(c.tag not in _TABLE_PARTS[part.tag] or (c.tail or "").strip() for c in children) or \
                (part.text or "").strip():
            return False
    return True


def stylesheets(paths: list[str], extras: list[str],
                fetcher: URLFetcher) -> tuple[list[weasyprint.CSS], FontConfiguration]:
    """The theme's print stylesheets, then extra CSS text (page size and bleed; a chunk's own rules), and
    the font configuration their @font-face rules loaded into, which the document must be rendered with."""
    font_config = FontConfiguration()
    common = {"url_fetcher": fetcher, "font_config": font_config}
    sheets = [*(weasyprint.CSS(filename=path, **common) for path in paths),
              *(weasyprint.CSS(string=extra, **common) for extra in extras if extra)]
    return sheets, font_config
