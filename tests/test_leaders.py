"""leader() copies drawn from one kept layout (compile/writers/pdf/weasy/leaders.py): the same pages, built once."""

from __future__ import annotations

import contextlib
import io

import weasyprint
from pypdf import PdfReader
from weasyprint.text import line_break

from compile.writers.pdf.weasy import leaders, patching

CSS = """
@page { size: A6; margin: 15mm 12mm; }
body { font: 10pt/1.6 "Noto Sans CJK SC", sans-serif; }
li { list-style: none; }
a { color: inherit; text-decoration: none; }
.dots a::after { content: leader(". ") target-counter(attr(href url), page); }
.dashes a::after { content: leader("-") "p. " target-counter(attr(href url), page); }
.rtl { direction: rtl; }
h2 { break-before: page; }
"""


def _html() -> str:
    entries = [f"第 {n} 章：{'长标题' * (n % 5)}Title {n}" for n in range(1, 13)]
    toc = "".join(f"<li><a href='#s{n}'>{text}</a></li>" for n, text in enumerate(entries, 1))
    body = "".join(f"<h2 id='s{n}'>{text}</h2><p>{'正文。' * 40 * n}</p>" for n, text in enumerate(entries, 1))
    return (f"<html lang='zh'><body><ol class='dots'>{toc}</ol><ol class='dashes'>{toc}</ol>"
            f"<ol class='dots rtl'>{toc}</ol>{body}</body></html>")


def _render(kept: bool, monkeypatch) -> tuple[list, int, int]:
    """The PDF's pages, how many Pango layouts were built while drawing, and how many dots (leader copies)
    more than leaders there are."""
    document = weasyprint.HTML(string=_html())
    with patching.installed(leaders.PATCH) if kept else contextlib.nullcontext(True) as active:
        assert active, patching.warning()  # fails, never skips, where the patch cannot apply (docs/upgrading.md)
        rendered = document.render(stylesheets=[weasyprint.CSS(string=CSS)])
        built = []
        real = line_break.Layout.setup
        monkeypatch.setattr(line_break.Layout, "setup", lambda self, style: built.append(1) or real(self, style))
        data = rendered.write_pdf()
        monkeypatch.undo()
    leader_boxes = [box for page in rendered.pages for box in page._page_box.descendants()  # noqa: SLF001
                    if getattr(box, "is_leader", False)]
    extra = sum(len(box.children) - 1 for box in leader_boxes)
    return PdfReader(io.BytesIO(data)).pages, len(built), extra


def test_same_pages_far_fewer_layouts(monkeypatch):
    plain, plain_built, extra = _render(kept=False, monkeypatch=monkeypatch)
    kept, kept_built, _ = _render(kept=True, monkeypatch=monkeypatch)
    contents = [[page.get_contents().get_data() for page in pages] for pages in (plain, kept)]
    assert contents[0] == contents[1]  # every page's content, byte for byte
    text = plain[0].extract_text()
    assert ". . . ." in text and "----" in text
    assert extra > 500 and plain_built - kept_built == extra  # one build per leader, not per dot


def test_layouts_of_other_text_are_freed_after_drawing():
    """Only the layouts leader copies share are kept built; WeasyPrint frees every other one."""
    with patching.installed(leaders.PATCH) as active:
        assert active, patching.warning()
        rendered = weasyprint.HTML(string=_html()).render(stylesheets=[weasyprint.CSS(string=CSS)])
        rendered.write_pdf()
    boxes = [box for page in rendered.pages for box in page._page_box.descendants()  # noqa: SLF001
             if hasattr(box, "pango_layout")]
    kept = [box for box in boxes if isinstance(box.pango_layout, leaders.KeptLayout)]
    assert kept and all(hasattr(box.pango_layout, "layout") for box in kept)
    assert not any(hasattr(box.pango_layout, "layout") for box in boxes if box not in kept)
