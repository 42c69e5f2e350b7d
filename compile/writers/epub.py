"""EPUB writer: ebooklib, one XHTML file per article, rendered through the shared article template."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from ebooklib import epub

from compile.writers.context import Book, Output, environment, render_article


def book_identifier(book: Book) -> str:
    """Same inputs, same id: a UUID-shaped digest of the title and the articles' sources and text."""
    digest = hashlib.sha256(book.anthology.title.encode())
    for article in book.anthology.articles:
        digest.update(article.source.encode())
        digest.update(article.body.encode())
    h = digest.hexdigest()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-5{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def _link_css(page: epub.EpubHtml) -> None:
    """Pages live in text/, the stylesheet in styles/: ebooklib writes hrefs verbatim, so make them relative."""
    page.add_link(href="../styles/book.css", rel="stylesheet", type="text/css")


def write(book: Book, target: Path) -> Output:
    anthology, theme = book.anthology, book.theme
    env = environment(theme, book.zone)
    ebook = epub.EpubBook()
    ebook.set_identifier(book_identifier(book))
    ebook.set_title(anthology.title)
    ebook.set_language(anthology.language)
    if anthology.editor:
        ebook.add_author(anthology.editor)
    for outlet in sorted({a.outlet for a in anthology.articles if a.outlet}):
        ebook.add_metadata("DC", "source", outlet)
    if theme.page_progression == "rtl":
        ebook.set_direction("rtl")

    css = epub.EpubItem(uid="style", file_name="styles/book.css", media_type="text/css",
                        content=theme.css("epub").read_bytes())
    ebook.add_item(css)

    title_page = epub.EpubHtml(uid="titlepage", file_name="text/titlepage.xhtml", title=anthology.title,
                               lang=anthology.language)
    title_page.content = env.get_template("titlepage.html.j2").render(**book.template_context())
    _link_css(title_page)
    ebook.add_item(title_page)

    image_items: dict[Path, str] = {}

    def image_src(image) -> str | None:
        if image.path is None:
            return None
        if image.path not in image_items:
            name = f"images/{image.path.name}"
            ebook.add_item(epub.EpubItem(uid=f"img-{len(image_items)}", file_name=name,
                                         media_type=image.media_type, content=image.path.read_bytes()))
            image_items[image.path] = name
        return "../" + image_items[image.path]

    chapters, toc = [], []
    for section in anthology.sections:
        links = []
        for article in section.articles:
            chapter = epub.EpubHtml(uid=f"a-{article.id}", file_name=f"text/{article.id}.xhtml",
                                    title=article.title or article.source, lang=article.language or anthology.language)
            chapter.content = render_article(env, book, article, image_src)
            _link_css(chapter)
            ebook.add_item(chapter)
            chapters.append(chapter)
            links.append(epub.Link(chapter.file_name, chapter.title, chapter.id))
        if section.title and links:
            toc.append((epub.Section(section.title, links[0].href), links))
        else:
            toc.extend(links)
    ebook.toc = toc or [epub.Link(title_page.file_name, anthology.title, "titlepage")]
    ebook.add_item(epub.EpubNcx())
    nav = epub.EpubNav(uid="nav", file_name="nav.xhtml")
    nav.add_link(href="styles/book.css", rel="stylesheet", type="text/css")
    ebook.add_item(nav)
    ebook.spine = [title_page, "nav", *chapters]

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".part")
    os.close(fd)
    try:
        epub.write_epub(tmp, ebook, {"epub3_pages": False})
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return Output(path=target, format="epub", bytes=target.stat().st_size)
