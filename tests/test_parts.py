"""The book's parts (compile/writers/parts.py): the chronology, the sources with their QR codes, the outlet index,
in the PDF and the EPUB. Printed page numbers are checked against the pages the articles really are on (found
by their titles in each page's text), QR codes are decoded from the rendered pages."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import json
import re
import subprocess
import zipfile
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pdfplumber
import pytest
import zxingcpp
from lxml import etree
from PIL import Image as PILImage
from pypdf import PdfReader

from compile import cachekey, config, theme
from compile.build import pipeline
from compile.errors import ConfigError
from compile.model import Anthology, Article, Section, Story
from compile.writers import parts, qr
from compile.writers.context import Book, display_url
from tests.checks import epubcheck_messages
from tests.conftest import FIXTURES, SEEDS, make_settings

ONE_EVENT = FIXTURES / "one-event"
ZONE = ZoneInfo("Asia/Shanghai")
XHTML = {"x": "http://www.w3.org/1999/xhtml"}


# ------------------------------------------------------------------------------------------------ the data

def _article(id_: str, title: str, outlet: str = "新华社", published: dt.datetime | None = None, **fields) -> Article:
    return Article(id=id_, source=f"{id_}.txt", title=title, outlet=outlet, published=published,
                   precision=fields.pop("precision", "minute" if published else ""),
                   date_source=fields.pop("date_source", "json-ld" if published else ""), language="zh-Hans",
                   **fields)


def _book(articles: list[Article], stories: list[Story] = (), theme_name: str = "book", language: str = "zh-Hans",
          **settings) -> Book:
    anthology = Anthology("测试", language, articles=articles, sections=[Section("", "all", articles)],
                          stories=list(stories))
    return Book(anthology, theme.load(theme_name), make_settings(**settings), "t")


def at(day: int, hour: int = 9, month: int = 7, zone=ZONE) -> dt.datetime:
    return dt.datetime(2023, month, day, hour, tzinfo=zone)


def test_chronology_one_line_per_story_days_grouped_undated_apart():
    a = _article("a", "朝鲜发射洲际导弹", "新华社", at(12, 11))
    b = _article("b", "朝鲜向半岛以东海域发射导弹", "中新社", at(12, 14))
    c = _article("c", "美日韩戴维营峰会", "德国之声", at(19, 9, month=8))
    d = _article("d", "同日另一报道", "美国之音", at(12, 20))
    e = _article("e", "评论", "联合早报")
    book = _book([a, b, c, d, e], [Story("a", [a, b])])
    chronology = parts.build(book).chronology
    (year,) = chronology.years
    assert year.label == "2023年"
    assert [(d.label, d.iso) for d in year.days] == [("7月12日", "2023-07-12"), ("8月19日", "2023-08-19")]
    july = year.days[0].rows
    assert [[r.id for r in row.refs] for row in july] == [["a", "b"], ["d"]]  # the story once, at its first report
    assert [ref.outlet for ref in july[0].outlets] == ["新华社", "中新社"]
    assert [row.lead.id for row in chronology.undated] == ["e"]
    assert chronology.lines == 4


def test_chronology_dates_in_the_books_language_and_its_zone():
    # 23:30 in Paris is the next day in Shanghai: the article's own offset decides its day, as its header does.
    late = _article("a", "Late", "RFI", dt.datetime(2021, 5, 22, 23, 30, tzinfo=ZoneInfo("Europe/Paris")))
    naive = _article("b", "Naive", "VOA", dt.datetime(2021, 5, 23, 1, 0))  # no offset: the book's zone
    english = _book([late, naive], language="en")
    (year,) = parts.build(english).chronology.years
    assert year.label == "2021" and [d.label for d in year.days] == ["May 22", "May 23"]


def test_a_volume_holds_part_of_a_story():
    a = _article("a", "甲", "新华社", at(12))
    b = _article("b", "乙", "中新社", at(13))
    elsewhere = _article("z", "另一卷的报道", "美联社", at(11))
    book = _book([a, b], [Story("z", [elsewhere, a]), Story("b", [b])])
    rows = [row for day in parts.build(book).chronology.years[0].days for row in day.rows]
    assert [[r.id for r in row.refs] for row in rows] == [["a"], ["b"]]


def test_sources_say_date_precision_provenance_and_archive_time_in_words():
    a = _article("a", "甲", "法国国际广播电台", dt.datetime(2021, 5, 22, 17, 24, tzinfo=ZoneInfo("Europe/Paris")),
                 url="https://www.rfi.fr/cn/%E5%9B%BD%E9%99%85/x", date_source="dateline:dd/mm/yyyy-paris",
                 archived=dt.datetime(2021, 5, 22, 15, 45, tzinfo=dt.UTC))
    b = _article("b", "乙", "新华社", dt.datetime(2018, 6, 12, tzinfo=ZONE), precision="day", date_source="override")
    c = _article("c", "丙", "")
    entries = {s.ref.id: s for s in parts.build(_book([a, b, c])).sources}
    assert entries["a"].published == "发表于 2021年5月22日 17:24 UTC+2"
    assert entries["a"].basis == "日期依据：正文开头的日期，精确到分钟"
    assert entries["a"].archived == "存档于 2021年5月22日 23:45 UTC+8"  # the archive's clock, in the book's zone
    assert entries["a"].shown_url == "https://www.rfi.fr/cn/国际/x" and entries["a"].qr.uri.startswith("data:image/png")
    assert (entries["b"].published, entries["b"].basis) == ("发表于 2018年6月12日", "日期依据：编者指定，精确到日")
    assert (entries["c"].published, entries["c"].basis, entries["c"].qr) == ("日期不详", "", None)
    assert entries["b"].archived == ""
    epub = {s.ref.id: s for s in parts.build(_book([a]), parts.EPUB).sources}
    assert epub["a"].qr is None and epub["a"].ref.href == "text/a.xhtml"  # live links in the EPUB, no codes


def test_links_numbered_once_per_url_and_marked_for_print():
    body = ('<p>见<a href="https://a.example/x">声明</a>和<a href="https://b.example/%E5%9B%BD">报告</a>，'
            '再见<a href="https://a.example/x">声明</a>；<a href="https://c.example/">c.example</a>'
            '<a href="javascript:alert(1)">坏</a></p>')
    links = parts.body_links(body)
    assert [(link.number, link.url) for link in links] == [(1, "https://a.example/x"),
                                                            (2, "https://b.example/%E5%9B%BD")]
    assert links[1].shown == "https://b.example/国"  # the address spelled out as text is not listed
    marked = parts.mark_links(body, "markers")
    assert re.findall(r'<sup class="link-ref">(\d)</sup>', marked) == ["1", "2", "1"]
    assert marked.count("<a ") == 5  # the links stay links
    notes = parts.mark_links(body, "footnotes")
    assert re.findall(r'<span class="link-note">([^<]+)</span>', notes) == [
        "https://a.example/x", "https://b.example/国", "https://a.example/x"]
    assert parts.mark_links("<p>无链接</p>", "markers") == "<p>无链接</p>"


def test_outlets_in_pinyin_order_articles_in_book_order_without_outlet_last():
    names = ["新华社", "BBC中文网", "德國之聲", "美国之音", "", "新华社"]
    articles = [_article(f"a{i}", f"标题{i}", name, at(10 + i)) for i, name in enumerate(names)]
    entries = parts.build(_book(articles)).outlets
    assert [e.name for e in entries] == ["BBC中文网", "德國之聲", "美国之音", "新华社", "其他"]
    assert [r.id for r in entries[3].refs] == ["a0", "a5"]


def test_the_outlets_order_is_kept_for_the_next_build_and_only_for_the_same_names(tmp_path, monkeypatch):
    names = ["新华社", "BBC中文网", "德國之聲", "美国之音"]
    order = parts.collated(names, tmp_path)
    assert order == ["BBC中文网", "德國之聲", "美国之音", "新华社"]
    monkeypatch.setattr(parts, "collation_key", lambda name: (_ for _ in ()).throw(AssertionError("collated")))
    assert parts.collated(list(reversed(names)), tmp_path) == order  # kept: pypinyin not needed
    with pytest.raises(AssertionError, match="collated"):
        parts.collated([*names, "路透社"], tmp_path)  # another set of names is collated anew


def test_parts_where_the_theme_puts_them_unless_switched_off_or_empty():
    articles = [_article("a", "甲", "新华社", at(1)), _article("b", "乙", "美国之音", at(2))]
    book = parts.build(_book(articles))
    assert ([p.name for p in book.front], [p.name for p in book.back]) == ([], ["chronology", "sources", "outlets"])
    briefing = parts.build(_book(articles, theme_name="briefing"))
    assert ([p.name for p in briefing.front], briefing.links) == (["chronology"], "footnotes")
    off = config.PartSettings(chronology=False, outlets=False)
    assert parts.build(_book(articles, parts=off)).names == ["sources"]
    by_outlet = parts.build(_book(articles, sections="outlet"))
    assert "outlets" not in by_outlet.names and by_outlet.left_out["outlets"]
    alone = parts.build(_book(articles[:1]))
    assert alone.names == ["sources"] and set(alone.left_out) == {"chronology", "outlets"}
    for made in ({}, {"theme_name": "briefing"}, {"parts": off}, {"sections": "outlet"}):  # the report's account
        assert parts.placement(_book(articles, **made)) == parts.build(_book(articles, **made)).summary()
    assert parts.placement(_book(articles[:1])) == alone.summary()


def test_anthology_toml_switches_parts(tmp_path):
    path = tmp_path / "anthology.toml"
    path.write_text("[parts]\nchronology = false\nqr = false\n", encoding="utf-8")
    settings = config.load(path)
    assert (settings.parts.chronology, settings.parts.sources, settings.parts.qr) == (False, True, False)
    path.write_text("[parts]\nchronolgy = false\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="chronology"):
        config.load(path)


@pytest.mark.parametrize("table", ['front = ["index"]', 'front = ["sources"]\nback = ["sources"]',
                                   'links = "inline"', 'where = "back"'])
def test_theme_parts_are_checked(tmp_path, table):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "theme.toml").write_text(f'description = "t"\n[parts]\n{table}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[parts\]"):
        theme.load(str(folder))


def test_qr_holds_the_address_as_an_iri_and_keeps_ascii_escapes():
    url = "https://www.dw.com/zh/%E5%B3%B0%E4%BC%9A/a-1?q=%2F%20x&y=%ff"
    assert qr.content(url) == "https://www.dw.com/zh/峰会/a-1?q=%2F%20x&y=%ff"
    code = qr.code(url)
    side = PILImage.open(io.BytesIO(base64.b64decode(code.uri.split(",", 1)[1]))).size[0]
    assert code.size_mm == pytest.approx(side * qr.MODULE_MM)  # every module 0.4 mm, whatever the URL
    assert "image-rendering: pixelated" in code.style


def test_qr_codes_are_kept_for_the_next_build_and_a_forged_one_is_made_again(tmp_path, monkeypatch):
    urls = ["https://example.com/a", "https://example.com/b"]
    first = qr.codes(urls, cache_root=tmp_path)
    made = []
    monkeypatch.setattr(qr, "code", lambda url: made.append(url) or qr.Code("data:image/png;base64,new", 1.0))
    assert qr.codes([*urls, urls[0]], cache_root=tmp_path) == first and made == []  # all kept
    kept = cachekey.Entries(tmp_path / "qr", "qr-code")
    forged = json.dumps(["data:image/png;base64,forged", 9.0]).encode()
    kept.path(qr._key(urls[1])).write_bytes(cachekey.HEADER + b"0" * 64 + b"\n" + forged)
    again = qr.codes([*urls, "https://example.com/c"], cache_root=tmp_path)
    assert made == urls[1:] + ["https://example.com/c"]  # the forged entry and the new URL, nothing else
    assert again[urls[0]] == first[urls[0]] and again[urls[1]].uri.endswith("new")


# ------------------------------------------------------------------------------------------------ the PDF

def _build(source: Path, out: Path, **overrides) -> pipeline.Result:
    settings = config.load(source / "anthology.toml")
    settings.offline = True
    for key, value in overrides.items():
        setattr(settings, key, value)
    return pipeline.build(source, out, settings)


BUILDS = {  # name: (source, settings)
    "seeds-book": (SEEDS, {}),
    "one-event-book": (ONE_EVENT, {}),
    "one-event-briefing": (ONE_EVENT, {"theme": "briefing"}),
    "one-event-chunked": (ONE_EVENT, {"pdf": dataclasses.replace(config.PdfSettings(), mode="chunked",
                                                                 chunk_articles=1, workers=1)}),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Each of BUILDS built once: (result, PDF path, EPUB path)."""
    done = {}

    def get(name: str):
        if name not in done:
            source, overrides = BUILDS[name]
            out = tmp_path_factory.mktemp(name)
            result = _build(source, out, **overrides)
            paths = {o.format: o.path for o in result.outputs}
            done[name] = (result, paths["pdf"], paths["epub"])
        return done[name]

    return get


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


def _destinations(pdf: Path) -> dict[str, int]:
    """Every named destination (an element id) -> its page index."""
    reader = PdfReader(pdf)
    return {str(name): reader.get_destination_page_number(dest) for name, dest in reader.named_destinations.items()}


def _part_pages(destinations: dict[str, int], count: int) -> dict[str, range]:
    """Each part's pages: from its anchor to the next part's, the first section's or the book's end."""
    starts = sorted((page, name.removeprefix("part.")) for name, page in destinations.items()
                    if re.fullmatch(r"part\.\w+", name))
    sections = [page for name, page in destinations.items() if name.startswith("section-")]
    ranges = {}
    for (page, name), following in zip(starts, [*starts[1:], (count, "")], strict=True):
        ends = [p for p in [following[0], *sections] if p > page]
        ranges[name] = range(page, min(ends, default=count))
    return ranges


def _real_pages(texts: list[str], articles: list[dict], skip: set[int], first: int) -> dict[str, int]:
    """Where each article really opens: the first page of body matter whose text holds its whole title."""
    found = {}
    for article in articles:
        title = _flat(article["title"])
        found[article["id"]] = next(i for i, text in enumerate(texts) if i >= first and i not in skip
                                    and title in _flat(text))
    return found


def _printed_numbers(pdf: pdfplumber.PDF, pages: range, ids: set[str]) -> list[tuple[str, int]]:
    """(article id, the number printed after its leader) for every page reference on `pages`: among the words
    of the links to an article on a page, a number with leader dots before it on its line."""
    refs = []
    for index in pages:
        page = pdf.pages[index]
        words = page.extract_words()
        links: dict[str, list] = {}  # a link is drawn as several rectangles (one per line and inline box)
        for annot in page.annots:
            dest = annot["data"].get("Dest")
            name = dest.decode() if isinstance(dest, bytes) else None
            if name in ids:
                links.setdefault(name, []).append(annot)
        for name, rects in links.items():
            inside = [w for w in words for r in rects
                      if w["x0"] >= r["x0"] - 1 and w["x1"] <= r["x1"] + 1 and w["top"] >= r["top"] - 1
                      and w["bottom"] <= r["bottom"] + 1]
            numbers = [w for w in inside if w["text"].isdigit() and any(
                d["text"].endswith(".") and abs(d["top"] - w["top"]) < 2 and d["x1"] <= w["x0"] for d in inside)]
            if numbers:
                refs.append((name, int(max(numbers, key=lambda w: w["x1"])["text"])))
    return refs


@pytest.mark.parametrize("name", list(BUILDS))
def test_page_numbers_of_chronology_sources_and_index_are_the_real_pages(built, name):
    result, pdf_path, _ = built(name)
    articles = result.report["articles"]
    ids = {a["id"] for a in articles}
    destinations = _destinations(pdf_path)
    with pdfplumber.open(pdf_path) as pdf:
        texts = [page.extract_text() or "" for page in pdf.pages]
        ranges = _part_pages(destinations, len(texts))
        assert set(ranges) == {"chronology", "sources", "outlets"}
        in_parts = {i for r in ranges.values() for i in r}
        first_body = min(p for n, p in destinations.items() if n.startswith("section-"))
        real = _real_pages(texts, articles, in_parts, first_body)
        for article_id, index in real.items():
            assert str(index + 1) in texts[index].split(), f"the folio of {article_id}'s page"
        printed = {part: _printed_numbers(pdf, pages, ids) for part, pages in ranges.items()}
    assert sorted(i for i, _ in printed["sources"]) == sorted(ids)  # every article, once
    assert sorted(i for i, _ in printed["outlets"]) == sorted(ids)
    chronology = _chronology(result)
    leads = [row.lead.id for year in chronology.years for day in year.days for row in day.rows]
    assert sorted(i for i, _ in printed["chronology"]) == sorted(leads + [r.lead.id for r in chronology.undated])
    for part, refs in printed.items():
        for article_id, number in refs:
            assert number == real[article_id] + 1, f"{part}: {article_id} printed {number}"


def _chronology(result: pipeline.Result) -> parts.Chronology:
    anthology = result.prepared.anthology
    book = Book(anthology, theme.load("book"), make_settings(), "t")
    return parts.build(book).chronology


def test_a_story_is_one_chronology_line_with_every_outlet(built):
    result, pdf_path, _ = built("one-event-book")
    stories = result.prepared.anthology.stories
    assert stories, "the fixture's wire copy and rewrite are one story (compile/transforms/stories.py)"
    members = stories[0].articles
    with pdfplumber.open(pdf_path) as pdf:
        ranges = _part_pages(_destinations(pdf_path), len(pdf.pages))
        text = "\n".join(pdf.pages[i].extract_text() for i in ranges["chronology"])
        refs = _printed_numbers(pdf, ranges["chronology"], {a.id for a in result.prepared.anthology.articles})
    assert [i for i, _ in refs].count(members[0].id) == 1
    assert not {a.id for a in members[1:]} & {i for i, _ in refs}  # the others: no line of their own
    line = next(line for line in text.splitlines() if _flat(members[0].title)[:6] in _flat(line))
    assert members[0].outlet in line
    assert all(a.outlet in text for a in members)
    assert "日期不详" in text  # the undated commentary, apart


def _qr_codes(pdf_path: Path, pages: range, work: Path) -> list[str]:
    found = []
    for index in pages:
        stem = work / f"page-{index}"
        subprocess.run(["pdftoppm", "-png", "-r", "200", "-f", str(index + 1), "-l", str(index + 1), "-singlefile",
                        str(pdf_path), str(stem)], check=True)
        found += [code.text for code in zxingcpp.read_barcodes(PILImage.open(f"{stem}.png"))]
    return found


@pytest.mark.parametrize("name", ["seeds-book", "one-event-book", "one-event-briefing"])
def test_every_article_has_its_qr_code_and_url_in_the_sources(built, name, tmp_path):
    result, pdf_path, _ = built(name)
    articles = result.report["articles"]
    with pdfplumber.open(pdf_path) as pdf:
        pages = _part_pages(_destinations(pdf_path), len(pdf.pages))["sources"]
        text = _flat("".join(pdf.pages[i].extract_text() for i in pages))
    codes = _qr_codes(pdf_path, pages, tmp_path)
    with_url = [a for a in articles if a["url"]]
    assert with_url and len(codes) == len(with_url)
    assert sorted(unquote(code) for code in codes) == sorted(unquote(a["url"]) for a in with_url)
    for article in with_url:
        assert _flat(display_url(article["url"])) in text, article["id"]
    for article in articles:
        if not article["url"]:
            assert article["source"] in text  # no URL: the source file says where it came from


def test_links_in_articles_print_as_numbers_listed_in_the_sources(built):
    result, pdf_path, _ = built("seeds-book")
    voa = next(a for a in result.prepared.anthology.articles if "voachinese" in a.url)
    links = parts.body_links(voa.body)
    assert len(links) == 2
    reader = PdfReader(pdf_path)
    destinations = _destinations(pdf_path)
    sources = _part_pages(destinations, len(reader.pages))["sources"]
    text = _flat("".join(reader.pages[i].extract_text() for i in sources))
    for link in links:
        assert _flat(f"{link.number}{link.shown}") in text
    body = _flat("".join(page.extract_text() for page in reader.pages[destinations[voa.id]:sources.start]))
    assert "演说2中" in body  # the second link's text, then its number


def test_briefing_prints_links_as_footnotes(built):
    result, pdf_path, _ = built("one-event-briefing")
    dw = next(a for a in result.prepared.anthology.articles if "dw.com" in a.url)
    (link,) = parts.body_links(dw.body)
    reader = PdfReader(pdf_path)
    destinations = _destinations(pdf_path)
    starts = sorted(destinations[a["id"]] for a in result.report["articles"])
    first = destinations[dw.id]
    last = next((page for page in starts if page > first), len(reader.pages) - 1)
    pages = "".join(reader.pages[i].extract_text() for i in range(first, last + 1))
    assert _flat(f"1.{link.shown}") in _flat(pages)  # at the foot of one of the article's pages


# ------------------------------------------------------------------------------------------------ the EPUB

def test_epub_has_the_parts_as_documents_with_links_nav_and_landmarks(built):
    result, _, epub_path = built("one-event-book")
    ids = [a["id"] for a in result.report["articles"]]
    (entry,) = [o for o in result.report["outputs"] if o["format"] == "epub"]
    assert entry["details"]["parts"] == {"front": [], "back": ["chronology", "sources", "outlets"], "left_out": {}}
    with zipfile.ZipFile(epub_path) as epub:
        names = set(epub.namelist())
        opf = etree.fromstring(epub.read("EPUB/content.opf"))
        spine = [i.get("idref") for i in opf.iterfind(".//{*}itemref")]
        assert spine == ["cover", "titlepage", "nav", *[f"a-{i}" for i in ids], "part-chronology", "part-sources",
                         "part-outlets"]
        nav = etree.fromstring(epub.read("EPUB/nav.xhtml"))
        toc = [a.get("href") for a in nav.iterfind(".//x:nav[@id='toc']//x:a", XHTML)]
        assert toc[-3:] == ["chronology.xhtml", "sources.xhtml", "outlets.xhtml"]
        landmarks = {a.get("{http://www.idpf.org/2007/ops}type"): a.get("href")
                     for a in nav.iterfind(".//x:nav[@id='landmarks']//x:a", XHTML)}
        assert landmarks["bibliography"] == "sources.xhtml" and landmarks["index"] == "outlets.xhtml"
        for part in ("chronology", "sources", "outlets"):
            doc = etree.fromstring(epub.read(f"EPUB/{part}.xhtml"))
            hrefs = [a.get("href") for a in doc.iterfind(".//x:a", XHTML)]
            internal = [h for h in hrefs if not h.startswith("http")]
            assert internal and all(f"EPUB/{h.split('#')[0]}" in names for h in internal), part
            assert not doc.findall(".//x:img", XHTML)  # no QR codes: the links are live
        sources = epub.read("EPUB/sources.xhtml").decode()
        assert all(f"text/{i}.xhtml" in sources for i in ids)
    bad = [m for m in epubcheck_messages(epub_path) if m["severity"] in ("FATAL", "ERROR", "WARNING")]
    assert not bad, bad


def test_switched_off_parts_are_in_neither_output(tmp_path):
    off = config.PartSettings(chronology=False, sources=False, outlets=False)
    result = _build(ONE_EVENT, tmp_path, parts=off)
    paths = {o.format: o.path for o in result.outputs}
    with zipfile.ZipFile(paths["epub"]) as epub:
        assert not {"EPUB/chronology.xhtml", "EPUB/sources.xhtml", "EPUB/outlets.xhtml"} & set(epub.namelist())
    assert not [n for n in _destinations(paths["pdf"]) if n.startswith("part.")]


def test_vertical_pdf_sets_the_parts_page_numbers_chromium_has_no_target_counter(tmp_path):
    """The vertical theme's PDF is printed by Chromium (compile/writers/pdf/chromium.py), which sets each page
    reference's number after it from its first print's outline, as it sets the contents'."""
    from compile.writers.pdf import chromium
    from tests.checks import outline_titles

    if chromium.executable() is None:
        pytest.skip("no Chromium: the vertical theme makes no PDF")
    result = _build(SEEDS, tmp_path, theme="vertical", formats=["pdf"])
    (output,) = result.outputs
    reader = PdfReader(output.path)
    pages = {_flat(title): page for depth, title, page in outline_titles(reader) if depth == 1}
    texts = [_flat(page.extract_text()) for page in reader.pages]
    chronology = next(i for i, text in enumerate(texts) if i > max(pages.values()) and "大事記" in text)
    text = "".join(texts[chronology:chronology + 2])
    for title, page in pages.items():
        assert f"{title[-4:]}{page + 1}" in text, title  # the headline, then the page it opens on


def test_each_volume_has_parts_of_its_own(tmp_path):
    volumes = dataclasses.replace(config.VolumeSettings(), max_articles=2)
    result = _build(ONE_EVENT, tmp_path, volumes=volumes, formats=["epub"])
    epubs = sorted(o.path for o in result.outputs)
    assert len(epubs) == 2
    for path in epubs:
        with zipfile.ZipFile(path) as epub:
            own = {Path(n).stem for n in epub.namelist() if n.startswith("EPUB/text/") and n.endswith(".xhtml")}
            own -= {"cover", "titlepage"}
            sources = etree.fromstring(epub.read("EPUB/sources.xhtml"))
            linked = {Path(a.get("href")).stem for a in sources.iterfind(".//x:a[@class='page-ref']", XHTML)}
        assert linked == own  # every article of this volume, and none of the other's


@pytest.mark.parametrize("name", ["one-event-book", "one-event-chunked"])
def test_both_outputs_report_where_the_parts_went(built, name):
    result, _, _ = built(name)
    details = {output["format"]: output["details"]["parts"] for output in result.report["outputs"]}
    assert details["pdf"] == details["epub"]
    assert details["pdf"]["back"] == ["chronology", "sources", "outlets"]


def test_without_the_sources_links_print_without_numbers(tmp_path):
    """A link's number points into the sources: with them switched off it would point nowhere."""
    result = _build(SEEDS, tmp_path, parts=config.PartSettings(sources=False), formats=["pdf"])
    pdf_path = next(o.path for o in result.outputs if o.format == "pdf")
    body = _flat("".join(page.extract_text() for page in PdfReader(pdf_path).pages))
    assert "演说中" in body and "演说2中" not in body
