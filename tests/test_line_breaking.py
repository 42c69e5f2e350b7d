"""Line breaking and print details (issue #21, parts 5 and 6): the markup behind them, and the figures on the
rendered pages (tests/pagemetrics.py) for book and briefing, Simplified and Traditional, on the seeds and on
corpus-dev."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pdfplumber
import pytest
import weasyprint
from bs4 import BeautifulSoup

from compile import theme
from compile.model import Article
from compile.transforms import clean, typeset
from compile.transforms.typeset import keep_end, typeset_html
from tests.conftest import CORPUS_DEV, SEEDS, run_cli
from tests.pagemetrics import Figures, lone_footers, measure, read_lines

EDITIONS = [("book", "hans"), ("book", "hant"), ("briefing", "hans"), ("briefing", "hant")]
# The text block of each theme's page (points from the top: print.css margins) and the footer's type size.
PAGES = {"book": (52, 595 - 56, 7.5), "briefing": (60, 842 - 56, 7)}
FLUSH_GOAL, PAIRS_GOAL, LONE_GOAL = 0.99, 0.99, 0.01


def _build(source: Path, out: Path, name: str, script: str) -> Path:
    args = ["build", str(source), "-o", str(out), "--offline", "--format", "pdf", "--theme", name]
    result = run_cli(*args, *(["--script", "hant"] if script == "hant" else []))
    assert result.returncode == 0, result.stderr
    return out / f"{source.name}.pdf"


@pytest.fixture(scope="module")
def seed_editions(tmp_path_factory) -> dict[tuple[str, str], Path]:
    return {(name, script): _build(SEEDS, tmp_path_factory.mktemp(f"lb-{name}-{script}"), name, script)
            for name, script in EDITIONS}


def _assert_edition(pdf: Path, name: str, script: str) -> Figures:
    """Kinsoku 0, flush >= 99 %, Simplified pairs <= 1.5 em >= 99 %, lone last characters <= 1 %, no headline
    ending on one or two characters, no footer alone on a page."""
    figures = measure(pdf, theme.load(name).measure_pt)
    assert figures.violations == [], figures.violations[:5]
    assert figures.nonfinal > 100 and figures.flush_ratio >= FLUSH_GOAL, (figures.summary(), figures.ragged[:5])
    if script == "hans":
        assert figures.pairs > 0 and figures.pair_ratio >= PAIRS_GOAL, (figures.summary(), figures.wide_pairs[:5])
    assert figures.endings > 50 and figures.lone_ratio <= LONE_GOAL, figures.lone_endings[:5]
    assert figures.heads > 10 and figures.short_heads == [], figures.short_heads
    assert lone_footers(pdf, *PAGES[name]) == []
    return figures


@pytest.mark.parametrize(("name", "script"), EDITIONS)
def test_seed_editions_meet_the_line_breaking_goals(seed_editions, name, script):
    _assert_edition(seed_editions[name, script], name, script)


@pytest.mark.slow  # four builds of 36 articles, ~20 s each
@pytest.mark.skipif(not CORPUS_DEV.is_dir(), reason="corpus-dev is not on this machine")
@pytest.mark.parametrize(("name", "script"), EDITIONS)
def test_corpus_dev_editions_meet_the_line_breaking_goals(tmp_path, name, script):
    pdf = _build(CORPUS_DEV, tmp_path, name, script)
    _assert_edition(pdf, name, script)
    _assert_toc_hangs(pdf, name)


def _assert_toc_hangs(pdf: Path, name: str) -> None:
    """A TOC entry's second line starts 1 em in from its first (in the book's TOC, corpus-dev has titles longer
    than a line; the briefing's is wide enough for all)."""
    page, size = {"book": (1, 9.5), "briefing": (0, 9.0)}[name]
    toc = [line for line in read_lines(pdf)[page] if abs(line.size - size) < 0.05]
    left = min(line.x0 for line in toc)
    starts = {round((line.x0 - left) / size, 1) for line in toc}
    assert starts == ({0.0, 1.0} if name == "book" else {0.0}), starts


def test_pdf_text_has_no_inserted_characters(seed_editions):
    """Break opportunities are <wbr> elements, spacing is positioning: the text is the articles' text."""
    with pdfplumber.open(seed_editions["book", "hans"]) as pdf:
        text = "".join(page.extract_text() for page in pdf.pages)
        chars = "".join(char["text"] for page in pdf.pages for char in page.chars)
    assert "\u200b" not in text and "\u200b" not in chars
    assert "“" in chars and "”" in chars


# --- Titles: clauses, and never fewer than three characters on the last line ---------------------------------

def _spans(html: str, name: str) -> list[str]:
    return [span.get_text() for span in BeautifulSoup(html, "lxml").find_all(class_=name)]


def test_titles_break_between_clauses():
    html = keep_end("传播圣经构成“非法经营”罪 中共当局垄断圣经出版发行")
    assert _spans(html, "clause") == ["传播圣经构成“非法经营”罪", "中共当局垄断圣经出版发行"]
    assert "</span> <span" in html  # the space stays: the break opportunity, and the text
    html = keep_end("台积电市值进入全球前10大，与苹果、亚马逊同列榜上")  # 、 joins the items of one clause
    assert _spans(html, "clause") == ["台积电市值进入全球前10大，", "与苹果、亚马逊同列榜上"]
    assert "，</span><wbr/><span" in html  # a break after the comma, even before “ (no LB19a in Pango)


def test_title_clauses_keep_their_marks_and_words():
    html = keep_end("美财长提9160亿美元新纾困案 盼打破数月谈判僵局 – 法国国际广播电台 - RFI")
    assert _spans(html, "clause") == ["美财长提9160亿美元新纾困案", "盼打破数月谈判僵局 –", "法国国际广播电台 - RFI"]
    assert _spans(keep_end("拜登会见Joe Biden总统"), "clause") == []  # a space between two words is no clause
    assert _spans(keep_end("他说会好吗？好"), "clause") == []  # a last clause too short to stand alone
    long = "数周以来中国几乎没有出现新冠病毒新感染病例但天津出现的一个新感染病例引发关注"
    html = keep_end(f"{long}，中国认为")  # too long to keep on one line: it breaks inside, its end is kept
    assert _spans(html, "clause") == ["中国认为"] and BeautifulSoup(html, "lxml").get_text() == f"{long}，中国认为"


def test_titles_never_end_on_one_or_two_characters():
    assert keep_end("朝鲜半岛外交新闻选集") == '朝鲜半岛外交新<span class="keep">闻选集</span>'
    assert keep_end("确定半岛无核和平目标。") == '确定半岛无核和<span class="keep">平目标。</span>'
    assert keep_end("中国GDP增速") == '中国<span class="keep">GDP增速</span>'  # a short word counts as one
    assert keep_end("需要19.5天") == '需要<span class="keep">19.5天</span>'  # never cut inside a number
    assert keep_end("A <b> title") == "A &lt;b&gt; title"  # escaped; an English title wraps as English does
    assert keep_end("集") == "集"
    assert "keep" not in keep_end("见https://www.example.com/a-long-path")  # a URL stays free to wrap


# --- Paragraphs and headings: the last characters stay together --------------------------------------------

@pytest.mark.parametrize(("html", "kept"), [
    ("<p>这是一个段落的结尾。</p>", "结尾。"),
    ("<p>他说：“好。”</p>", "说：“好。”"),
    ("<p>字<b>体</b>制。</p>", "体制。"),  # from the element the characters start in
    ("<p><a href='x'>民主体制</a>。</p>", "体制"),  # the mark after the link needs no span: it never starts a line
    ("<p>需要19.5天。</p>", "19.5天。"),
    ("<h2>一个很长的小标题</h2>", "小标题"),  # a heading keeps three
])
def test_paragraph_and_heading_ends_are_kept_together(html, kept):
    result = typeset_html(html)
    assert _spans(result, "keep") == [kept]
    assert BeautifulSoup(result, "lxml").get_text() == BeautifulSoup(html, "lxml").get_text()
    assert typeset_html(result) == result  # idempotent


@pytest.mark.parametrize("html", [
    "<p>字字字<br/>字。</p>",  # a forced break: the last line is the source's
    "<p>见https://example.com/a/long/path。</p>",  # a URL must stay free to wrap
    "<p>字<code>abc</code></p>",
    "<p>短句。</p>",  # one line anyway
])
def test_ends_that_are_left_alone(html):
    assert "keep" not in typeset_html(html)


# --- LB19a: breaks beside quotation marks between Han characters -------------------------------------------

def test_breaks_before_opening_and_after_closing_quotes_between_han():
    assert typeset.break_positions("他说“我们”的") == [2, 6]
    assert typeset.break_positions("，“我们", before="好") == [1]  # after a mark a line may end with
    assert typeset.break_positions("say “hi” now") == []  # Latin text: no
    assert typeset.break_positions("“我们”", before="", after="") == []  # at the edges: the neighbours decide
    html = typeset_html("<p>他说“我们来了”的确是好事情。</p>")
    assert html.count("<wbr/>") == 2 and typeset_html(html) == html
    assert typeset_html("他说“我们”的") == typeset._typeset_tree("他说“我们”的")  # both paths agree


# A break opportunity as typeset.py writes it, and as the PDF's article bodies hold it (document.breaks_as_characters).
BREAKS = ["<wbr>", "\u200b"]


@pytest.mark.parametrize("wbr", BREAKS)
def test_wbr_breaks_the_line_in_weasyprint_without_a_character(wbr):
    text = f"一二三四五六七八他说{wbr}“我们”的十"
    html = f"<p style='width: 100pt; font: 10pt \"Noto Serif CJK SC\"' lang='zh-Hans'>{text}</p>"
    page = weasyprint.HTML(string=html).render().pages[0]
    lines = [box for box in _line_boxes(page._page_box)]
    first = "".join(_texts(lines[0]))
    assert first.endswith("他说\u200b") and "".join(_texts(lines[1])).startswith("“")
    with pdfplumber.open(io.BytesIO(weasyprint.HTML(string=html).write_pdf())) as pdf:
        page = pdf.pages[0]
        assert page.extract_text().replace("\n", "") == "一二三四五六七八他说“我们”的十"  # no character added
        assert "\u200b" not in "".join(char["text"] for char in page.chars)


@pytest.mark.parametrize("wbr", BREAKS)
def test_a_line_ending_at_a_wbr_is_flush(wbr):
    """The zero-width space of <wbr> is no edge of the line for justification: the last character is."""
    from compile.writers.pdf.weasy import justify, patching

    text = f"一二三四五六七八九十一二他说{wbr}“我们”的十一二三四五六七八九十一二三四五六七八九十"
    html = (f"<p style='width: 150pt; font: 10pt \"Noto Serif CJK SC\"; text-align: justify' lang='zh-Hans'>"
            f"{text}</p>")
    with patching.installed(justify.PATCH):
        pdf = weasyprint.HTML(string=html).write_pdf()
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        chars = [c for c in doc.pages[0].chars if c["text"].strip()]
    first_line = [c for c in chars if abs(c["top"] - chars[0]["top"]) < 1]
    assert first_line[-1]["text"] == "说"  # the line broke before “, which it could not do without the <wbr>
    assert abs(first_line[-1]["x1"] - first_line[0]["x0"] - 150) < 0.15  # without: the half of a share short


def test_the_pdfs_bodies_hold_breaks_as_characters_and_nothing_else_changes():
    from compile.writers.pdf.document import breaks_as_characters

    body = typeset_html('<p title="x&lt;wbr/&gt;y">他说“我们”的话</p>')
    assert body.count("<wbr/>") == 2
    printed = breaks_as_characters(body)
    assert printed == body.replace("<wbr/>", "\u200b") and "<wbr" not in printed
    assert BeautifulSoup(printed, "lxml").p["title"] == "x<wbr/>y"  # escaped in attributes: never a match
    heading = typeset_html("<h5>他说“我们”的话</h5>")  # a bookmark's label is its text: the element stays
    assert "<wbr/>" in heading and breaks_as_characters(heading + body) == heading + printed


@pytest.mark.parametrize("html", [
    "他说<br>\u200b<span style='white-space: nowrap'>“我们一二三四五六七八九十一二三”</span>的话",
    "\u200b<span style='display: inline-block; width: 150pt; height: 5pt'></span>一二",
])
def test_a_line_of_nothing_but_a_break_is_laid_out(html):
    """A line whose only text is the zero-width space (an unbreakable run too wide after it) is no edge."""
    from compile.writers.pdf.weasy import justify, patching

    html = f"<p style='width: 100pt; font: 10pt \"Noto Serif CJK SC\"; text-align: justify' lang='zh-Hans'>{html}</p>"
    with patching.installed(justify.PATCH) as active:
        assert active, patching.warning()
        assert weasyprint.HTML(string=html).render().pages


def _line_boxes(box):
    from weasyprint.formatting_structure import boxes

    if isinstance(box, boxes.LineBox):
        yield box
    for child in getattr(box, "children", ()):
        yield from _line_boxes(child)


def _texts(box):
    if hasattr(box, "text"):
        yield box.text
    for child in getattr(box, "children", ()):
        yield from _texts(child)


# --- Cleaning: blank lines and spaces that are the source's, not the text's ---------------------------------

def _cleaned(body: str) -> str:
    return clean.clean_article(Article(id="x", source="x", title="标题", body=body, language="zh-Hans")).body


def test_leading_and_trailing_breaks_are_dropped():
    assert _cleaned("<p><br>第一行<br>第二行<br></p>") == "<p>第一行<br/>第二行</p>"
    assert _cleaned("<p><strong><br/>粗体</strong>文字<br/> </p>") == "<p><strong>粗体</strong>文字</p>"


def test_spaces_beside_full_width_punctuation_are_dropped():
    assert _cleaned("<p>标准协会 （BSI） 和欧盟的认证， 将向</p>") == "<p>标准协会（BSI）和欧盟的认证，将向</p>"
    assert _cleaned("<p>他说 “好的” 然后 <a href='https://a.b/'>（链接）</a> 走了</p>") == \
        '<p>他说“好的”然后<a href="https://a.b/">（链接）</a>走了</p>'
    assert _cleaned("<p>He said “yes” to A and B.</p>") == "<p>He said “yes” to A and B.</p>"
    code = "<pre>a ， b</pre><p>在 <code>x ， y</code> 里</p>"
    assert _cleaned(code) == code


def test_a_caption_does_not_start_with_a_stray_mark():
    body = _cleaned('<figure><img src="https://a.b/c.jpg"><figcaption>。 ©BSIP</figcaption></figure><p>字字</p>')
    assert "<figcaption>©BSIP</figcaption>" in body


# --- Print: links are text, paragraphs after headings are indented ------------------------------------------

@pytest.mark.parametrize("name", ["book", "briefing"])
def test_print_links_are_text_and_paragraphs_after_headings_indented(name):
    chosen = theme.load(name)
    html = ("<html lang='zh-Hans'><body><article class='article'><div class='article-body'>"
            "<h2>小标题</h2><p>正文<a href='https://example.com/'>网页链接</a>结束。</p></div></article>")
    styles = [weasyprint.CSS(filename=str(path)) for path in chosen.print_stylesheets()]
    document = weasyprint.HTML(string=html).render(stylesheets=styles)
    pdf = document.write_pdf()
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        page = doc.pages[0]
        link = [c for c in page.chars if c["text"] in "网页链接"]
        body = [c for c in page.chars if c["text"] == "正"]
        heading = [c for c in page.chars if c["text"] == "小"]
        assert page.lines == [] and not [r for r in page.rects if r["height"] < 2]  # no underline
    assert all(max(c["non_stroking_color"] or (0,)) < 0.2 for c in link)  # black, not blue
    assert re.sub(r"\s", "", "".join(c["text"] for c in link)) == "网页链接"
    size = chosen.font_size
    assert abs(body[0]["x0"] - heading[0]["x0"] - 2 * size) < 0.5  # the 2 em indent after a heading
