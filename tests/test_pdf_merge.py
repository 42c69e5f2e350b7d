"""Chunked PDFs (pdf_chunks + pdf_merge) equal the one-pass PDF, and their cache reuses and invalidates right."""

from __future__ import annotations

import dataclasses
import re
import shutil
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from compile import pipeline, theme
from compile.writers import pdf, pdf_chunks, pdf_split
from compile.writers.context import Book
from tests.checks import outline_titles
from tests.conftest import ROOT, SEEDS, make_settings

sys.path.insert(0, str(ROOT / "bench"))
import corpus  # noqa: E402 - bench/ is not a package

MARGIN_PT = 40  # folios sit in the bottom 56pt, running heads in the top 52pt of the book theme's A5 page


def _book(source: Path, **overrides) -> Book:
    settings = make_settings(offline=True, **overrides)
    prepared = pipeline.prepare(source, settings)
    return Book(prepared.anthology, theme.load(settings.theme), settings, "t")


def _build_chunked(book: Book, target: Path, cache: Path, workers: int = 2):
    return pdf_chunks.build(book, target, [cache], cache, workers)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A 40-article corpus built both ways: (one-pass reader, chunked reader, chunked stats)."""
    work = tmp_path_factory.mktemp("merge")
    corpus.generate(work / "src", 40, seed=3)
    book = _book(work / "src", title="合并测试")
    cache = work / "cache"
    pdf.write_single(book, work / "single.pdf", [cache])
    _, stats = _build_chunked(book, work / "chunked.pdf", cache)
    return PdfReader(work / "single.pdf"), PdfReader(work / "chunked.pdf"), stats


def _margin_text(page, top: bool) -> str:
    height = float(page.mediabox.height)
    parts = []

    def visit(text, cm, tm, font_dict, font_size):
        y = tm[5] * cm[3] + cm[5]
        if (y > height - MARGIN_PT) if top else (y < MARGIN_PT):
            parts.append(text)

    page.extract_text(visitor_text=visit)
    return "".join(parts).strip()


def test_same_page_count_and_more_than_one_chunk(pair):
    single, chunked, stats = pair
    assert stats.chunks > 3 and stats.rendered == stats.chunks
    assert len(chunked.pages) == len(single.pages) > 60


def test_same_folios_and_running_heads(pair):
    single, chunked, _ = pair
    folios = [_margin_text(p, top=False) for p in chunked.pages]
    assert folios == [_margin_text(p, top=False) for p in single.pages]
    assert sum(f.isdigit() for f in folios) > len(folios) // 2  # folios really are there
    heads = [_margin_text(p, top=True) for p in chunked.pages]
    assert heads == [_margin_text(p, top=True) for p in single.pages]
    assert any(heads) and not all(heads)  # first-except: none on an article's opening page


def _lines(page) -> list[str]:
    """A page's text lines, sorted (the frame's folio is drawn before the chunk's text) and without the
    spaces an extractor guesses from glyph positions (a shifted page moves them by a rounding error)."""
    return sorted(re.sub(r"\s+", "", line) for line in page.extract_text().splitlines())


def test_same_text_on_every_page(pair):
    single, chunked, _ = pair
    for index, (a, b) in enumerate(zip(single.pages, chunked.pages, strict=True)):
        # The frame's folio is drawn before the chunk's text: same lines, another order.
        assert _lines(a) == _lines(b), f"page {index + 1}"


def test_same_outline_and_toc_numbers_point_at_the_articles(pair):
    single, chunked, _ = pair
    outline = outline_titles(chunked)
    assert outline == outline_titles(single)
    articles = {title: page for depth, title, page in outline if depth == 1}
    assert len(articles) == 40
    toc_text = "\n".join(chunked.pages[i].extract_text() for i in range(1, 6))
    printed = {}
    for title in articles:
        match = re.search(re.escape(title) + r"[ .]*?(\d+)\s*$", toc_text, flags=re.M)
        assert match, f"{title} not in the TOC"
        printed[title] = int(match[1])
    assert printed == {title: page + 1 for title, page in articles.items()}


def _links(reader: PdfReader) -> list[tuple[int, tuple, object]]:
    found = []
    names = reader.named_destinations
    for index, page in enumerate(reader.pages):
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            if annot.get("/Subtype") != "/Link":
                continue
            rect = tuple(round(float(v), 1) for v in annot["/Rect"])
            dest = annot.get("/Dest")
            target = reader.get_destination_page_number(names[str(dest)]) if dest is not None else \
                annot["/A"].get("/URI")
            found.append((index, rect, target))
    return found


def test_same_links_with_the_same_targets(pair):
    single, chunked, _ = pair
    links = _links(chunked)
    assert sorted(links, key=str) == sorted(_links(single), key=str)
    internal = [link for link in links if isinstance(link[2], int)]
    external = [link for link in links if isinstance(link[2], str)]
    assert len(internal) >= 40 and len(external) >= 20  # TOC entries; the source URL of RSS and Jekyll articles
    outline_pages = {page for depth, _, page in outline_titles(chunked) if depth == 1}
    assert {target for _, _, target in internal} >= outline_pages


def test_seeds_chunked_equal_one_pass(tmp_path):
    book = _book(SEEDS, title="种子")
    pdf.write_single(book, tmp_path / "single.pdf", [tmp_path])
    output, stats = _build_chunked(book, tmp_path / "chunked.pdf", tmp_path, workers=1)
    single, chunked = PdfReader(tmp_path / "single.pdf"), PdfReader(tmp_path / "chunked.pdf")
    assert output.pages == len(single.pages) == len(chunked.pages)
    assert outline_titles(chunked) == outline_titles(single)
    assert [_lines(p) for p in chunked.pages] == [_lines(p) for p in single.pages]


def _edited(book: Book, index: int) -> Book:
    articles = list(book.anthology.articles)
    articles[index] = dataclasses.replace(articles[index], body=articles[index].body + "<p>编者补记：一处修订。</p>")
    anthology = dataclasses.replace(book.anthology, articles=articles)
    anthology.sections = [dataclasses.replace(s, articles=[next(a for a in articles if a.id == old.id)
                                                           for old in s.articles]) for s in anthology.sections]
    return dataclasses.replace(book, anthology=anthology)


def test_cache_reuses_unchanged_chunks_and_invalidates_on_change(tmp_path):
    corpus.generate(tmp_path / "src", 30, seed=5)
    book = _book(tmp_path / "src")
    cache = tmp_path / "cache"
    _, cold = _build_chunked(book, tmp_path / "a.pdf", cache, workers=1)
    assert cold.rendered == cold.chunks > 2 and cold.frame_rendered

    _, warm = _build_chunked(book, tmp_path / "b.pdf", cache, workers=1)
    assert warm.rendered == 0 and not warm.frame_rendered
    assert (tmp_path / "a.pdf").read_bytes() != b"" and len(PdfReader(tmp_path / "b.pdf").pages) == \
        len(PdfReader(tmp_path / "a.pdf").pages)

    output, edit = _build_chunked(_edited(book, 7), tmp_path / "c.pdf", cache, workers=1)
    assert edit.rendered == 1
    assert "编者补记" in "".join(p.extract_text() for p in PdfReader(output.path).pages)

    changed = tmp_path / "theme"
    shutil.copytree(book.theme.root, changed)
    css = changed / "print.css"
    css.write_text(css.read_text(encoding="utf-8") + "\n.article-meta { color: #222; }\n", encoding="utf-8")
    rethemed = dataclasses.replace(book, theme=dataclasses.replace(book.theme, root=changed))
    _, theme_change = _build_chunked(rethemed, tmp_path / "d.pdf", cache, workers=1)
    assert theme_change.rendered == theme_change.chunks and theme_change.frame_rendered


def test_unequal_text_blocks_fall_back_to_one_pass(tmp_path):
    changed = tmp_path / "theme"
    book = _book(SEEDS, pdf=dataclasses.replace(make_settings().pdf, mode="chunked"))
    shutil.copytree(book.theme.root, changed)
    css = changed / "print.css"
    css.write_text(css.read_text(encoding="utf-8") + "\n@page :left { margin-left: 80pt; }\n", encoding="utf-8")
    book = dataclasses.replace(book, theme=dataclasses.replace(book.theme, root=changed))
    with pytest.raises(pdf_split.NotChunkable, match="text block"):
        _build_chunked(book, tmp_path / "x.pdf", tmp_path / "cache", workers=1)
    output = pdf.write(book, tmp_path / "y.pdf", [tmp_path])
    assert output.pages and any("one pass" in note for note in output.notes)


def test_chunk_boundaries_are_content_defined():
    units = [pdf_split.Unit(f"a{i}", "article") for i in range(200)]
    before = pdf_chunks.plan(units, 8)
    after = pdf_chunks.plan(units[:50] + [pdf_split.Unit("new", "article")] + units[50:], 8)
    changed = [c for c in after if [u.id for u in c] not in [[u.id for u in d] for d in before]]
    assert len(changed) == 1 and "new" in [u.id for u in changed[0]]
    assert all(len(c) <= 16 for c in before) and 10 < len(before) < 60
