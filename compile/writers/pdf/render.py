"""What both PDF paths share: the book as one HTML document, WeasyPrint with our extensions, a URL fetcher that
reads only our own files, the theme's stylesheets."""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname
from xml.etree import ElementTree

import lxml.html
import weasyprint
from lxml import etree
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from compile import processes
from compile.model import Image
from compile.transforms import typeset
from compile.writers import parts
from compile.writers.context import Book, environment, render_article
from compile.writers.pdf.weasy import (
    frame_prune,
    justify,
    known_targets,
    leaders,
    margin_widths,
    page_styles,
    patching,
    shared_styles,
    target_counters,
    tree,
)

log = logging.getLogger("anthology")


class RenderTimeout(Exception):
    """A render in a worker ran past its time limit (pdf_chunks.time_limit): the build writes no PDF and
    names the articles, instead of hanging."""

    def __init__(self, ids: list[str], seconds: float):
        self.ids, self.seconds = ids, seconds
        what = f"articles {', '.join(ids)}" if ids else "the book's frame (all articles)"
        super().__init__(f"PDF: rendering {what} took longer than {seconds:.0f} s; no PDF was written")


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


def local_path(url: str) -> Path | None:
    """The file a `file:` URL names: its path percent-decoded (Path.as_uri() writes a folder called `a+b` or
    `新 闻` as `a%2Bb`, `%E6%96%B0%20...`), then resolved; None for another URL. A raw `#` is refused: the
    writer's own URLs escape it (%23), and urllib, which opens the file for WeasyPrint, cuts a fragment at
    the last `#` where urlsplit cuts at the first, so the file checked would not be the file opened."""
    if "#" in url:
        return None
    try:
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            return None
        return Path(url2pathname(parts.path)).resolve()
    except (OSError, ValueError, RuntimeError):  # a malformed URL, a NUL byte, a loop of links
        return None


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
    max-content one decides (margin_widths.py), fewer GC passes.
    Re-entrant and thread-safe; the patches that are inactive on this WeasyPrint stay out."""
    with patching.installed(justify.PATCH, page_styles.PATCH, frame_prune.PATCH, leaders.PATCH,
                            target_counters.PATCH, known_targets.PATCH, shared_styles.PATCH, margin_widths.PATCH), \
            fewer_collections():
        yield


def html_document(book: Book, weasyprint_breaks: bool = False) -> str:
    """The book as one HTML document: its articles, their links marked for paper, and the parts the theme
    places (writers/parts.py). `weasyprint_breaks`: the articles' bodies hold their break opportunities as
    characters (`breaks_as_characters`), for WeasyPrint."""
    env = environment(book.theme, book.zone, book.strings, book.cache_root)
    made = parts.build(book, parts.PRINT)
    # A link's number points into the sources: without them (switched off, or no article), links print as they are.
    numbered = made.links != "markers" or "sources" in made.names
    mark = functools.partial(parts.mark_links, style=made.links) if numbered else None
    articles = book.anthology.articles

    def for_print(body: str) -> str:
        body = mark(body) if mark else body
        return breaks_as_characters(body) if weasyprint_breaks else body

    def article_html(index: int) -> str:  # in a forked worker (processes.forked_map)
        return render_article(env, book, articles[index], _image_uri, for_print)

    rendered = {}
    done = processes.forked_map(typeset.recording(article_html), range(len(articles)), book.workers)
    for article, (html, typeset_titles) in zip(articles, done, strict=True):
        typeset.learn(typeset_titles)  # the titles' markup, for the contents that follow
        rendered[article.id] = html
    return env.get_template("book.html.j2").render(rendered=rendered, parts=made, **book.template_context())


def breaks_as_characters(body: str) -> str:
    """An article's body with each `<wbr/>` (typeset.py's breaks beside quotation marks) outside its headings as
    the zero-width space WeasyPrint makes of it (its UA stylesheet: `wbr::before { content: "\\200B" }`).

    Why: as an element, each break is two more boxes and splits the paragraph's text in two more; as a
    character, a paragraph is one text run. A chunk's layout takes ~25 % less time, with the same lines and
    page text. Bodies are sanitized (no comments, no raw-text elements) and serialized escaping "<" in text and
    in attribute values, so the string is only ever the element. Headings and titles keep their elements: a
    bookmark or a running head takes an element's text, which leaves a ::before out but would keep the
    character (WeasyPrint bookmarks h5 and h6 unless a theme says otherwise).
    """
    return _HEADING_OR_BREAK.sub(lambda found: found.group() if found.group(1) else justify.ZWSP, body)


_HEADING_OR_BREAK = re.compile(r"<h([1-6])\b[^>]*>.*?</h\1>|<wbr/>", re.DOTALL)


def _image_uri(image: Image) -> str | None:
    return image.path.resolve().as_uri() if image.path else None


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
