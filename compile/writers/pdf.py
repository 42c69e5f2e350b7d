"""PDF writer: one HTML document through WeasyPrint, with a URL fetcher that reads only our own files."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import weasyprint
from weasyprint.urls import URLFetcher

from compile.images import Cache
from compile.writers.context import Book, Output, environment, render_article


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
    if pdf_chunks.wanted(book):
        cache_root = Cache.from_settings(book.settings.images).root
        try:
            output, _ = pdf_chunks.build(book, target, image_roots, cache_root, pdf_chunks.worker_count(book))
            return output
        except pdf_split.NotChunkable as exc:
            notes.append(f"PDF rendered in one pass: {exc}")
    output = write_single(book, target, image_roots)
    output.notes[:0] = notes
    return output


def write_single(book: Book, target: Path, image_roots: list[Path]) -> Output:
    fetcher = LockedFetcher([book.theme.root, *image_roots])
    html = weasyprint.HTML(string=html_document(book), base_url=book.theme.root.as_uri() + "/", url_fetcher=fetcher)
    css = weasyprint.CSS(filename=str(book.theme.css("print")), url_fetcher=fetcher)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    document = html.render(stylesheets=[css])
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    try:
        document.write_pdf(tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    notes = [f"refused resource: {url}" for url in fetcher.refused]
    return Output(path=target, format="pdf", bytes=target.stat().st_size, pages=len(document.pages), notes=notes)
