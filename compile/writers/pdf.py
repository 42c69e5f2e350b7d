"""PDF writer: one HTML document through WeasyPrint, with a URL fetcher that reads only our own files."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import cssselect2
import lxml.html
import weasyprint
from lxml import etree
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from compile import atomic
from compile.images import Cache
from compile.writers import extension, frame_prune, justify, leaders, page_styles, prepress
from compile.writers.context import Book, Output, environment, render_article

log = logging.getLogger("anthology")


class RenderTimeout(Exception):
    """A render in a worker ran past its time limit (pdf_chunks.time_limit): the build writes no PDF and
    names the articles, instead of hanging."""

    def __init__(self, ids: list[str], seconds: float):
        self.ids, self.seconds = ids, seconds
        what = f"articles {', '.join(ids)}" if ids else "the book's frame (all articles)"
        super().__init__(f"PDF: rendering {what} took longer than {seconds:.0f} s; no PDF was written")


class LockedFetcher(URLFetcher):
    """Serve `file:` URLs under the allowed folders; refuse everything else, and remember it."""

    def __init__(self, roots: list[Path]):
        super().__init__(allowed_protocols={"file"}, allow_redirects=False)
        self.roots = [r.resolve() for r in roots]
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        path = Path(url.removeprefix("file://").split("?")[0]).resolve() if url.startswith("file://") else None
        if path is None or not any(path.is_relative_to(root) for root in self.roots):
            self.refused.append(url)
            raise ValueError(f"refused: {url} is not one of the build's own resources")
        return super().fetch(url, headers)


@contextlib.contextmanager
def fewer_collections(threshold: int = 20_000) -> Iterator[None]:
    """Run Python's cyclic GC less often while WeasyPrint renders.

    A render allocates millions of small objects that live until the pages are drawn; at the default
    cadence (a young collection every 700 allocations, promoting into ever-larger older ones) the collector
    walks them again and again: ~12 % of a 573-page render, ~7 % of a chunk's. Nothing is left uncollected.
    """
    before = gc.get_threshold()
    gc.set_threshold(threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextlib.contextmanager
def extended() -> Iterator[None]:
    """WeasyPrint as both PDF paths use it, for layout (render) and drawing (write_pdf): CJK justification
    (justify.py), page styles computed once per kind of page (page_styles.py), the chunked frame's hidden
    units laid out only as far as needed (frame_prune.py), a leader's dots drawn from one kept layout (leaders.py),
    fewer GC passes."""
    with justify.installed(), page_styles.installed(), frame_prune.installed(), leaders.installed(), \
            fewer_collections():
        yield


def html_document(book: Book) -> str:
    env = environment(book.theme, book.zone)
    rendered = {
        a.id: render_article(env, book, a, lambda image: image.path.resolve().as_uri() if image.path else None)
        for a in book.anthology.articles
    }
    return env.get_template("book.html.j2").render(rendered=rendered, **book.template_context())


def write(book: Book, target: Path, image_roots: list[Path]) -> Output:
    """Chunked when it pays (see pdf_chunks: same pages, rendered in parallel and cached), else one pass."""
    from compile.writers import pdf_chunks, pdf_split

    notes = []
    output = None
    if pdf_chunks.wanted(book):
        cache_root = Cache.from_settings(book.settings.images).root
        try:
            output, _ = pdf_chunks.build(book, target, image_roots, cache_root, pdf_chunks.worker_count(book))
        except pdf_split.NotChunkable as exc:
            log.info("pdf: rendered in one pass: %s", exc)
            if book.settings.pdf.mode == "chunked":  # asked for, so say why it was not done
                notes.append(f"PDF rendered in one pass: {exc}")
    if output is None:
        output = write_single(book, target, image_roots)
    output.notes[:0] = notes
    if not justify.supported():
        output.notes.append(f"WeasyPrint {weasyprint.__version__} is not supported by the CJK justification "
                            "extension (compile/writers/justify.py): Chinese lines are justified at spaces only")
    output.notes.extend(book.theme.pdf_notes)
    return output


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
    goes to WeasyPrint as XML (expat, C) on WeasyPrint 70, whose HTML object this builds. Otherwise, or if
    the XML does not parse, WeasyPrint parses the HTML itself.
    """
    tree = _element_tree(text) if extension.supported(_TREE_MAJOR) else None
    if tree is None:
        return weasyprint.HTML(string=text, base_url=base_url, url_fetcher=fetcher)
    html = weasyprint.HTML.__new__(weasyprint.HTML)
    html.base_url = weasyprint._find_base_url(tree, base_url)  # noqa: SLF001 - as HTML.__init__ does
    html.url_fetcher, html.media_type = fetcher, "print"
    html.wrapper_element = cssselect2.ElementWrapper.from_html_root(tree, content_language=None)
    html.etree_element = html.wrapper_element.etree_element
    return html


_TREE_MAJOR = {"70"}  # WeasyPrint versions whose HTML object `parsed` builds as HTML.__init__ does


def _element_tree(text: str):
    try:
        root = lxml.html.document_fromstring(text)
        for element in root.iter(etree.Element):
            if element.tag in _HTML5_ONLY or any(name.startswith("xmlns") or ":" in name for name in element.attrib):
                return None
            if element.tag == "p" and any(inner.tag in _CLOSES_P for inner in element.iterdescendants(etree.Element)):
                return None
        return ElementTree.fromstring(etree.tostring(root, encoding="unicode"))
    except (ValueError, etree.LxmlError, ElementTree.ParseError):
        return None


def stylesheets(paths: list[str], extras: list[str],
                fetcher: URLFetcher) -> tuple[list[weasyprint.CSS], FontConfiguration]:
    """The theme's print stylesheets, then extra CSS text (page size and bleed; a chunk's own rules), and
    the font configuration their @font-face rules loaded into, which the document must be rendered with."""
    font_config = FontConfiguration()
    common = {"url_fetcher": fetcher, "font_config": font_config}
    sheets = [*(weasyprint.CSS(filename=path, **common) for path in paths),
              *(weasyprint.CSS(string=extra, **common) for extra in extras if extra)]
    return sheets, font_config


def write_single(book: Book, target: Path, image_roots: list[Path]) -> Output:
    fetcher = LockedFetcher([book.theme.root, *image_roots])
    html = weasyprint.HTML(string=html_document(book), base_url=book.theme.root.as_uri() + "/", url_fetcher=fetcher)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    with extended(), atomic.replacing(target) as tmp:
        sheets, font_config = stylesheets([str(p) for p in book.theme.print_stylesheets()],
                                          [prepress.stylesheet(book.settings.pdf)], fetcher)
        document = html.render(stylesheets=sheets, font_config=font_config)
        document.write_pdf(tmp, **prepress.write_options(book.settings.pdf, book.attachments))
    notes = [f"refused resource: {url}" for url in fetcher.refused]
    return Output(path=target, format="pdf", bytes=target.stat().st_size, pages=len(document.pages), notes=notes)
