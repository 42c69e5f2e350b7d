"""Margin boxes sized without their min-content width where the max-content one decides
(compile/writers/pdf/weasy/margin_widths.py): the same PDF, byte for byte, with fewer min-content widths computed;
heads too long for their row still clamp as WeasyPrint clamps them."""

from __future__ import annotations

import contextlib

import pytest
import weasyprint
from weasyprint.layout import page as layout_page

from compile.writers.pdf.weasy import margin_widths, patching

CSS = """
@page { size: A6; margin: 15mm 12mm; @bottom-center { content: counter(page); font-size: 8pt; } }
@page :right { @top-right { content: string(head, first-except); font: 8pt sans-serif; } }
@page :left { @top-left { content: string(head, first-except); font: 8pt sans-serif;
                          border-bottom: .5pt solid; padding: 0 2mm; }
              @top-right { content: "右"; } }
h1 { string-set: head content(); break-before: page; }
"""
HEADS = ["短标题", "一个相当长的中文标题，长到一行放不下，页眉只好在它自己的那一栏里换行排成两行甚至三行才行",
         "A Latin head, narrow", "混排 Latin 与中文的标题 2024"]
BODY = "".join(f"<h1>{head}</h1>" + "<p>正文。</p>" * 40 for head in HEADS)
HTML = f"<html lang='zh'><body>{BODY}</body></html>"


def _render(patched: bool) -> tuple[bytes, int]:
    calls = 0
    original = layout_page.min_content_width

    def counting(*args, **kwargs):
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(layout_page, "min_content_width", counting)
        with patching.installed(margin_widths.PATCH) if patched else contextlib.nullcontext(True) as active:
            assert active, patching.warning()  # fails, never skips, where the patch cannot apply
            data = weasyprint.HTML(string=HTML).write_pdf(stylesheets=[weasyprint.CSS(string=CSS)])
    return data, calls


def test_the_same_pdf_with_fewer_min_content_widths():
    plain, plain_calls = _render(patched=False)
    patched, patched_calls = _render(patched=True)
    assert patched == plain
    assert plain_calls > 10
    assert 0 < patched_calls < plain_calls / 2  # the long head still needs its min-content width


@pytest.mark.parametrize("wanted", [0, 5, 40, 55, 60, 80, 1000])
def test_the_setter_clamps_as_weasyprint_does(wanted):
    box = layout_page.HorizontalBox.__new__(layout_page.HorizontalBox)
    box.margin_a, box.margin_b, box.padding_plus_border = 0, 0, 4
    box._min_content_size, box._max_content_size = 50, 60  # noqa: SLF001
    margin_widths.OUTER.fset(box, wanted)
    mine = box.inner
    margin_widths._ORIGINAL.fset(box, wanted)  # noqa: SLF001
    assert mine == box.inner == min(max(50, wanted - 4), 60)
