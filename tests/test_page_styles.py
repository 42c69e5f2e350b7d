"""Page styles computed once per kind of page (compile/writers/pdf/weasy/page_styles.py) change nothing on the page."""

from __future__ import annotations

import contextlib
import io

import pytest
import weasyprint
from pypdf import PdfReader

from compile.writers.pdf.weasy import page_styles, patching

CSS = """
@page { size: A6; margin: 20mm 12mm; @bottom-center { content: counter(page) " / " counter(pages); } }
@page :right { @top-right { content: string(title) " (R)"; } }
@page :left { margin-left: 16mm; @top-left { content: string(title) " (L)"; } }
@page :first { @bottom-center { content: "first"; } }
@page :blank { @top-right { content: "blank"; } @top-left { content: "blank"; } }
@page opener { margin-top: 40mm; @top-right { content: none; } @top-left { content: none; } }
h1 { string-set: title content(); break-before: right; }
.opener { page: opener; }
"""
NTH = "@page :nth(3) { @top-center { content: 'third'; } }"


def _html(sections: int) -> str:
    body = "".join(f"<section class='{'opener' if n % 3 == 0 else ''}'><h1>章节 {n}</h1>"
                   + "<p>正文。</p>" * (10 + 7 * n) + "</section>" for n in range(sections))
    return f"<html lang='zh'><body>{body}</body></html>"


def _pages(css: str, memo: bool) -> list[str]:
    document = weasyprint.HTML(string=_html(8))
    with patching.installed(page_styles.PATCH) if memo else contextlib.nullcontext(True) as active:
        assert active, patching.warning()  # fails, never skips, where the patch cannot apply (docs/upgrading.md)
        data = document.write_pdf(stylesheets=[weasyprint.CSS(string=css)])
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


@pytest.mark.parametrize("css", [CSS, CSS + NTH], ids=["kinds", "nth"])
def test_same_pages_with_and_without(css):
    plain, memo = _pages(css, memo=False), _pages(css, memo=True)
    assert memo == plain
    assert len(plain) > 12 and any("blank" in text for text in plain) and "first" in plain[0]
    assert any("(L)" in text for text in plain) and any("(R)" in text for text in plain)
    if css.endswith(NTH):
        assert "third" in plain[2] and not any("third" in text for text in plain[3:])


def test_pages_of_one_kind_share_the_styles_weasyprint_computes_for_each():
    """Pages of one kind share style objects (layout's in-place adjustments are the same on every page),
    and what they hold after layout is what WeasyPrint computes for each page on its own."""
    def styles(memo: bool) -> list:
        document = weasyprint.HTML(string=_html(4))
        with patching.installed(page_styles.PATCH) if memo else contextlib.nullcontext(True) as active:
            assert active, patching.warning()
            rendered = document.render(stylesheets=[weasyprint.CSS(string=CSS)])
        return [page._page_box.style for page in rendered.pages]  # noqa: SLF001

    shared, own = styles(memo=True), styles(memo=False)
    assert len({id(style) for style in shared}) < len(shared) == len({id(style) for style in own})
    for mine, theirs in zip(shared, own, strict=True):
        assert {key: mine[key] for key in theirs} == dict(theirs)
