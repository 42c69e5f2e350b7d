"""Print-ready PDF: page boxes, sizes, outline, TOC numbers, metadata, PDF/A-3a, booklet imposition."""

from __future__ import annotations

import math
import re
import subprocess

import pytest
from pypdf import PdfReader

from tests.checks import outline_titles
from tests.conftest import SEEDS, run_cli

MM = 72 / 25.4


@pytest.fixture(scope="module")
def print_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("print")
    result = run_cli("build", str(SEEDS), "-o", str(out), "--offline", "--format", "pdf", "--print", "--pdfa",
                     "--impose", "booklet")
    assert result.returncode == 0, result.stderr
    return out


def test_trim_and_bleed_boxes(print_build):
    reader = PdfReader(print_build / "seeds.pdf")
    for page in reader.pages:
        trim, bleed = page.trimbox, page.bleedbox
        assert float(trim.width) == pytest.approx(148 * MM, abs=0.5)
        assert float(trim.height) == pytest.approx(210 * MM, abs=0.5)
        assert float(bleed.width) == pytest.approx(float(trim.width) + 6 * MM, abs=0.5)
        assert float(bleed.height) == pytest.approx(float(trim.height) + 6 * MM, abs=0.5)
        assert float(trim.left) - float(bleed.left) == pytest.approx(3 * MM, abs=0.2)


@pytest.mark.parametrize("size,expected_mm", [("A4", (210, 297)), ("B5", (176, 250)), ("JIS-B5", (182, 257)),
                                              ("Letter", (215.9, 279.4)), ("140mm x 203mm", (140, 203))])
def test_page_size_presets(tmp_path, size, expected_mm):
    result = run_cli("build", str(SEEDS), "-o", str(tmp_path), "--offline", "--format", "pdf", "--page-size", size)
    assert result.returncode == 0, result.stderr
    page = PdfReader(tmp_path / "seeds.pdf").pages[0]
    assert (float(page.mediabox.width) / MM, float(page.mediabox.height) / MM) == pytest.approx(expected_mm, abs=0.3)


def test_bad_page_size_is_a_usage_error(tmp_path):
    result = run_cli("build", str(SEEDS), "-o", str(tmp_path), "--page-size", "A17")
    assert result.returncode == 2 and "page size" in result.stderr


def test_outline_sections_then_articles(seeds_build, seeds_report):
    reader = PdfReader(seeds_build / "seeds.pdf")
    entries = outline_titles(reader)
    sections = [(title, page) for depth, title, page in entries if depth == 0]
    articles = [(title, page) for depth, title, page in entries if depth == 1]
    # The book's parts after the articles (compile/writers/parts.py): bookmarks of their own.
    assert [t for t, _ in sections] == ["2018年", "2021年", "2022年", "2023年", "大事记", "资料来源", "媒体索引"]
    assert [t for t, _ in articles] == [a["title"] for a in seeds_report["articles"]]


def test_toc_page_numbers_are_the_real_pages(seeds_build, seeds_report):
    reader = PdfReader(seeds_build / "seeds.pdf")
    toc_text = next(p.extract_text() for p in reader.pages if "目录" in p.extract_text())
    flat = re.sub(r"[ \t]+", "", toc_text)  # keep line ends: a number ends its line
    targets = {title: page for depth, title, page in outline_titles(reader) if depth == 1}
    for article in seeds_report["articles"]:
        title = re.sub(r"\s+", "", article["title"])
        match = re.search(re.escape(title[-8:]) + r"\n?\.*(\d+)$", flat, flags=re.M)
        assert match, f"{title} not in the TOC"
        assert int(match[1]) == targets[article["title"]] + 1, title
        folio = reader.pages[targets[article["title"]] + 1].extract_text()
        assert str(targets[article["title"]] + 2) in folio.split(), "the folio of the next page agrees"


def test_toc_entries_link_to_article_pages(seeds_build):
    reader = PdfReader(seeds_build / "seeds.pdf")
    toc_index = next(i for i, p in enumerate(reader.pages) if "目录" in p.extract_text())
    links = [a.get_object() for a in reader.pages[toc_index].get("/Annots") or []]
    internal = [a for a in links if a.get("/Subtype") == "/Link" and ("/Dest" in a or "/D" in (a.get("/A") or {}))]
    assert len(internal) >= 5


def test_document_metadata(seeds_build):
    reader = PdfReader(seeds_build / "seeds.pdf")
    meta = reader.metadata
    assert meta.title == "半岛风云：朝鲜半岛外交新闻选集"
    assert meta.author == "选集编辑部"
    assert meta.subject
    assert reader.trailer["/Root"]["/Lang"] == "zh-Hans"


def test_pdfa_identification_and_attachments(print_build):
    reader = PdfReader(print_build / "seeds.pdf")
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert re.search(r'pdfaid:part="?3', xmp) and re.search(r'pdfaid:conformance="?A', xmp)  # tagged: 3a
    assert "/OutputIntents" in reader.trailer["/Root"]
    attachments = reader.attachments
    assert "report.json" in attachments
    for source in SEEDS.glob("*.txt"):
        assert attachments[source.name][0] == source.read_bytes(), source.name


def test_booklet_pages_and_order(print_build):
    single = PdfReader(print_build / "seeds.pdf")
    booklet = PdfReader(print_build / "seeds.booklet.pdf")
    padded = math.ceil(len(single.pages) / 4) * 4
    assert len(booklet.pages) == padded // 2
    sheet = booklet.pages[0]
    assert float(sheet.mediabox.width) == pytest.approx(2 * float(single.pages[0].mediabox.width), abs=1)

    def halves(number: int) -> tuple[str, str]:
        """Text of the left and right halves of a booklet page (poppler crops; pages are placed as forms)."""
        width, height = (int(float(v)) for v in (sheet.mediabox.width, sheet.mediabox.height))
        return tuple(
            subprocess.run(["pdftotext", "-f", str(number), "-l", str(number), "-x", str(x), "-y", "0",
                            "-W", str(width // 2), "-H", str(height), str(print_build / "seeds.booklet.pdf"), "-"],
                           capture_output=True, text=True, check=True).stdout
            for x in (0, width // 2))

    left, right = halves(1)
    assert "半岛风云" in right and not left.strip(), "sheet 1 front: blank last page | page 1"
    left, right = halves(2)
    assert "目录" in left, "sheet 1 back: page 2 | page n-1"
