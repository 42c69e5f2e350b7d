"""The book as one HTML document for print: its articles, their links marked for paper, the parts the theme
places. Both PDF paths and Chromium's print it; it needs no WeasyPrint, and Chromium's path never loads it."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from compile import processes
from compile.model import Image
from compile.transforms import typeset
from compile.writers import parts
from compile.writers.context import Book, environment, render_article

ZWSP = "\u200b"  # the zero-width space WeasyPrint makes of a <wbr> (its UA stylesheet)


class RenderTimeout(Exception):
    """A render in a worker ran past its time limit (pdf_chunks.time_limit): the build writes no PDF and
    names the articles, instead of hanging."""

    def __init__(self, ids: list[str], seconds: float):
        self.ids, self.seconds = ids, seconds
        what = f"articles {', '.join(ids)}" if ids else "the book's frame (all articles)"
        super().__init__(f"PDF: rendering {what} took longer than {seconds:.0f} s; no PDF was written")


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


def html_document(book: Book, weasyprint_breaks: bool = False) -> str:
    """The book as one HTML document: its articles, their links marked for paper, and the parts the theme
    places (writers/parts.py). `weasyprint_breaks`: the articles' bodies hold their break opportunities as
    characters (`breaks_as_characters`), for WeasyPrint."""
    env = environment(book.theme, book.zone, book.strings, book.cache_root)
    placed = parts.placement(book)
    with_sources = "sources" in placed["front"] + placed["back"]
    # A link's number points into the sources: without them (switched off, or no article), links print as they are.
    style = book.theme.parts.links
    mark = functools.partial(parts.mark_links, style=style) if style != "markers" or with_sources else None
    articles = book.anthology.articles

    def for_print(body: str) -> str:
        body = mark(body) if mark else body
        return breaks_as_characters(body) if weasyprint_breaks else body

    def article_html(index: int) -> tuple[str, list[parts.Link]]:  # in a forked worker (processes.forked_map)
        article = articles[index]
        links = parts.body_links(article.body) if with_sources else []  # for the sources, made side by side too
        return render_article(env, book, article, _image_uri, for_print), links

    rendered, links = {}, {}
    done = processes.forked_map(typeset.recording(article_html), range(len(articles)), book.workers)
    for article, ((html, found), typeset_titles) in zip(articles, done, strict=True):
        typeset.learn(typeset_titles)  # the titles' markup, for the contents that follow
        rendered[article.id], links[article.id] = html, found
    made = parts.build(book, parts.PRINT, links if with_sources else None)
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
    return _HEADING_OR_BREAK.sub(lambda found: found.group() if found.group(1) else ZWSP, body)


_HEADING_OR_BREAK = re.compile(r"<h([1-6])\b[^>]*>.*?</h\1>|<wbr/>", re.DOTALL)


def _image_uri(image: Image) -> str | None:
    return image.path.resolve().as_uri() if image.path else None
