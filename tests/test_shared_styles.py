"""Elements with equal cascades share one computed style (compile/writers/pdf/weasy/shared_styles.py): the same
PDF, byte for byte, with fewer styles computed; styles that differ, or that WeasyPrint changes per box, stay apart."""

from __future__ import annotations

import contextlib
import io

import pytest
import weasyprint
from pypdf import PdfReader

from compile.writers.pdf.weasy import patching, shared_styles

CSS = """
@page { size: A6; margin: 12mm; @bottom-center { content: counter(page); } }
@page { @footnote { border-top: .5pt solid } }
h1 { break-before: page; bookmark-level: 1; }
li { font: 9pt/1.6 serif; }
li[lang=en] { font-family: sans-serif; }
.ref::after { content: leader(". ") target-counter(attr(href url), page); }
.note { float: footnote; }
.echo { anchor: inherit; }
ol.sources > li::marker { color: #666; }
"""


def _entries(n: int) -> str:
    """List items of the shapes the book's parts make: ids, langs, a page reference each, inline styles, notes."""
    items = []
    for i in range(n):
        lang = "en" if i % 3 == 0 else "zh"
        note = f"<span class='note'>注 {i}</span>" if i % 4 == 0 else ""
        style = " style='color: #a00'" if i % 5 == 0 else ""
        items.append(f"<li id='e{i}' lang='{lang}'{style}><a class='ref' href='#c{i % 3}'>"
                     f"<span class='clause'>条目 {i}</span> <span class='keep'>标题</span></a>{note}"
                     f"<span class='echo'></span></li>")
    return "".join(items)


HTML = (f"<html lang='zh'><body><ol class='sources'>{_entries(40)}</ol>"
        + "".join(f"<h1 id='c{c}'>章 {c}</h1><p>正文。</p>" for c in range(3)) + "</body></html>")


def _render(shared: bool, html: str = HTML, css: str = CSS) -> tuple[bytes, list, list]:
    """The PDF, each page's anchors, and every element's and pseudo-element's computed style (keyed as WeasyPrint
    keys them), kept from the document's StyleFor."""
    made = []
    original = weasyprint.document.get_all_computed_styles

    def keeping(*args, **kwargs):
        made.append(original(*args, **kwargs))
        return made[-1]

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(weasyprint.document, "get_all_computed_styles", keeping)
        with patching.installed(shared_styles.PATCH) if shared else contextlib.nullcontext(True) as active:
            assert active, patching.warning()  # fails, never skips, where the patch cannot apply
            document = weasyprint.HTML(string=html).render(stylesheets=[weasyprint.CSS(string=css)])
            data = document.write_pdf()
    anchors = [sorted(page.anchors) for page in document.pages]
    styles = [(element, pseudo, style) for (element, pseudo), style in made[0].get_computed_styles().items()
              if hasattr(element, "tag")]
    return data, anchors, styles


def test_the_same_pdf_with_fewer_styles_computed():
    plain, plain_anchors, plain_styles = _render(shared=False)
    shared, shared_anchors, shared_styles_ = _render(shared=True)
    assert shared == plain
    assert shared_anchors == plain_anchors
    def distinct(styles: list) -> int:  # of the elements and their ::after (WeasyPrint shares a few itself)
        return len({id(style) for _element, pseudo, style in styles if pseudo in (None, "after")})

    assert distinct(shared_styles_) < 0.6 * distinct(plain_styles)
    texts = [page.extract_text() for page in PdfReader(io.BytesIO(shared)).pages]
    assert any("条目 39" in text for text in texts) and any("注 36" in text for text in texts)


def test_what_differs_or_changes_per_box_keeps_a_style_of_its_own():
    *_, styles = _render(shared=True)
    of = {(element.get("id") or element.get("class") or element.tag, pseudo): style
          for element, pseudo, style in styles}
    items = [of[f"e{i}", None] for i in range(40)]
    assert len({id(style) for style in items}) == 40  # ids differ: anchors of their own
    assert [style["anchor"] for style in items] == [f"e{i}" for i in range(40)]
    per_item = [(element, style) for element, pseudo, style in styles if pseudo is None]
    clauses = {id(style) for element, style in per_item if element.get("class") == "clause"}
    # Under items that differ by their id alone, one per language; below an inline style (every fifth item,
    # its declarations compared as the objects they are), one each.
    assert len(clauses) == 2 + 40 // 5
    echoes = [(element, style) for element, style in per_item if element.get("class") == "echo"]
    parent = {child: element for element, _style in per_item for child in element}
    assert len(echoes) == 40
    assert all(style["anchor"] == parent[element].get("id") for element, style in echoes)  # anchor: inherit
    notes = [style for element, style in per_item if element.get("class") == "note"]
    assert len({id(style) for style in notes}) == len(notes) == 10  # footnotes get their anchors in place
    afters = {id(style) for element, pseudo, style in styles if pseudo == "after"}
    assert len(afters) == 2 + 40 // 5  # a page reference's leader and number


# What an independent review found: a ::marker WeasyPrint changes in place for a pseudo-element's list item
# (shared, the build crashed), and an anchor inherited through var() (shared, it read another parent's id).
TEMPTING = {
    "markers of list-item ::before, outside then inside": (
        "<div id=x><p>one</p></div><div id=y><p>two</p></div>",
        "p::marker { color: red } #x p::before { display: list-item; content: 'A'; list-style-position: outside }"
        " #y p::before { display: list-item; content: 'B'; list-style-position: inside }"),
    "the same, by the paragraphs' ids": (
        "<p id=b>two</p><p id=a>one</p>",
        "p::marker { color: red } #a::before { display: list-item; content: 'A'; list-style-position: outside }"
        " #b::before { display: list-item; content: 'B'; list-style-position: inside }"),
    "anchor: inherit through var()": (
        "<div id=a><span class=e>x</span></div><div id=b><span class=e>y</span></div>"
        "<p><a href='#a'>to a</a> <a href='#b'>to b</a></p>",
        ".e { anchor: var(--none, inherit) }"),
}


@pytest.mark.parametrize("name", list(TEMPTING))
def test_styles_weasyprint_changes_or_that_read_their_parent_are_not_shared(name):
    pdfs = []
    for shared in (False, True):
        data, _anchors, styles = _render(shared, *TEMPTING[name])
        anchors = {element.text: style["anchor"] for element, pseudo, style in styles
                   if pseudo is None and element.get("class") == "e"}
        assert anchors in ({}, {"x": "a", "y": "b"})
        pdfs.append(data)
    assert pdfs[1] == pdfs[0]
