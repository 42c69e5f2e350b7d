"""WeasyPrint's two walks of every page for each page, made cheap (compile/writers/pdf/weasy/page_walks.py): the
same PDF, byte for byte, with and without a `position: fixed` box, with anchors and page references; the
fixed boxes' walk skipped where no page has one and taken where one does; the earlier pages' anchors and
lookups gathered as WeasyPrint's loop gathers them."""

from __future__ import annotations

import contextlib
import io

import pdfplumber
import pytest
import weasyprint
from weasyprint import layout

from compile.writers.pdf.weasy import page_walks, patching

CSS = """@page { size: A6; margin: 12mm; @bottom-center { content: counter(page) } }
h1 { break-before: page } a.ref::after { content: " → " target-counter(attr(href), page) }"""
PAGES = "".join(f"<h1 id='a{n}'>第 {n} 篇</h1><p>正文，一段又一段。<a class='ref' href='#a{(n * 7) % 30}'>见</a></p>"
                for n in range(30))
FIXED = '<div style="position: fixed; top: 0; right: 0">机密</div>'


def _render(body: str, patched: bool) -> tuple[bytes, int]:
    visits = 0
    original = page_walks._LAYOUT_FIXED_BOXES  # noqa: SLF001 - WeasyPrint's own, counted

    def counting(context, pages, containing_page):
        nonlocal visits
        visits += len(pages)
        return original(context, pages, containing_page)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(page_walks, "_LAYOUT_FIXED_BOXES", counting)
        monkeypatch.setattr(layout, "layout_fixed_boxes", counting)  # WeasyPrint's, when not patched
        with patching.installed(page_walks.PATCH) if patched else contextlib.nullcontext(True) as active:
            assert active, patching.warning()  # fails, never skips, where the patch cannot apply
            document = weasyprint.HTML(string=f"<html lang='zh'><body>{body}</body></html>")
            data = document.write_pdf(stylesheets=[weasyprint.CSS(string=CSS)])
    return data, visits


def test_no_fixed_box_no_walk_the_same_pdf():
    plain, plain_visits = _render(PAGES, patched=False)
    patched, patched_visits = _render(PAGES, patched=True)
    assert patched == plain
    assert plain_visits == 30 * 29 and patched_visits == 0
    with pdfplumber.open(io.BytesIO(patched)) as pdf:
        assert "→ 8" in pdf.pages[1].extract_text()  # article 1 refers to article 7, on page 8


def test_a_fixed_box_is_laid_out_on_every_page_as_weasyprint_does():
    plain, plain_visits = _render(FIXED + PAGES, patched=False)
    patched, patched_visits = _render(FIXED + PAGES, patched=True)
    assert patched == plain and patched_visits == plain_visits == 30 * 29
    with pdfplumber.open(io.BytesIO(patched)) as pdf:
        assert [("机密" in (page.extract_text() or "")) for page in pdf.pages] == [True] * 30


def _loop(page_maker: list, count: int) -> tuple[list, list]:
    anchors, lookups = [], []
    for (_, _, _, _, state) in page_maker[:count]:  # WeasyPrint 70's loop, as make_page wrote it
        anchors.extend(state.get("anchors", []))
        lookups.extend(state.get("content_lookups", []))
    return anchors, lookups


def test_the_earlier_pages_anchors_and_lookups_are_gathered_as_weasyprint_does():
    """Pages made in order, the lists handed out appended to (as make_page does), a later pass remaking pages
    whose states are reset, a page_maker truncated into a new list: always WeasyPrint's loop's lists."""
    context = type("Context", (), {})()

    def entry(anchors=(), lookups=()):
        return (None, None, None, None, {"anchors": list(anchors), "content_lookups": list(lookups)})

    page_maker = [entry()]
    for page in range(1, 9):  # first pass: page `page` is made, its state filled, the next entry added
        gathered = page_walks._gathered(context, page_maker, page - 1)  # noqa: SLF001
        assert gathered == _loop(page_maker, page - 1)
        gathered[0].append("appended by make_page")  # a copy: the gathered prefix is not touched
        page_maker[page - 1][4]["anchors"] += [f"a{page}", f"b{page}"] if page % 3 else []
        page_maker[page - 1][4]["content_lookups"] += [page] if page % 2 else []
        page_maker.append(entry())
    for page in (4, 6, 9):  # a later pass remakes some pages: states reset, then filled again
        page_maker[page - 1][4].update(anchors=[], content_lookups=[])
        assert page_walks._gathered(context, page_maker, page - 1) == _loop(page_maker, page - 1)  # noqa: SLF001
        page_maker[page - 1][4]["anchors"].append(f"again{page}")
    page_maker = page_maker[:5]  # truncated: a new list
    assert page_walks._gathered(context, page_maker, 4) == _loop(page_maker, 4)  # noqa: SLF001
    rewritten, original = page_walks._REWRITTEN, page_walks._MAKE_PAGE  # noqa: SLF001
    assert rewritten is not None and rewritten is not original
    # A traceback through the rewritten make_page names page.py's lines.
    assert rewritten.__code__.co_filename == original.__code__.co_filename
    assert [max(line for _, _, line in f.__code__.co_lines() if line) for f in (rewritten, original)] == \
        [max(line for _, _, line in original.__code__.co_lines() if line)] * 2
    assert rewritten.__code__.co_firstlineno == original.__code__.co_firstlineno
