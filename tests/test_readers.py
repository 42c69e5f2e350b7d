"""Readers and decoding, on fixtures written for each shape and encoding."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from compile import processes, readers
from compile.build import pipeline
from compile.model import Article
from compile.readers import frontmatter
from compile.transforms import order
from tests.conftest import SEEDS, make_settings

FIX = Path(__file__).parent / "fixtures" / "ingest"
ZONE = ZoneInfo("Asia/Shanghai")


def read(name: str) -> Article:
    return pipeline.read_one(FIX, FIX / name, ZONE, None)


@pytest.mark.parametrize("name, encoding, language", [
    ("big5_traditional.txt", "big5", "zh-Hant"),
    ("gb18030_markdown.md", "gb18030", "zh-Hans"),
    ("utf16_bom.html", "utf-16", "zh-Hant"),
    ("utf8_bom.txt", "utf-8", "zh-Hans"),
    ("english_jsonld.html", "utf-8", "en"),
])
def test_encodings_and_languages(name, encoding, language):
    article = read(name)
    assert article.encoding == encoding
    assert article.language == language
    assert "\ufffd" not in article.body and "\ufeff" not in article.body + article.title
    if encoding not in ("utf-8",):
        assert any(encoding in w for w in article.warnings), "the encoding is reported"


def test_big5_dateline_and_outlet():
    article = read("big5_traditional.txt")
    assert article.title == "台灣半導體產業再創新高"
    assert article.published.date() == dt.date(2023, 3, 5) and article.outlet == "中央社"
    assert "創下歷史新高" in article.body and "\n" not in article.body


def test_gb18030_markdown_dateline_outlet_and_reflow():
    article = read("gb18030_markdown.md")
    assert article.reader == "markdown" and article.title == "长江流域迎来春耕"
    assert article.outlet == "新华社" and article.published.date() == dt.date(2019, 3, 2)
    assert "农民抢抓农时，田间地头" in article.body  # hard wrap joined, no space between CJK


def test_html_page_with_json_ld_and_og_meta():
    article = read("english_jsonld.html")
    assert article.reader == "html"
    assert article.title == "Seoul and Tokyo agree to restart talks"
    assert article.url == "https://news.example.org/world/2023/03/16/seoul-tokyo-talks"
    assert article.outlet == "Example News" and article.author == "Jane Doe"
    assert article.date_source == "json-ld"
    assert article.published == dt.datetime(2023, 3, 16, 0, 30, tzinfo=dt.UTC)
    for junk in ("Home | World", "Tweet", "Follow us", "Copyright 2023"):
        assert junk not in article.body
    assert "ending a freeze" in article.body


def test_utf16_page_meta_and_author():
    article = read("utf16_bom.html")
    assert article.title == "颱風逼近 東部停班停課" and article.author == "林小華"
    assert article.published.isoformat() == "2022-09-03T18:20:00+08:00"
    assert article.body.count("颱風逼近") == 0, "the h1 repeating the title is dropped"


def test_front_matter_with_timezone_offset():
    article = read("frontmatter_offset.md")
    assert article.reader.startswith("front-matter")
    assert article.published.isoformat() == "2021-07-01T08:30:00+09:00"
    assert article.author == "王小明" and article.url == "https://example.com/posts/tokyo-countdown"
    assert article.outlet == "example.com"


def test_toml_front_matter():
    article = read("toml_frontmatter.md")
    assert article.title == "读书笔记：边城" and article.author == "李四"
    assert article.published.date() == dt.date(2020, 5, 4) and article.precision == "day"


def test_front_matter_without_closing_fence_keeps_everything():
    article = read("unclosed_frontmatter.md")
    assert article.title == "没有结束的前言"
    assert article.published.date() == dt.date(2019, 10, 1)
    assert "正文从这里开始" in article.body
    assert any("no closing fence" in w for w in article.warnings)


def test_no_date_is_flagged():
    article = read("no_date.md")
    assert article.published is None and any("no publication date" in w for w in article.warnings)


def test_two_dates_disagree():
    article = read("two_dates.html")
    assert any("disagree" in w for w in article.warnings)


def test_plain_text_title_and_reflow():
    article = read("plain_hardwrapped.txt")
    assert article.reader == "text" and article.title == "山里的冬天"
    assert "三天三夜，村口" in article.body and "打雪仗，一直" in article.body


@pytest.mark.parametrize("name, reason", [("binary.txt", "binary"), ("empty.txt", "empty")])
def test_unreadable_files_are_reported(name, reason):
    with pytest.raises(readers.UnreadableFile, match=reason):
        read(name)


def test_every_fixture_becomes_an_entry():
    prepared = pipeline.prepare(FIX, make_settings())
    statuses = {i["source"]: i["status"] for i in prepared.inputs}
    assert statuses["binary.txt"] == "failed" and statuses["empty.txt"] == "failed"
    articles = [s for s, status in statuses.items() if status == "article"]
    assert len(articles) == len(prepared.anthology.articles) == 11, "no article silently lost"
    assert [a.id for a in prepared.anthology.articles][-4:] and prepared.anthology.articles[-1].published is None


def test_generic_reader_warns():
    article = readers.read_text(Path("x"), "just some <b>bold</b> text without any structure")
    assert article.reader == "generic" and any("unrecognised" in w for w in article.warnings)


def test_markdown_with_raw_html_blocks_is_markdown():
    """A weekly newsletter's issue: markdown with a player embedded three times in raw HTML (CommonMark
    passes it through); read as an HTML fragment, its headings and links were printed as typed."""
    player = '<p><iframe src="https://player.example/v/{n}" width="600"></iframe></p>'
    sections = "".join(f"## Part {n}\n\nSee [the source](https://example.org/{n}) and **this**.\n\n"
                       f"- one\n- two\n\n{player.format(n=n)}\n\n" for n in range(3))
    article = readers.read_text(Path("issue-96.md"), f"# Weekly, issue 96\n\n{sections}")
    assert (article.reader, article.title) == ("markdown", "Weekly, issue 96")
    assert article.body.count("<h2>") == 3 and '<a href="https://example.org/2">' in article.body
    assert "##" not in article.body and not article.warnings
    fragment = "".join(f"<p>Paragraph {n}.</p>\n" for n in range(12)) + "1. a line that looks like a list\n"
    assert readers.read_text(Path("x.html"), fragment).reader != "markdown"


@pytest.mark.parametrize("line, url", [
    ("> 原文：<https://thenewstack.io/x/>", "https://thenewstack.io/x/"),  # a translated archive (OpenDocCN)
    ("原文链接：https://example.org/a?id=1", "https://example.org/a?id=1"),
    ("**来源**：[某报](https://example.org/b.html)", "https://example.org/b.html"),
    ("Source: https://example.org/c", "https://example.org/c"),
])
def test_a_first_line_naming_the_source_is_the_articles_link(line, url):
    text = f"# 标题\n\n{line}\n\n第一段正文。\n\n第二段正文。\n"
    article = readers.read_file(Path("/archive"), Path("/archive/a.md"), text.encode())
    assert (article.url, article.title) == (url, "标题")
    assert "第一段正文" in article.body and url.split("//")[1] not in article.body


@pytest.mark.parametrize("line", ["原文链接：https://example.org/a?id=1", "Source: https://example.org/c"])
def test_plain_text_takes_the_source_line_after_its_title(line):
    plain = readers.read_file(Path("/archive"), Path("/archive/a.txt"), f"标题\n\n{line}\n\n第一段正文。\n".encode())
    assert (plain.reader, plain.title, plain.url) == ("text", "标题", line.split("：")[-1].split(": ")[-1])
    assert plain.body == "<p>第一段正文。</p>"


@pytest.mark.parametrize("text", [
    "# 标题\n\n原文：https://example.org/a 以及作者的补充说明。\n\n正文。\n",  # more than the link: a paragraph
    "# 标题\n\n第一段正文。\n\n> 原文：<https://example.org/a>\n",  # not the first paragraph
    "# 标题\n\n> 原文：<https://example.org/a>\n",  # nothing else: kept as written
])
def test_a_source_line_that_is_more_or_later_stays_in_the_text(text):
    article = readers.read_file(Path("/archive"), Path("/archive/a.md"), text.encode())
    assert article.url == "" and "example.org/a" in article.body


def test_front_matter_link_wins_over_a_source_line():
    text = "---\ntitle: 标题\nurl: https://example.org/front\n---\n> 原文：<https://example.org/line>\n\n正文。\n"
    article = readers.read_file(Path("/archive"), Path("/archive/a.md"), text.encode())
    assert article.url == "https://example.org/front"


def test_invisible_characters_removed_and_nfc():
    text, _ = readers.decode("标\u200b题\n\ncafe\u0301 text\u0007".encode())
    assert text == "标题\n\ncafé text"


def test_seed_readers():
    shapes = {p.name: readers.read_file(SEEDS, p).reader for p in sorted(SEEDS.glob("*.txt"))}
    assert shapes["000_a1d4f1b7f99dda5e.txt"] == "rss-dump"
    assert shapes["002_fabee16c874f7378.txt"] == "front-matter+rss-dump"
    assert shapes["004_1ce8e493f6fa649e.txt"] == "markdown"


def _article(source: str, body: str, url: str = "") -> Article:
    return Article(id=source, source=source, body=body, url=url)


def test_same_url_kept_once_most_complete():
    long = "<p>" + "朝美领导人会晤取得积极成果。" * 30 + "</p>"
    a = _article("a.txt", long[:200] + "</p>", "https://www.example.com/a/1.html?utm_source=rss")
    b = _article("b.txt", long, "http://example.com/a/1.html/")
    kept, decisions = order.drop_duplicates([a, b])
    assert kept == [b]
    assert decisions == [{"kept": "b.txt", "dropped": "a.txt", "reason": "same URL"}]


def test_near_identical_text_under_another_name():
    text = "".join(f"<p>第{i}段：美国与东盟宣布建立全面战略伙伴关系，双方将在经济、安全和气候领域加强合作。</p>"
                   for i in range(20))
    a = _article("copy.html", text)
    b = _article("original.txt", text + "<p>（完）编辑补充的一段结尾。</p>")
    c = _article("other.txt", text.replace("东盟", "欧盟").replace("美国", "日本").replace("气候", "能源"))
    kept, decisions = order.drop_duplicates([a, b, c])
    assert kept == [b, c]
    assert decisions[0]["kept"] == "original.txt" and decisions[0]["dropped"] == "copy.html"
    assert "near-identical" in decisions[0]["reason"]


def test_duplicates_compared_side_by_side_decide_as_one_process_does():
    """Texts compared in runs, in forked workers (the build's `spread` from 400 texts), give the same decisions
    in the same order: chains of copies across runs included."""
    paragraphs = [f"<p>第{i}段：美国与东盟宣布建立全面战略伙伴关系，双方将在经济、安全和气候领域加强合作。</p>"
                  for i in range(40)]
    articles = []
    for story in range(12):  # each story three times: a copy, the original, a copy with an ending
        text = "".join(paragraphs[story:story + 20]).replace("东盟", f"第{story}方")
        articles += [_article(f"{story}-copy.html", text), _article(f"{story}.txt", text + "<p>（完）</p>"),
                     _article(f"{story}-end.txt", text + "<p>编辑补充的一段结尾，长一些。</p>")]
    here = order.drop_duplicates(list(articles))
    forked = order.drop_duplicates(list(articles), spread=functools.partial(processes.forked_map, workers=2,
                                                                            batch=1, minimum=2))
    assert forked == here and len(here[1]) >= 24


def test_the_sketch_estimate_never_skips_a_near_duplicate():
    """Exact containment is computed only where the sketch says it may reach 90 %: over many texts 90-100 %
    contained in another, the estimate lets every one through, and it stops unrelated texts."""
    import heapq
    import random

    rng = random.Random(7)
    for trial in range(200):
        large = set(rng.sample(range(10**9), 3000))
        kept = rng.uniform(0.9, 1.0)
        small = set(rng.sample(sorted(large), int(2000 * kept))) | set(rng.sample(range(10**9, 2 * 10**9),
                                                                                   2000 - int(2000 * kept)))
        grams = [small, large]
        sketches = [heapq.nsmallest(order.SKETCH, g) for g in grams]
        assert order._may_contain(grams, sketches, 0, 1), trial
    unrelated = [set(rng.sample(range(10**9), 2000)), set(rng.sample(range(10**9), 3000))]
    assert not order._may_contain(unrelated, [heapq.nsmallest(order.SKETCH, g) for g in unrelated], 0, 1)


def test_short_and_urlless_articles_are_never_lost():
    articles = [_article(f"{i}.txt", f"<p>短文{i}</p>") for i in range(5)]
    kept, decisions = order.drop_duplicates(articles)
    assert kept == articles and decisions == []


# A page's own data is read from lxml's tree, where BeautifulSoup's used to be (html_page): the same answers.
TRICKY = """<!doctype html><html lang="zh-CN"><head><title> Headline <!-- c --> | Paper </title>
<link rel="alternate canonical" href="https://example.org/a"><link rel="author" href="/me"></head>
<body><article><h1>A <ruby>漢<rt>hàn</rt></ruby> head<script>var x = 1</script><style>.a{}</style> line
<template>T</template><noscript>N</noscript><![CDATA[cd]]></h1><p class="dek  big" id="s">A standfirst of some length,
with <b>bold</b> words</p><!-- note --><div><span rel=" author ">By Ann Author —</span></div>
<a rel="Author">not this</a><span itemprop="author">nor this</span><p>Text.</p></article></body></html>"""


AFTER_HTML = ("<!doctype html><html><head><title>Budget | Paper</title></head><body><article><template><h1>Not "
              "this</h1><p class='dek'>A template's standfirst, never shown</p><span itemprop='author'>Nobody</span>"
              "</template><h1>Budget <script>x()</script>approved</h1><template class='dek'>Hidden dek</template>"
              "<p>Text of the article, long enough to be its text and not a standfirst at all, surely.</p></article>"
              "</body></html>\n<script type='application/ld+json'>{\"headline\": \"LD headline\", \"author\": "
              "{\"name\": \"Jane Roe\"}}</script><meta name='author' content='Meta Author'>")


@pytest.mark.parametrize("markup", [TRICKY, AFTER_HTML,
                                    "<p>A fragment <em>only</em></p><h1>Late <b>h1</b></h1><p>after</p>",
                                    "<html><body><main><h1> </h1><h1>Second</h1><h2>Sub head of the page</h2>"
                                    "</main></body></html>"])
def test_the_page_reader_reads_lxml_as_beautifulsoup_did(markup):
    import lxml.html
    from bs4 import BeautifulSoup

    from compile.readers import html_page

    soup, root = BeautifulSoup(markup, "lxml"), lxml.html.document_fromstring(markup)
    ours_all = [e for e in html_page._all(root, etree.Element)]
    assert [e.tag for e in ours_all] == [t.name for t in soup.find_all(True)]  # after </html> too
    for theirs, ours in zip(soup.find_all(True), ours_all, strict=True):  # every element, scripts and templates too
        assert html_page._text(ours, " ", strip=True) == theirs.get_text(" ", strip=True), theirs.name
        assert html_page._text(ours) == theirs.get_text(), theirs.name
    h1 = soup.find("h1")
    assert [t.name for t in h1.find_all_next(limit=12)] == \
        [e.tag for e in html_page._following(next(html_page._all(root, "h1")), 12)]
    byline = html_page._byline(root)
    assert [t.get_text() for t in soup.select('[rel="author"], [itemprop="author"]')[:1]] == \
        ([html_page._text(byline)] if byline is not None else [])


def test_a_page_whose_extractor_fails_keeps_its_plain_reading(tmp_path):
    """The plain reading's HTML is made only when used: a page the extractor cannot read still has its body."""
    from compile.readers import html_page

    page = ("<?xml version='1.0' encoding='utf-8'?>\n<html><head><title>T</title></head><body><article>"
            "<h1>T</h1><p>Only <b>this</b> text.</p><time datetime='2020-01-02'>2 Jan</time></article></body></html>")
    article = html_page.read(tmp_path / "x.html", page)
    assert article.meta["extraction"]["engine"] == "fallback-article"
    assert "<p>Only <b>this</b> text.</p>" in article.body and article.meta["time_datetimes"] == ["2020-01-02"]


def test_an_article_read_is_the_article_the_store_gives_back(tmp_path):
    """A heading inside a paragraph: the store's loading sanitises it into another tree (an HTML5 parser ends the
    <p> at the <h3>, and makes an empty <p></p> of the stray </p>). The article read is already that: a rebuild
    sets the same book as the cold build, and renders none of its pages again."""
    from compile.build import store

    source = tmp_path / "src"
    source.mkdir()
    (source / "post.md").write_text(  # as a blog exported from cnblogs.com has it
        "---\ntitle: Tools\ndate: 2009-03-21\n---\n\n<a name=\"Bullseye\">\n\n### BullseyeCoverage\n\n</a> <dl><dt>"
        "**Kind of Tool** </dt><dd>Code Coverage Analyzer </dd><dt>**Organization** </dt><dd> [Bullseye Testing]"
        "(http://www.example.org/vendors/1233.html)\n  \n[http://www.bullseye.com/](http://www.bullseye.com/) "
        "</dd></dl>\n\nEntry updated January 7, 2003.\n", encoding="utf-8")
    article = pipeline.read_one(source, source / "post.md", ZoneInfo("UTC"), None)
    assert "BullseyeCoverage" in article.body
    assert store.from_json(store.to_json(article)).body == article.body


def test_what_follows_the_end_of_html_is_read(tmp_path):
    """JSON-LD or meta tags after `</html>` (libxml2 keeps them in a second <html>): dates, author and headline
    come from them as before; a template's heading or byline is no part of the page."""
    from compile.readers import html_page

    article = html_page.read(tmp_path / "p.html", AFTER_HTML)
    assert article.meta["json_ld"] and article.author == "Meta Author"
    assert article.title == "LD headline" and "Nobody" not in article.author


@pytest.mark.parametrize("raw", [
    "title: 标题\ndate: 2021-05-06T07:08:09+08:00\ntags: [a, b]\nnested: {x: 1, y: [2, 3]}",
    "title: 'quoted: yes'\ndate: 2021-05-06\ndraft: true\nweight: 1.5e3\nempty:",
    "title: a *star* in text\nsummary: >\n  folded\n  lines",  # a `*` goes to the loader that refuses aliases
    "a: &x [1]\nb: *x",  # an alias: refused
    "title: [unclosed",  # an error: worded by the pure-Python loader
    "date: 2021-02-30",  # a date that does not exist: the constructor's ValueError
    "- a list\n- not a mapping",
])
def test_front_matter_reads_the_same_with_libyaml(raw):
    """libyaml parses where it may; what comes out (data or warning) is what the pure-Python loader gives."""
    fast, slow = [], []
    original, frontmatter._FAST_LOADER = frontmatter._FAST_LOADER, None
    try:
        expected = frontmatter.parse("---", raw, slow)
    finally:
        frontmatter._FAST_LOADER = original
    assert frontmatter.parse("---", raw, fast) == expected
    assert fast == slow


@pytest.mark.parametrize("data, said", [
    ("标题\n\n正文\ufffd\ufffd有损。\n".encode(), "2 replacement character(s) (U+FFFD) in the file as saved"),
    ("标题\n\n正文".encode() + b"\xff" + "有损的正文。".encode() * 40, "1 undecodable byte sequence(s) replaced"),
])
def test_replacement_characters_are_told_apart_from_undecodable_bytes(data, said):
    """A Jekyll post that decodes cleanly but carries U+FFFD from the tool that wrote it is not 'undecodable'."""
    article = readers.read_file(Path("/archive"), Path("/archive/a.txt"), data)
    assert [warning for warning in article.warnings if "U+FFFD" in warning] == [
        next(w for w in article.warnings if w.startswith(said))]
