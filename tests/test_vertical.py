"""The vertical theme: a PDF set top to bottom in columns from right to left, its pages read right to left,
printed by Chromium (compile/writers/pdf/chromium.py); without Chromium no PDF and a non-zero exit; and the
EPUB with the same marks (upright numbers, years and acronyms)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pdfplumber
import pikepdf
import pytest
from PIL import Image

from compile import locales, theme
from compile.transforms import typeset
from compile.writers import registry
from compile.writers.pdf import chromium
from compile.writers.pdf.document import RenderTimeout
from tests.checks import epubcheck_messages, gone_within
from tests.conftest import FIXTURES, SEEDS, run_cli
from tests.pagemetrics import NO_END, NO_START

BODY = 10.5  # pt (themes/vertical/theme.toml)
TOP, BOTTOM = 62, 71.28  # the page's top and bottom margins: a column is 44 characters long (print.css)
KANGXI = re.compile("[\u2e80-\u2fdf]")  # radicals: what a Type 3 font's text says for 一 長 ...

pytestmark = pytest.mark.skipif(chromium.executable() is None and os.environ.get("ANTHOLOGY_SKIP_CHROMIUM") == "1",
                                reason="Chromium missing and ANTHOLOGY_SKIP_CHROMIUM=1")


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> Path:
    if chromium.executable() is None:
        pytest.fail("Chromium is not installed: run ./bootstrap.sh (or set ANTHOLOGY_SKIP_CHROMIUM=1)")
    out = tmp_path_factory.mktemp("vertical-seeds")
    result = run_cli("build", str(SEEDS), "-o", str(out), "--offline", "--theme", "vertical")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def typography(tmp_path_factory) -> Path:
    """The long typography fixtures (Traditional, Simplified, English) and an article with a local picture,
    a code block and a long URL."""
    archive = tmp_path_factory.mktemp("vertical-archive")
    for path in (FIXTURES / "typography").iterdir():
        shutil.copy(path, archive / path.name)
    Image.new("RGB", (800, 500), (200, 220, 240)).save(archive / "pic.png")
    (archive / "photo.md").write_text(
        "---\ntitle: 首爾街頭的一天：GDP增長10%\ndate: 2021-05-22\nurl: https://example.invalid/news/photos\n---\n\n"
        "第一段文字。2021年5月22日，BBC記者在首爾街頭拍攝了這組照片，當天氣溫28度。\n\n![首爾街頭的行人](pic.png)\n\n"
        "第二段文字，程式碼如下：\n\n```\nprint(\"hello\")\n```\n\n"
        "最後一段，網址 https://example.invalid/a/very/long/path/that/wraps/inside/the/column.html 結束。\n",
        encoding="utf-8")
    out = tmp_path_factory.mktemp("vertical-typography")
    result = run_cli("build", str(archive), "-o", str(out), "--offline", "--theme", "vertical")
    assert result.returncode == 0, result.stderr
    return out / f"{archive.name}.pdf"


# ------------------------------------------------------------------------------------------------ reading the PDF

def columns(page) -> tuple[list[dict], list[float]]:
    """The text block's glyphs (not emphasis dots), each with its column: columns are 1.8 em apart, the glyphs
    of one (upright, sideways, the halves of an upright number) within 0.75 em of its centre."""
    chars = [c for c in page.chars if c["text"].strip() and c["text"] not in "﹅﹆"
             and TOP - 2 < c["top"] < page.height - BOTTOM]
    groups: list[list[float]] = []
    for x in sorted((c["x0"] + c["x1"]) / 2 for c in chars):
        if groups and x - groups[-1][-1] < BODY * 0.75:
            groups[-1].append(x)
        else:
            groups.append([x])
    middles = [sum(g) / len(g) for g in groups]
    for c in chars:
        centre = (c["x0"] + c["x1"]) / 2
        c["column"] = min(range(len(middles)), key=lambda i: abs(middles[i] - centre))
    return chars, middles


def margin_text(page, top: bool) -> str:
    chars = [c for c in page.chars if (c["bottom"] < TOP if top else c["top"] > page.height - BOTTOM)]
    return "".join(c["text"] for c in chars).strip()


PART_TITLES = tuple(locales.load("zh-Hant")(f"part_{name}") for name in theme.PARTS)


def back_matter(pdf) -> int:
    """The number of the first page of the book's parts (chronology, sources, outlet index: compile/writers/
    parts.py), which end the book after its last article; past the last page when there are none."""
    for number, page in enumerate(pdf.pages, start=1):
        body = "".join(c["text"] for c in page.chars if TOP < c["top"] < page.height - BOTTOM)
        if body.startswith(PART_TITLES):
            return number
    return len(pdf.pages) + 1


def outline(pdf: pikepdf.Pdf) -> list[tuple[int, str, int]]:
    """(depth, title, page number) of every outline entry."""
    pages = {page.objgen: number for number, page in enumerate(pdf.pages, start=1)}
    found = []
    with pdf.open_outline() as tree:
        def walk(items, depth):
            for item in items:
                found.append((depth, item.title, pages[item.destination[0].objgen]))
                walk(item.children, depth + 1)
        walk(tree.root, 0)
    return found


# ------------------------------------------------------------------------------------------------ the PDF

@pytest.mark.parametrize("which", ["seeds", "typography"])
def test_columns_run_top_to_bottom_and_right_to_left(which, request):
    """In reading order (the order the glyphs are drawn, which copy and search follow) each column runs down
    and the next column is to the left of it; most pages hold many full columns."""
    pdf_path = request.getfixturevalue(which)
    pdf_path = pdf_path / "seeds.pdf" if which == "seeds" else pdf_path
    leftward = steps = full = 0
    with pdfplumber.open(pdf_path) as pdf:
        for number, page in enumerate(pdf.pages, start=1):
            chars, middles = columns(page)
            order = [c["column"] for i, c in enumerate(chars) if i == 0 or chars[i - 1]["column"] != c["column"]]
            moves = list(zip(order, order[1:], strict=False))
            assert all(middles[b] < middles[a] for a, b in moves), f"page {number}: a column to the right of the last"
            leftward += len(moves)
            for a, b in zip(chars, chars[1:], strict=False):
                if a["column"] == b["column"] and a["upright"] and b["upright"]:
                    assert b["top"] >= a["top"] - 1, f"page {number}: {a['text']}{b['text']} runs upwards"
                    steps += 1
            full += sum(1 for i in range(len(middles))
                        if max(c["bottom"] for c in chars if c["column"] == i) > page.height - BOTTOM - 1)
    assert leftward > 150 and steps > 5000 and full > 150, (leftward, steps, full)


def test_columns_are_justified_and_keep_the_prohibitions(typography):
    """clreq 3.1.7: no column starts with a closing mark or ends with an opening one; every column of a
    paragraph but its last reaches the foot of the block (within 0.1 em)."""
    violations, ragged, nonfinal = [], [], 0
    with pdfplumber.open(typography) as pdf:
        for number, page in enumerate(pdf.pages, start=1):
            chars, middles = columns(page)
            texts = ["".join(c["text"] for c in chars if c["column"] == i) for i in range(len(middles))]
            body = [i for i in range(len(middles)) if _body([c for c in chars if c["column"] == i])]
            for i in reversed(body):  # right to left
                column = [c for c in chars if c["column"] == i]
                if texts[i][0] in NO_START or texts[i][-1] in NO_END:
                    violations.append((number, texts[i]))
                following = [c for c in chars if c["column"] == i - 1]
                if i - 1 in body and min(c["top"] for c in following) < TOP + 3:  # the paragraph goes on
                    nonfinal += 1
                    if max(c["bottom"] for c in column) < page.height - BOTTOM - .1 * BODY - 1:
                        ragged.append((number, texts[i][-6:]))
    assert violations == []
    assert nonfinal > 150 and len(ragged) <= nonfinal * .01, ragged[:5]


def _body(column: list[dict]) -> bool:
    """A column of a paragraph: mostly upright glyphs of the body's size and serif face (not a heading, a
    caption, a meta line or the contents)."""
    body = [c for c in column if c["upright"] and abs(c["size"] - BODY) < .3 and "Sans" not in c["fontname"]]
    return bool(column) and len(body) > len(column) / 2


def test_pages_read_right_to_left(seeds):
    """Spreads read right to left, and the book is bound on the right: an odd page (the front of a leaf) has
    its gutter, the wider margin, on its right; an even page on its left."""
    with pikepdf.open(seeds / "seeds.pdf") as pdf:
        assert pdf.Root.ViewerPreferences.Direction == "/R2L"
        assert pdf.Root.PageLayout == "/TwoPageRight"
        assert str(pdf.docinfo["/Title"]) and "Chrom" in str(pdf.docinfo["/Producer"])
        assert "/CreationDate" not in pdf.docinfo  # the same book, the same file
    with pdfplumber.open(seeds / "seeds.pdf") as pdf:
        for number in (5, 6):  # full pages of the first article
            page = pdf.pages[number - 1]
            chars, _ = columns(page)
            right = page.width - max(c["x1"] for c in chars)
            gutter = 52 if number % 2 else 42
            assert abs(right - gutter - (1.8 - 1) * BODY / 2) < 1, (number, right)


def test_running_heads_and_folios(seeds):
    """Odd pages carry the article's title at their outer (left) top corner, even pages the book's title at
    theirs; every page after the front matter has its number at the foot but a blank one; openers have no
    head, and stand on odd pages (`break-before: right`, which Chromium alone does not honour)."""
    report = json.loads((seeds / "seeds.report.json").read_text(encoding="utf-8"))
    book = report["anthology"]["title"]
    with pikepdf.open(seeds / "seeds.pdf") as pdf:
        starts = [(page, title) for depth, title, page in outline(pdf) if depth == 1]
        openers = {page for depth, _, page in outline(pdf) if depth == 0}
    assert openers and all(page % 2 for page in openers)
    heads = 0
    with pdfplumber.open(seeds / "seeds.pdf") as pdf:
        assert margin_text(pdf.pages[0], top=True) == margin_text(pdf.pages[0], top=False) == ""  # title page
        parts = back_matter(pdf)
        assert parts < len(pdf.pages)
        for number, page in enumerate(pdf.pages, start=1):
            if number < starts[0][0] - 1:
                continue
            if number >= parts:  # the parts: their own heads (tests/test_parts.py)
                break
            if not page.chars:  # a blank page before a section that starts on an odd page
                assert page.page_number + 1 in openers
                continue
            assert margin_text(page, top=False) == str(number)
            head = margin_text(page, top=True)
            if number in openers:
                assert head == ""
            elif number % 2 == 0:  # at the right edge of the text block
                assert head == book
                assert abs(max(c["x1"] for c in page.chars if c["bottom"] < TOP) - (page.width - 42)) < 1
                heads += 1
            else:  # at the left edge
                article = [title for start, title in starts if start <= number][-1]
                assert re.sub(r"\s+", "", head) == re.sub(r"\s+", "", article)
                assert abs(min(c["x0"] for c in page.chars if c["bottom"] < TOP) - 42) < 1
                heads += 1
    assert heads > 20


def test_contents_outline_and_links_point_at_the_titles(seeds):
    """The printed contents give each article's page, the outline holds the sections and their articles, and
    the contents' links lead to the titles' pages (Chromium anchors a long vertical box where it ends)."""
    with pikepdf.open(seeds / "seeds.pdf") as pdf:
        entries = outline(pdf)
        pages = {page.objgen: number for number, page in enumerate(pdf.pages, start=1)}
        dests = {str(name)[1:]: pages[pdf.Root.Dests[name][0].objgen] for name in pdf.Root.Dests}
    assert [depth for depth, _, _ in entries] == [0, 1, 0, 1, 1, 0, 1, 0, 1]
    articles = [(title, page) for depth, title, page in entries if depth == 1]
    with pdfplumber.open(seeds / "seeds.pdf") as pdf:
        for title, page in articles:
            text = re.sub(r"\s+", "", "".join(c["text"] for c in pdf.pages[page - 1].chars))  # reading order
            assert re.sub(r"\s+", "", title)[:8] in text, title
        chars, middles = columns(pdf.pages[1])
        foot = [c for c in chars if c["top"] > pdf.pages[1].height - BOTTOM - 2 * BODY]
        numbers = ["".join(c["text"] for c in foot if c["column"] == i) for i in reversed(range(len(middles)))]
    # The articles', then the parts' pages (tests/test_parts.py checks theirs).
    assert [n for n in numbers if n.isdigit()][:len(articles)] == [str(page) for _, page in articles]
    assert sorted(dests.values())[:len(articles)] == [page for _, page in articles]


def test_faces_are_embedded_truetype_with_the_right_text(seeds):
    """No Type 3 font (what Chromium makes of CFF faces), and the text copies as written: 一, not ⼀."""
    with pikepdf.open(seeds / "seeds.pdf") as pdf:
        fonts = {str(font.get("/BaseFont")): str(font.Subtype) for page in pdf.pages
                 for font in (page.Resources.get("/Font") or {}).values()}
    assert fonts and set(fonts.values()) == {"/Type0"}, fonts
    assert all("CJKtc" in name for name in fonts), fonts  # a Traditional edition: TC faces only
    with pdfplumber.open(seeds / "seeds.pdf") as pdf:
        text = "".join(c["text"] for page in pdf.pages for c in page.chars)  # in reading order
    assert not KANGXI.search(text)
    assert "一份聯合聲明" in re.sub(r"\s+", "", text)


def test_upright_numbers_years_and_acronyms(typography):
    """Two digits stand in one cell (side by side), a year and an acronym one upright character a cell (one
    below the other), a word lies sideways."""
    with pdfplumber.open(typography) as pdf:
        chars = [c for page in pdf.pages for c in page.chars]
    text = "".join(c["text"] for c in chars)
    year = text.index("2023年")
    digits = chars[year:year + 4]
    assert all(c["upright"] for c in digits) and len({round(c["x0"]) for c in digits}) == 1
    assert all(b["top"] > a["top"] for a, b in zip(digits, digits[1:], strict=False))
    tcy = chars[text.index("36頁"):text.index("36頁") + 2]
    assert abs(tcy[0]["top"] - tcy[1]["top"]) < 1 and tcy[1]["x0"] > tcy[0]["x0"]  # one cell
    who = chars[text.index("WHO"):text.index("WHO") + 3]
    assert all(c["upright"] for c in who) and who[1]["top"] > who[0]["top"]
    word = chars[text.index("Price"):text.index("Price") + 5]
    assert not any(c["upright"] for c in word)  # rotated


def test_images_come_from_the_build_only(typography):
    with pdfplumber.open(typography) as pdf:
        assert any(page.images for page in pdf.pages)
    report = json.loads(typography.with_suffix(".report.json").read_text(encoding="utf-8"))
    pdf_output = next(o for o in report["outputs"] if o["format"] == "pdf")
    assert not any("refused" in note for note in pdf_output["notes"])
    assert pdf_output["details"]["engine"].startswith(("HeadlessChrome", "Chrome", "Chromium"))


def test_a_resource_outside_the_build_is_refused(tmp_path):
    document = object.__new__(chromium.Document)
    root = tmp_path / "圖 片"  # percent-encoded in its file: URI
    document.roots, document.refused = [root], []
    inside = root / "a.png"
    document.tree = chromium.lxml.html.document_fromstring(
        f'<html><head><link rel="stylesheet" href="https://example.invalid/x.css"></head><body>'
        f'<img src="{inside.as_uri()}"><img src="file:///etc/hosts"><img src="https://example.invalid/b.png">'
        '<meta http-equiv="refresh" content="0;url=https://example.invalid/"></body></html>')
    document._lock()
    sources = [img.get("src") for img in document.tree.iter("img")]
    assert sources == [inside.as_uri(), None, None]
    assert not document.tree.xpath("//link|//meta[@http-equiv]")
    assert "file:///etc/hosts" in document.refused and "https://example.invalid/x.css" in document.refused


# ------------------------------------------------------------------------------------------------ without Chromium

def test_without_chromium_no_pdf_and_a_non_zero_exit(tmp_path):
    out = tmp_path / "out"
    result = run_cli("build", str(SEEDS), "-o", str(out), "--offline", "--theme", "vertical",
                     env={chromium.ENV: str(tmp_path / "no-such-chromium")})
    assert result.returncode == 2, result.stderr
    assert "Chromium" in result.stderr and "no PDF" in result.stderr
    assert not (out / "seeds.pdf").exists() and (out / "seeds.epub").is_file()  # the EPUB is still made
    report = json.loads((out / "seeds.report.json").read_text(encoding="utf-8"))
    assert [o["format"] for o in report["outputs"]] == ["epub"]
    assert any("Chromium" in w and "no PDF" in w for w in report["warnings"])


def test_the_engine_is_asked_for_vertical_themes_only(monkeypatch, tmp_path):
    monkeypatch.setenv(chromium.ENV, str(tmp_path / "missing"))
    assert registry.missing(theme.load("book"), ["epub", "pdf"]) == []
    assert registry.missing(theme.load("vertical"), ["epub"]) == []
    [reason] = registry.missing(theme.load("vertical"), ["epub", "pdf"])
    assert "Chromium" in reason and chromium.ENV in reason


def test_a_print_over_its_time_limit_is_killed(tmp_path, monkeypatch):
    """Past the limit Chromium's whole process group is killed and the PDF fails (RenderTimeout)."""
    html = tmp_path / "page.html"
    html.write_text("<!DOCTYPE html><p>長</p>", encoding="utf-8")
    started = []
    popen = subprocess.Popen

    def recording(*args, **kwargs):
        process = popen(*args, **kwargs)
        started.append(process.pid)
        return process

    monkeypatch.setattr(chromium.subprocess, "Popen", recording)
    with pytest.raises(RenderTimeout):
        chromium._print(chromium.executable(), html, tmp_path / "page.pdf", 0.05)
    assert gone_within(started, 2)
    assert gone_within(_group(started[0]), 2)  # nothing is left of its process group (zygotes, renderers)


def _group(pgid: int) -> list[int]:
    """The processes of a process group, from /proc (state and group follow the command's parenthesis)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            found.append(int(stat.parent.name))
    return found


# ------------------------------------------------------------------------------------------------ the EPUB

def test_vertical_epub_marks_and_epubcheck(seeds):
    with zipfile.ZipFile(seeds / "seeds.epub") as epub:
        css = epub.read("EPUB/styles/book.css").decode()
        chapters = "".join(epub.read(n).decode() for n in epub.namelist() if n.startswith("EPUB/text/"))
    assert "text-orientation: upright" in css and "text-combine-upright: all" in css
    assert 'class="cjk-latin sp-end upright">2018</span>' in chapters
    errors = [m for m in epubcheck_messages(seeds / "seeds.epub") if m["severity"] in ("ERROR", "FATAL")]
    assert errors == []


def test_typeset_marks_for_vertical_text():
    html = typeset.typeset_html("在2021年12月，GDP增長10%，G20與X、Ned Price、3.5%")
    spans = re.findall(r'<span class="([^"]+)">([^<]+)</span>', html)
    classes = {text: names.split() for names, text in spans}
    assert "upright" in classes["2021"] and "tcy" in classes["12"] and "tcy" in classes["10"]
    assert classes["%"] == ["upright"] and "upright" in classes["GDP"] and "upright" in classes["G20"]
    assert "upright" in classes["X"]
    assert "upright" not in classes.get("Ned Price", []) and "upright" not in classes.get("3.5", [])
