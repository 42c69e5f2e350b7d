"""Chunked PDFs (pdf_chunks + pdf_merge) equal the one-pass PDF, and their cache reuses and invalidates right."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import subprocess
import sys
import threading
import types
from pathlib import Path

import pdfplumber
import pikepdf
import pytest
import uharfbuzz as hb
import weasyprint
from PIL import Image, ImageChops
from pypdf import PdfReader
from weasyprint.text.fonts import FontConfiguration

from compile import processes, theme
from compile.build import pipeline
from compile.transforms import typeset
from compile.writers.context import Book, Resources
from compile.writers.pdf import document, writer
from compile.writers.pdf import render as pdf
from compile.writers.pdf.chunked import build as pdf_chunks
from compile.writers.pdf.chunked import fontshare as pdf_fonts
from compile.writers.pdf.chunked import split as pdf_split
from compile.writers.pdf.chunked import worker as pdf_worker
from compile.writers.pdf.weasy import frame_prune
from tests.checks import outline_titles
from tests.conftest import ROOT, SEEDS, make_settings

sys.path.insert(0, str(ROOT / "bench"))
import corpus  # noqa: E402 - bench/ is not a package

MARGIN_PT = 40  # folios sit in the bottom 56pt, running heads in the top 52pt of the book theme's A5 page


def _book(source: Path, **overrides) -> Book:
    settings = make_settings(offline=True, **overrides)
    prepared = pipeline.prepare(source, settings)
    typeset.typeset(prepared.anthology)  # as `build` does
    return Book(prepared.anthology, theme.load(settings.theme), settings, "t")


def _build_chunked(book: Book, target: Path, cache: Path, workers: int = 2):
    return pdf_chunks.build(book, target, [cache], cache, workers)


@pytest.fixture(scope="module")
def merged(tmp_path_factory):
    """A 40-article corpus built both ways, in a folder: (single.pdf, chunked.pdf, cache/), chunked stats."""
    work = tmp_path_factory.mktemp("merge")
    corpus.generate(work / "src", 40, seed=3)
    book = _book(work / "src", title="合并测试", pdf=dataclasses.replace(make_settings().pdf, chunk_articles=8))
    cache = work / "cache"
    writer.write_single(book, work / "single.pdf", [cache])
    _, stats = _build_chunked(book, work / "chunked.pdf", cache)
    return work, stats


@pytest.fixture(scope="module")
def pair(merged):
    """(one-pass reader, chunked reader, chunked stats)."""
    work, stats = merged
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
    assert stats.parts == 3, "the chronology, the sources and the outlet index are chunks of their own"
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
    assert not any("\u200b" in title for _, title, _ in outline)  # a heading keeps its <wbr> (breaks_as_characters)
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
    writer.write_single(book, tmp_path / "single.pdf", [tmp_path])
    output, stats = _build_chunked(book, tmp_path / "chunked.pdf", tmp_path, workers=1)
    single, chunked = PdfReader(tmp_path / "single.pdf"), PdfReader(tmp_path / "chunked.pdf")
    assert output.pages == len(single.pages) == len(chunked.pages)
    assert outline_titles(chunked) == outline_titles(single)
    assert [_lines(p) for p in chunked.pages] == [_lines(p) for p in single.pages]


def test_frame_keeps_what_hidden_content_carries(tmp_path, monkeypatch):
    """The frame leaves out hidden content that carries nothing (frame_prune), and keeps a string set
    inside an article's meta line: the running heads it feeds are the one-pass heads."""
    changed = tmp_path / "theme"
    book = _book(SEEDS, title="种子")
    shutil.copytree(book.theme.root, changed)
    css = changed / "print.css"
    # The counter is computed again after the box is built, from its text: that text must not be stripped.
    css.write_text(css.read_text(encoding="utf-8") +
                   "\n.article-meta .outlet { string-set: outlet content() ' p' counter(page); }\n"
                   "@page :left { @top-left { content: string(outlet); } }\n", encoding="utf-8")
    book = dataclasses.replace(book, theme=dataclasses.replace(book.theme, root=changed))
    decisions = []
    original = frame_prune._needed
    monkeypatch.setattr(frame_prune, "_needed", lambda *args: decisions.append(original(*args)) or decisions[-1])
    writer.write_single(book, tmp_path / "single.pdf", [tmp_path])
    assert decisions == [], "only the frame marks elements it may leave out"
    _build_chunked(book, tmp_path / "chunked.pdf", tmp_path / "cache", workers=1)
    assert {"", "box", "whole"} <= set(decisions)  # pruned, kept for a descendant, kept whole
    single, chunked = PdfReader(tmp_path / "single.pdf"), PdfReader(tmp_path / "chunked.pdf")
    heads = [_margin_text(p, top=True) for p in chunked.pages]
    assert heads == [_margin_text(p, top=True) for p in single.pages]
    assert any(re.fullmatch(r"(新华社|美国之音|法国国际广播电台) p\d+", head) for head in heads), heads


def test_a_worker_parses_stylesheets_once_and_again_when_they_change(tmp_path):
    css = tmp_path / "print.css"
    css.write_text("p { color: red }", encoding="utf-8")
    style = pdf_chunks.Style((str(css),), "@page { size: A5 }", (str(tmp_path),), tmp_path.as_uri() + "/")
    job = pdf_chunks.Job("", str(tmp_path / "out.pdf"), style, extra_css=pdf_chunks.CHUNK_CSS)
    fetcher = pdf.LockedFetcher([tmp_path])
    first, _ = pdf_worker._parsed_stylesheets(job, fetcher)
    assert pdf_worker._parsed_stylesheets(job, fetcher)[0] is first
    css.write_text("p { color: blue }", encoding="utf-8")
    assert pdf_worker._parsed_stylesheets(job, fetcher)[0] is not first
    css.write_text("@import url(other.css);", encoding="utf-8")  # what an import brings is not in the key
    assert pdf_worker._parsed_stylesheets(job, fetcher)[0] is not pdf_worker._parsed_stylesheets(job, fetcher)[0]


def test_a_worker_releases_memory_after_its_reply_and_the_build_process_at_once(tmp_path, monkeypatch):
    """In a pool's worker the collection after a render runs once the result is sent (off the build's critical
    path); in the build's own process (one worker), before render returns."""
    released = threading.Event()
    monkeypatch.setattr(processes, "release_memory", released.set)
    style = pdf_chunks.Style((), "@page { size: A6 }", (str(tmp_path),), tmp_path.as_uri() + "/")
    job = pdf_chunks.Job("<p>正文</p>", str(tmp_path / "out.pdf"), style)
    pdf_worker.render(job)
    assert released.is_set()
    released.clear()
    monkeypatch.setattr(pdf_worker, "_IN_WORKER", True)
    pdf_worker.render(job)
    assert not released.is_set()  # not yet: the reply goes first
    assert released.wait(5)
    released.clear()
    with pdf_worker._RENDERING:  # a render under way: the collection (cffi's destructors: Pango) waits for it
        processes.release_memory_after_reply(pdf_worker._RENDERING, delay=0)
        assert not released.wait(0.3)
    assert released.wait(5)


def _edited(book: Book, index: int, note: str = "编者补记：一处修订。") -> Book:
    articles = list(book.anthology.articles)
    articles[index] = dataclasses.replace(articles[index], body=articles[index].body + f"<p>{note}</p>")
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


def test_an_edit_renders_the_edited_article_alone(tmp_path):
    """A chunk rendered whole keeps each article's pages as a slice: the first edit in it renders the edited
    article alone and takes the others' pages from the chunk; so do the next edits. Any run of articles is a
    chunk: the PDF is the book's all the same."""
    corpus.generate(tmp_path / "src", 30, seed=5)
    book = _book(tmp_path / "src", pdf=dataclasses.replace(make_settings().pdf, chunk_articles=8))
    cache = tmp_path / "cache"
    _, cold = _build_chunked(book, tmp_path / "a.pdf", cache)
    assert cold.rendered == cold.chunks > 3, "a cold build renders whole chunks"

    once = _edited(book, 7)
    _, first = _build_chunked(once, tmp_path / "b.pdf", cache)
    assert first.chunks > cold.chunks and first.rendered == 1 and not first.frame_rendered
    writer.write_single(once, tmp_path / "single.pdf", [cache])
    single, chunked = PdfReader(tmp_path / "single.pdf"), PdfReader(tmp_path / "b.pdf")
    assert [_lines(p) for p in chunked.pages] == [_lines(p) for p in single.pages]

    _, again = _build_chunked(_edited(once, 7, "再补一句。"), tmp_path / "c.pdf", cache)
    assert again.rendered == 1 and again.chunks == first.chunks
    ids = [a.id for a in book.anthology.articles]
    (run,) = [[u.id for u in c] for c in pdf_chunks.plan([pdf_split.Unit(i, "article") for i in ids], 8)
              if ids[7] in [u.id for u in c]]
    neighbour = ids.index(next(i for i in run if i != ids[7]))  # another article of the edited chunk
    _, other = _build_chunked(_edited(once, neighbour, "另一处。"), tmp_path / "d.pdf", cache)
    assert other.rendered == 1 and other.chunks == first.chunks


def test_a_slice_has_its_articles_pages_and_the_resources_its_html_names():
    units = [pdf_split.Unit(f"a{i}", "article") for i in range(3)]
    chunk = pdf_chunks.Chunk(units, key="k" * 64)

    def page(*anchors: str, blank: bool = False) -> pdf_chunks.Page:
        return pdf_chunks.Page(anchors, blank, (0, 0, 10, 10))

    # a0 over two pages, a blank page before a1 (a right-hand break), a2 over two pages.
    fact = pdf_chunks.Facts((page("a0"), page("a0"), page(blank=True), page("a1"), page("a2"), page()),
                            refused=("file:///etc/passwd", "file:///theme/missing.css"))
    pieces = [pdf_chunks.Chunk([unit], key=f"p{i}") for i, unit in enumerate(units)]
    cut = types.SimpleNamespace(chunk_html=lambda run: '<img src="file:///etc/passwd">' if run[0].id == "a1" else "")
    a0, a1, a2 = pdf_chunks.slices(chunk, fact, pieces, cut)
    assert [(s.first, len(s.pages)) for s in (a0, a1, a2)] == [(0, 2), (3, 1), (4, 2)]
    assert a1.refused == fact.refused and a0.refused == a2.refused == ("file:///theme/missing.css",)
    assert {s.source for s in (a0, a1, a2)} == {chunk.key}


def test_unequal_text_blocks_fall_back_to_one_pass(tmp_path):
    changed = tmp_path / "theme"
    book = _book(SEEDS, pdf=dataclasses.replace(make_settings().pdf, mode="chunked"))
    shutil.copytree(book.theme.root, changed)
    css = changed / "print.css"
    css.write_text(css.read_text(encoding="utf-8") + "\n@page :left { margin-left: 80pt; }\n", encoding="utf-8")
    book = dataclasses.replace(book, theme=dataclasses.replace(book.theme, root=changed))
    with pytest.raises(pdf_split.NotChunkable, match="text block"):
        _build_chunked(book, tmp_path / "x.pdf", tmp_path / "cache", workers=1)
    output = writer.write(book, tmp_path / "y.pdf", Resources(tmp_path, (tmp_path,)))
    assert output.pages and any("one pass" in note for note in output.notes)


def test_chunk_boundaries_are_content_defined():
    units = [pdf_split.Unit(f"a{i}", "article") for i in range(200)]
    before = pdf_chunks.plan(units, 8)
    after = pdf_chunks.plan(units[:50] + [pdf_split.Unit("new", "article")] + units[50:], 8)
    changed = [c for c in after if [u.id for u in c] not in [[u.id for u in d] for d in before]]
    assert len(changed) == 1 and "new" in [u.id for u in changed[0]]
    assert all(len(c) <= 16 for c in before) and 10 < len(before) < 60


# ------------------------------------------------------------------------------------------------ fonts

def _face(base_font) -> str:
    """A font's name without its subset tag (ABCDEF+)."""
    tag, _, rest = str(base_font)[1:].partition("+")
    return rest or tag


def _cid_fonts(path: Path):
    """(face name, CIDFont dictionary) for every Type0 font in the PDF."""
    with pikepdf.open(path) as document:
        for obj in document.objects:
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/Subtype") == "/Type0":
                yield _face(obj.BaseFont), obj.DescendantFonts[0]


def _programs(path: Path) -> dict[str, set]:
    programs: dict[str, set] = {}
    for face, cidfont in _cid_fonts(path):
        descriptor = cidfont.FontDescriptor
        key = next(k for k in ("/FontFile2", "/FontFile3") if k in descriptor)
        programs.setdefault(face, set()).add(descriptor[key].objgen)
    return programs


def _widths(path: Path) -> dict[tuple[str, int], float]:
    """(face, CID) -> width from every /W array; one face's fonts never disagree on a CID's width."""
    found: dict[tuple[str, int], float] = {}
    for face, cidfont in _cid_fonts(path):
        for cid, width in pdf_fonts.widths(cidfont.W).items():
            assert found.setdefault((face, cid), width) == width, (face, cid)
    return found


def test_one_font_program_per_face_and_about_the_one_pass_size(merged):
    work, stats = merged
    single, chunked = work / "single.pdf", work / "chunked.pdf"
    ratio = chunked.stat().st_size / single.stat().st_size
    print(f"one pass {single.stat().st_size / 1e6:.2f} MB, chunked {chunked.stat().st_size / 1e6:.2f} MB, "
          f"ratio {ratio:.2f}, font step {stats.seconds['fonts']:.2f} s")
    programs = _programs(chunked)
    assert {face: len(p) for face, p in programs.items()} == {face: 1 for face in _programs(single)}
    assert len(programs) >= 2 and ratio <= 1.5


def _font_bytes(path: Path) -> dict[str, bytes]:
    return {face: bytes(next(cidfont.FontDescriptor[k] for k in ("/FontFile2", "/FontFile3")
                             if k in cidfont.FontDescriptor).read_bytes())
            for face, cidfont in _cid_fonts(path)}


def test_the_union_subsets_are_kept_and_a_forged_one_is_cut_again(merged, tmp_path, monkeypatch):
    work, _ = merged
    book = _book(work / "src", title="合并测试", pdf=dataclasses.replace(make_settings().pdf, chunk_articles=8))
    kept = sorted((work / "cache" / "font-subsets").rglob("*.font"))
    assert len(kept) == len(_programs(work / "chunked.pdf")) >= 2, "one subset kept per face"
    real = pdf_fonts._subset
    cut = []
    monkeypatch.setattr(pdf_fonts, "_subset", lambda *args: cut.append(1) or real(*args))
    _, stats = _build_chunked(book, tmp_path / "again.pdf", work / "cache")
    assert stats.rendered == 0 and cut == [], "an unchanged book cuts no font"
    assert _font_bytes(tmp_path / "again.pdf") == _font_bytes(work / "chunked.pdf")
    kept[0].write_bytes(kept[0].read_bytes().replace(b"anthology-mac-v1 ", b"anthology-mac-v1 0", 1))
    _build_chunked(book, tmp_path / "forged.pdf", work / "cache")
    assert cut == [1] and _font_bytes(tmp_path / "forged.pdf") == _font_bytes(work / "chunked.pdf")


def test_same_glyph_widths(merged, pair):
    work, _ = merged
    assert _widths(work / "chunked.pdf") == _widths(work / "single.pdf")
    single, chunked = (pdfplumber.open(work / name) for name in ("single.pdf", "chunked.pdf"))
    with single, chunked:
        for index in (0, 4, 20, len(single.pages) - 1):
            # Text as extracted, but one space glyph may map to U+0020 in one chunk and U+202F in another
            # (WeasyPrint's ToUnicode keeps a glyph's first character in each PDF). A width is measured
            # between two positions, so a page shifted for parity may round it differently at 0.01 pt.
            glyphs = [sorted((c["text"].strip() or " ", _face("/" + c["fontname"]), round(c["width"], 1),
                              round(c["size"], 2)) for c in document.pages[index].chars)
                      for document in (single, chunked)]
            assert glyphs[0] == glyphs[1] and glyphs[0], f"page {index + 1}"


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
def test_pages_render_the_same(merged, tmp_path):
    """A glyph lost from the shared font program would show: the pixels of whole pages are compared."""
    work, _ = merged
    for page in (1, 5, 21, 40):
        images = []
        for name in ("single", "chunked"):
            prefix = tmp_path / f"{name}-{page}"
            subprocess.run(["pdftoppm", "-r", "80", "-png", "-singlefile", "-f", str(page), "-l", str(page),
                            str(work / f"{name}.pdf"), str(prefix)], check=True)
            images.append(Image.open(f"{prefix}.png").convert("RGB"))
        assert images[0].size == images[1].size
        assert ImageChops.difference(*images).getbbox() is None, f"page {page}"


def _is_chunk(path: Path) -> bool:
    """A cached chunk, not the probe or the frame (whose pages hold fillers)."""
    facts = pdf_chunks.ChunkCache(path.parents[2]).get(path.stem)  # sealed entries (compile/cachekey.py)
    pages = facts.pages if facts else ()
    return len(pages) > 3 and not any(a.startswith(pdf_split.FILL_PREFIX) for page in pages for a in page.anchors)


def _two_chunks(work: Path) -> pikepdf.Pdf:
    """The pages of two cached chunks of articles (set in the serif body face, unlike the parts) in one document:
    two programs of each face they share."""
    chunks = [path for path in (work / "cache" / "pdf").glob("*/*.pdf") if _is_chunk(path)]
    articles = [path for path in chunks
                if any(g.name == "Noto-Serif-CJK-SC" for g in pdf_fonts._groups(pikepdf.open(path)))]
    sources = sorted(articles, key=lambda p: p.stat().st_size)[-2:]
    document = pikepdf.new()
    for source in sources:
        document.pages.extend(pikepdf.open(source).pages)
    return document


def _cidfont(document: pikepdf.Pdf, member: pdf_fonts.Member) -> pikepdf.Dictionary:
    return next(obj.DescendantFonts[0] for obj in document.objects if isinstance(obj, pikepdf.Dictionary)
                and obj.get("/Subtype") == "/Type0"
                and obj.DescendantFonts[0].FontDescriptor.objgen == member.descriptor.objgen)


def test_chunks_embed_stubs_not_subsets(merged):
    """Every face a chunk uses is a stub naming the face and the glyphs drawn: no per-chunk subsetting."""
    work, _ = merged
    for source in (work / "cache" / "pdf").glob("*/*.pdf"):
        with pikepdf.open(source) as document:
            for group in pdf_fonts._groups(document):
                for member in group.members:
                    assert member.gids <= set(member.stub["gids"]) | {0}, source.name
                    assert len(member.descriptor[group.key].read_bytes()) < 256 + 8 * len(member.stub["gids"])
            assert pdf_fonts._groups(document), source.name


def test_a_face_that_is_not_installed_is_embedded_as_a_subset(tmp_path):
    """A theme's @font-face face cannot be found after the merge: the chunk embeds a real subset of it."""
    installed = sorted(Path("/usr/share/fonts").rglob("NotoSansCJK-Regular.ttc"))
    if not installed:
        pytest.skip("fonts-noto-cjk is not installed")
    shutil.copy(installed[0], tmp_path / "face.ttc")
    config = FontConfiguration()
    face = (tmp_path / "face.ttc").as_uri()
    css = weasyprint.CSS(string=f"@font-face {{ font-family: 'Not Installed'; src: url({face}) }}"
                                "p { font-family: 'Not Installed' } h1 { font-family: 'Noto Serif CJK SC' }",
                         font_config=config)
    with pdf_fonts.deferred():
        data = weasyprint.HTML(string="<h1>标题</h1><p>正文</p>").write_pdf(stylesheets=[css], font_config=config)
    with pikepdf.open(io.BytesIO(data)) as document:
        said = {str(obj.FontFamily): pdf_fonts.stub(obj.FontFile3.read_bytes()) for obj in document.objects
                if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/FontDescriptor"}
    assert said["Not Installed"] is None and said["Noto Serif CJK SC"]["gids"]


def test_a_theme_font_face_is_used_by_both_pdf_paths(tmp_path):
    """A face the theme ships and declares with @font-face in its print CSS is the one the PDF embeds."""
    shipped = sorted(Path("/usr/share/fonts").rglob("NotoSans-Regular.ttf"))  # fonts-noto-core
    if not shipped:
        pytest.skip("fonts-noto-core is not installed")
    book = _book(SEEDS, title="种子")
    changed = tmp_path / "theme"
    shutil.copytree(book.theme.root, changed)
    (changed / "fonts").mkdir(exist_ok=True)
    shutil.copy(shipped[0], changed / "fonts" / "face.ttf")
    css = changed / "print.css"
    css.write_text(css.read_text(encoding="utf-8") +
                   '\n@font-face { font-family: "Theme Face"; src: url(fonts/face.ttf) }\n'
                   '.article-meta { font-family: "Theme Face", "Noto Sans CJK SC", sans-serif; }\n', encoding="utf-8")
    book = dataclasses.replace(book, theme=dataclasses.replace(book.theme, root=changed))
    writer.write_single(book, tmp_path / "single.pdf", [tmp_path])
    _build_chunked(book, tmp_path / "chunked.pdf", tmp_path / "cache", workers=1)
    for path in (tmp_path / "single.pdf", tmp_path / "chunked.pdf"):
        with pikepdf.open(path) as document:
            faces = {str(obj.BaseFont).split("+")[-1] for obj in document.objects
                     if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/Font" and "/BaseFont" in obj}
        assert any(face.startswith("Theme-Face") for face in faces), (path.name, faces)


def test_a_stub_whose_face_is_missing_or_another_renders_in_one_pass(merged, tmp_path, monkeypatch):
    work, _ = merged
    document = _two_chunks(work)
    groups = {g.name: g for g in pdf_fonts._groups(document)}
    for member in groups["Noto-Sans-CJK-SC"].members:
        member.descriptor.FontFamily = pikepdf.String("No Such Family")
    with pytest.raises(pdf_fonts.Deferred, match="no installed"):
        pdf_fonts.share(document)

    document = _two_chunks(work)
    serif = next(g for g in pdf_fonts._groups(document) if g.name == "Noto-Serif-CJK-SC")
    program = serif.members[0].descriptor.FontFile3
    said = pdf_fonts.stub(program.read_bytes())
    said["head"] = "0" * 16  # another version of the face than the one the chunk was laid out with
    program.write(b"OTTO" + pdf_fonts.STUB + json.dumps(said).encode())
    with pytest.raises(pdf_fonts.Deferred, match="is the one the chunks were laid out with"):
        pdf_fonts.share(document)

    monkeypatch.setattr(pdf_fonts.fonts, "family_faces", lambda family: ())
    # Workers are other processes: they still find the faces and embed stubs; the merge does not.
    book = _book(work / "src", title="合并测试",
                 pdf=dataclasses.replace(make_settings().pdf, mode="chunked", workers=2))
    output = writer.write(book, tmp_path / "one-pass.pdf", Resources(work / "cache", (work / "cache",)))
    assert any("one pass" in note and "font" in note for note in output.notes), output.notes
    assert output.pages == len(PdfReader(work / "single.pdf").pages)


def test_a_glyph_drawn_by_a_font_object_no_page_names_is_kept(merged):
    """WeasyPrint may draw a glyph with one of its font objects of a face whose dictionary no page names:
    that /W is lost in the merge, but the stub lists every glyph drawn with the face."""
    work, _ = merged
    document = _two_chunks(work)
    serif = next(g for g in pdf_fonts._groups(document) if g.name == "Noto-Serif-CJK-SC")
    first, second = serif.members[0], serif.members[1]
    gid = max(first.gids - second.gids)  # drawn in the first chunk only
    cidfont = _cidfont(document, first)
    widths = pdf_fonts.widths(cidfont.W)
    del widths[gid]
    cidfont.W = pikepdf.Array([v for cid, width in sorted(widths.items()) for v in (cid, [width])])
    assert pdf_fonts.share(document)["faces"] >= 2
    program = first.descriptor.FontFile3
    assert program.objgen == second.descriptor.FontFile3.objgen  # shared
    extents = hb.Font(hb.Face(program.read_bytes())).get_glyph_extents(gid)
    assert extents and extents.width > 0  # its outline is there


# ------------------------------------------------------------------------------------------------ parsing

def _tags_and_text(html: weasyprint.HTML) -> list:
    """Elements in order with their text; whitespace-only text (which renders as nothing here) as ''."""
    return [(e.tag, (e.text or "").strip(), (e.tail or "").strip(), dict(e.attrib))
            for e in html.etree_element.iter() if isinstance(e.tag, str)]


def test_chunks_and_the_frame_are_parsed_by_lxml_into_the_tree_weasyprint_would_build(tmp_path):
    book = _book(SEEDS, title="种子")
    html = document.html_document(book, weasyprint_breaks=True)  # as the writers make it
    parts = pdf_split.split(html, [a.id for a in book.anthology.articles])
    html = parts.chunk_html(parts.units)
    fetcher = pdf.LockedFetcher([tmp_path])
    assert pdf._element_tree(html) is not None  # lxml's tree, as XML
    fast = pdf.parsed(html, tmp_path.as_uri() + "/", fetcher)
    own = weasyprint.HTML(string=html, base_url=tmp_path.as_uri() + "/", url_fetcher=fetcher)
    assert _tags_and_text(fast) == _tags_and_text(own) and len(_tags_and_text(own)) > 100
    assert fast.base_url == own.base_url


@pytest.mark.parametrize("body", [
    "<table><tr><td>1</td></tr></table>",  # an HTML5 parser adds the tbody
    '<p><svg viewBox="0 0 1 1"><circle r="1"/></svg></p>',  # foreign content
    '<p xml:lang="en">x</p>', '<p xmlns:v="urn:v">x</p>',  # namespaces
    "<pre>\ncode</pre>",  # an HTML5 parser drops the newline
    "<p>a<figure>b</figure>c</p>",  # a figure closes the p in HTML5; lxml nests it
])
def test_html_an_html5_parser_would_read_otherwise_is_left_to_weasyprint(body, tmp_path):
    html = f"<!DOCTYPE html><html><head></head><body>{body}</body></html>"
    parsed = pdf.parsed(html, tmp_path.as_uri() + "/", pdf.LockedFetcher([tmp_path]))
    own = weasyprint.HTML(string=html, base_url=tmp_path.as_uri() + "/")
    assert _tags_and_text(parsed) == _tags_and_text(own)
    assert pdf._element_tree(html) is None  # WeasyPrint's own parser read it
