"""WeasyPrint's HTML object for a tree we parsed ourselves: what `HTML.__init__` does, without its HTML5 parser.

Why: WeasyPrint parses HTML with tinyhtml5, in pure Python: ~1 s for a 300-article frame. For HTML we
serialized from an lxml tree (a chunk, the frame), lxml and expat (C) build the same tree (render.parsed
says when). Nothing is replaced: the object is built as HTML.__init__ builds it, which PATCH checks by
building one both ways. Inactive, WeasyPrint parses every chunk and frame itself.
"""

from __future__ import annotations

import cssselect2
import weasyprint
from weasyprint.urls import URLFetcher

from compile.writers.pdf.weasy import patching
from compile.writers.pdf.weasy.patching import Private

_SETS = {"base_url", "url_fetcher", "media_type", "wrapper_element", "etree_element"}  # what `document` sets


def document(tree, base_url: str, fetcher: URLFetcher) -> weasyprint.HTML:
    """The HTML object for an ElementTree root, as HTML.__init__ makes it from a string."""
    html = weasyprint.HTML.__new__(weasyprint.HTML)
    html.base_url = weasyprint._find_base_url(tree, base_url)  # noqa: SLF001 - as HTML.__init__ does
    html.url_fetcher, html.media_type = fetcher, "print"
    html.wrapper_element = cssselect2.ElementWrapper.from_html_root(tree, content_language=None)
    html.etree_element = html.wrapper_element.etree_element
    return html


def _sets_the_same() -> str | None:
    made = set(vars(weasyprint.HTML(string="<p>x</p>", base_url="file:///")))
    return None if made == _SETS else f"HTML.__init__ sets {', '.join(sorted(made))}, not {', '.join(sorted(_SETS))}"


PATCH = patching.register(patching.Patch(
    "html_tree",
    without="the same pages; chunks and the frame are parsed by WeasyPrint's slower HTML5 parser",
    uses=(Private(weasyprint, "_find_base_url", "html_document, fallback_base_url"),
          Private(weasyprint.HTML, "__init__", "self, guess, filename, url, file_obj, string, encoding, base_url, "
                  "url_fetcher, media_type")),
    probe=_sets_the_same))
