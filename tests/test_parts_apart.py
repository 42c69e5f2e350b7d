"""The book's parts rendered as chunks of their own, their page references given (weasy/known_targets.py), and
laid out in the frame instead when that cannot be done (chunked/build.py)."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import threading

import weasyprint
from pypdf import PdfReader

from compile.writers.pdf import render as pdf
from compile.writers.pdf import writer
from compile.writers.pdf.chunked import build as pdf_chunks
from compile.writers.pdf.weasy import known_targets
from tests.conftest import SEEDS
from tests.test_pdf_merge import _book, _lines

REFERENCES = ('<p><a class="r" href="#far">far</a> <a class="r" href="#gone">gone</a> '
              '<a class="r" href="#here">here</a></p><p id="here" style="break-before: page">x</p>')
STYLE = '.r::after { content: " p" target-counter(attr(href url), page) }'


def _text(known: dict[str, int] | None) -> tuple[str, set[str]]:
    """The first page's text of REFERENCES rendered with `known` given (None: not inside known())."""
    unknown: set[str] = set()
    with pdf.extended():
        if known is None:
            document = weasyprint.HTML(string=REFERENCES).render(stylesheets=[weasyprint.CSS(string=STYLE)])
        else:
            with known_targets.known(known) as unknown:
                document = weasyprint.HTML(string=REFERENCES).render(stylesheets=[weasyprint.CSS(string=STYLE)])
    return PdfReader(io.BytesIO(document.write_pdf())).pages[0].extract_text(), unknown


def test_a_reference_to_a_given_anchor_gets_its_page_and_the_others_are_weasyprints():
    assert known_targets.PATCH.active(), known_targets.PATCH.reason()
    text, unknown = _text({"far": 42})
    assert "far p42" in text
    assert "here p2" in text, "an anchor of the document itself is WeasyPrint's to resolve"
    assert not re.search(r"gone p\d", text), "a reference neither given nor present is discarded, as WeasyPrint does"
    assert unknown == {"gone", "here"}, "names looked up and not given are collected for the writer"


def test_the_given_pages_hold_only_inside_the_block_and_its_thread():
    plain, _ = _text(None)
    assert "p42" not in plain and "here p2" in plain
    seen = {}
    with known_targets.known({"far": 42}):
        thread = threading.Thread(target=lambda: seen.update(text=_text(None)[0]))
        thread.start()
        thread.join()
    assert "p42" not in seen["text"], "a render in another thread (volumes under Dask) does not see them"


def test_parts_are_chunks_of_their_own_and_the_pdf_equals_one_pass(tmp_path):
    book = _book(SEEDS, title="种子")
    writer.write_single(book, tmp_path / "single.pdf", [tmp_path])
    output, stats = pdf_chunks.build(book, tmp_path / "chunked.pdf", [tmp_path], tmp_path, 1)
    assert stats.parts >= 2 and stats.rounds == 1 and "skeleton" in stats.seconds
    single, chunked = PdfReader(tmp_path / "single.pdf"), PdfReader(output.path)
    assert [_lines(p) for p in chunked.pages] == [_lines(p) for p in single.pages]
    numbers = [n for page in chunked.pages[-12:] for n in re.findall(r"\.\s*(\d+)\s*$", page.extract_text(), re.M)]
    assert numbers, "the parts' page references are drawn"


def test_the_skeleton_finds_each_article_s_page_in_one_round(tmp_path):
    """Sections open on right-hand pages, articles run over several pages, the parts open on right-hand pages
    after blank ones: the skeleton, where each unit stands for one page or two, still gives the parts the
    frame's page numbers."""
    book = _book(SEEDS, title="种子", sections="outlet")
    writer.write_single(book, tmp_path / "single.pdf", [tmp_path])
    output, stats = pdf_chunks.build(book, tmp_path / "chunked.pdf", [tmp_path], tmp_path, 2)
    assert stats.parts >= 1 and stats.rounds == 1
    single, chunked = PdfReader(tmp_path / "single.pdf"), PdfReader(output.path)
    assert [_lines(p) for p in chunked.pages] == [_lines(p) for p in single.pages]


def test_articles_that_break_to_a_side_of_their_own_are_found_by_the_frame(tmp_path):
    """The skeleton stands a run of articles in for the run's parity: an article that opens on a right-hand
    page itself adds blank pages the skeleton does not see. The frame finds them, and the parts are made again
    with its pages."""
    book = _book(SEEDS, title="种子")
    changed = tmp_path / "theme"
    shutil.copytree(book.theme.root, changed)
    css = changed / "print.css"
    css.write_text(css.read_text(encoding="utf-8") + "\n.article { break-before: right; }\n", encoding="utf-8")
    book = dataclasses.replace(book, theme=dataclasses.replace(book.theme, root=changed))
    writer.write_single(book, tmp_path / "single.pdf", [tmp_path])
    output, stats = pdf_chunks.build(book, tmp_path / "chunked.pdf", [tmp_path], tmp_path, 1)
    assert stats.parts >= 1 and stats.rounds == 2
    single, chunked = PdfReader(tmp_path / "single.pdf"), PdfReader(output.path)
    assert [_lines(p) for p in chunked.pages] == [_lines(p) for p in single.pages]


def test_a_part_referring_to_an_unknown_page_is_laid_out_in_the_frame(tmp_path, monkeypatch):
    book = _book(SEEDS, title="种子")
    writer.write_single(book, tmp_path / "single.pdf", [tmp_path])
    first_pages = pdf_chunks.first_pages

    def without_first(pages, units):
        found = first_pages(pages, units)
        found.pop(next(unit.id for unit in units if unit.kind == "article"))
        return found

    monkeypatch.setattr(pdf_chunks, "first_pages", without_first)
    output, stats = pdf_chunks.build(book, tmp_path / "chunked.pdf", [tmp_path], tmp_path, 1)
    assert stats.parts == 0, "the parts went back into the frame"
    single, chunked = PdfReader(tmp_path / "single.pdf"), PdfReader(output.path)
    assert [_lines(p) for p in chunked.pages] == [_lines(p) for p in single.pages]


def test_a_theme_that_sets_the_page_counter_keeps_the_parts_in_the_frame(tmp_path):
    book = _book(SEEDS)
    assert pdf_chunks.parts_apart(book)
    changed = tmp_path / "theme"
    shutil.copytree(book.theme.root, changed)
    css = changed / "print.css"
    css.write_text(css.read_text(encoding="utf-8") + "\n.article:first-of-type { counter-reset: page 1; }\n",
                   encoding="utf-8")
    assert not pdf_chunks.parts_apart(dataclasses.replace(book, theme=dataclasses.replace(book.theme, root=changed)))


def _grown(book, paragraphs: int = 30):
    """The book with its second article longer by `paragraphs` (pages more: every later page number moves)."""
    article = book.anthology.articles[1]
    article.body += "".join(f"<p>编者补记：一处较长的修订，让这篇文章多出几页。{n}</p>" for n in range(paragraphs))
    return book


def test_a_rebuild_lays_the_frame_out_beside_the_parts_on_their_last_pages(tmp_path, monkeypatch):
    """An edit that moves page numbers renders the parts and the frame again: the frame is laid out beside the
    parts, on the pages the parts took in the book's last build (stored), and kept as they hold. The book is the
    one the same rebuild makes without that guess, the frame after the parts."""
    first = tmp_path / "first"
    _, cold = pdf_chunks.build(_book(SEEDS, title="种子"), first / "cold.pdf", [first], first, 2)
    assert cold.parts >= 2 and cold.frame_beside, "a cold build's frame waits only for the parts' layout"
    shutil.copytree(first, tmp_path / "second")
    output, beside = pdf_chunks.build(_grown(_book(SEEDS, title="种子")), tmp_path / "beside.pdf", [first], first, 2)
    assert beside.frame_rendered and beside.frame_beside and beside.rounds == 1
    monkeypatch.setattr(pdf_chunks.ChunkCache, "pages_of_parts", lambda cache, key, ids: None)
    monkeypatch.setattr(pdf_chunks._LateFrame, "job", lambda late: None)  # and no frame until the parts are drawn
    second = tmp_path / "second"
    after, plain = pdf_chunks.build(_grown(_book(SEEDS, title="种子")), tmp_path / "after.pdf", [second], second, 2)
    assert plain.frame_rendered and not plain.frame_beside
    ours, theirs = PdfReader(output.path), PdfReader(after.path)
    assert len(ours.pages) == len(theirs.pages) > len(PdfReader(first / "cold.pdf").pages)
    assert [_lines(p) for p in ours.pages] == [_lines(p) for p in theirs.pages]


def test_a_cold_build_lays_the_frame_out_as_soon_as_the_parts_are_laid_out(tmp_path, monkeypatch):
    """No earlier build knew the parts' pages: each part tells them once laid out, before it is drawn, and the frame
    is laid out then, beside the drawing. The book is the one-pass book, and the one made with the frame after."""
    made = []
    real = pdf_chunks._LateFrame.job

    def job(late):
        found = real(late)
        made.extend([found] if found is not None else [])
        return found

    monkeypatch.setattr(pdf_chunks._LateFrame, "job", job)
    book = _book(SEEDS, title="种子")
    output, stats = pdf_chunks.build(book, tmp_path / "late.pdf", [tmp_path], tmp_path / "late", 2)
    assert stats.frame_beside and stats.rounds == 1 and len(made) == 1 and not made[0].early
    monkeypatch.setattr(pdf_chunks._LateFrame, "job", lambda late: None)
    after, plain = pdf_chunks.build(book, tmp_path / "after.pdf", [tmp_path], tmp_path / "after", 2)
    assert not plain.frame_beside
    single = tmp_path / "single.pdf"
    writer.write_single(_book(SEEDS, title="种子"), single, [tmp_path])
    lines = [_lines(p) for p in PdfReader(output.path).pages]
    assert lines == [_lines(p) for p in PdfReader(after.path).pages] == [_lines(p) for p in PdfReader(single).pages]


def test_pages_of_the_parts_that_do_not_hold_cost_a_frame_after_them(tmp_path):
    """A stored guess that is wrong (or planted) is a frame laid out for nothing: the book is still right."""
    book = _book(SEEDS, title="种子")
    pdf_chunks.build(book, tmp_path / "cold.pdf", [tmp_path], tmp_path, 2)
    cache = pdf_chunks.ChunkCache(tmp_path)
    stored = list((tmp_path / "pdf").rglob("*.parts.json"))
    assert len(stored) == 1, "one book, one record of its parts' pages"
    for path in stored:
        key = path.name.removesuffix(".parts.json")
        pages = json.loads(cache.part_pages.get(key))
        cache.keep_pages_of_parts(key, {part: count + 1 for part, count in pages.items()})
    again, wrong = pdf_chunks.build(_grown(_book(SEEDS, title="种子")), tmp_path / "again.pdf", [tmp_path], tmp_path, 2)
    assert wrong.frame_rendered and not wrong.frame_beside
    single = tmp_path / "single.pdf"
    writer.write_single(_grown(_book(SEEDS, title="种子")), single, [tmp_path])
    assert [_lines(p) for p in PdfReader(again.path).pages] == [_lines(p) for p in PdfReader(single).pages]
