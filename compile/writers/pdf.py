"""PDF writer: one HTML document through WeasyPrint, with a URL fetcher that reads only our own files."""

from __future__ import annotations

import logging
from pathlib import Path

import weasyprint
from weasyprint.urls import URLFetcher

from compile import atomic
from compile.writers import justify, prepress
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
    fetcher = LockedFetcher([book.theme.root, *image_roots])
    html = weasyprint.HTML(string=html_document(book), base_url=book.theme.root.as_uri() + "/", url_fetcher=fetcher)
    stylesheets = [weasyprint.CSS(filename=str(book.theme.css("print")), url_fetcher=fetcher)]
    extra = prepress.stylesheet(book.settings.pdf)
    if extra:
        stylesheets.append(weasyprint.CSS(string=extra, url_fetcher=fetcher))
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    # CJK inter-character justification: layout (render) and drawing (write_pdf) both need it.
    with justify.installed() as cjk_justify, atomic.replacing(target) as tmp:
        document = html.render(stylesheets=stylesheets)
        document.write_pdf(tmp, **prepress.write_options(book.settings.pdf, book.attachments))
    notes = [f"refused resource: {url}" for url in fetcher.refused]
    if not cjk_justify:
        notes.append(f"WeasyPrint {weasyprint.__version__} is not supported by the CJK justification extension "
                     "(compile/writers/justify.py): Chinese lines are justified at spaces only")
    notes.extend(book.theme.pdf_notes)
    return Output(path=target, format="pdf", bytes=target.stat().st_size, pages=len(document.pages), notes=notes)
