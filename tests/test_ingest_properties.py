"""Property-based: no reader, date rule or cleaning step raises on arbitrary text or bytes.

`UnreadableFile` for empty or binary input is the expected, reported outcome, not a crash.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compile import readers
from compile.model import Article
from compile.transforms import clean, dates, order, outlets

ZONE = ZoneInfo("Asia/Shanghai")
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces real sources are made of, so that the generated text reaches the interesting branches.
PIECES = st.sampled_from([
    "<!--1621698305000-->\n", "[标题](https://www.rfi.fr/cn/20210522-x)\n", "------\n", "---\n", "+++\n",
    "title: 标题\n", "date: 2021-05-03T22:59:03Z\n", "date = 2020-05-04\n", "<div>22/05/2021 - 17:24</div>",
    "<i>Mon, 03 May 2021 22:54:08 GMT</i>", "<i>2020-08-29T02:32:49</i>", "<time datetime='2020-10-19'>",
    "新华社新加坡6月12日电", "2021年5月22日", "31/02/2021 - 25:61", "2021年13月40日", "May 3, 2021", "# 标题\n",
    "<p>", "</p>", "<img src='//e.com/a.jpg'>", "<small>说明</small>", "<video poster='x'>", "<figure>",
    "<figcaption>", "<h1>", "<ul><li><a href='https://e.com/a'>x</a></li></ul>", "\n\n", "首次会\n\n晤，",
    "<script type='application/ld+json'>{\"datePublished\": \"nonsense\"}</script>", "©️ 2020年", "\u200b",
    "<meta property='article:published_time' content='9999-99-99'>", "<html><head><title>t</title>",
])
SOURCE = st.lists(st.one_of(PIECES, st.text(max_size=40)), max_size=25).map("".join)


def _read(text: str) -> Article | None:
    try:
        decoded, _ = readers.decode(text.encode("utf-8", "surrogatepass"))
    except (readers.UnreadableFile, UnicodeEncodeError):
        return None
    article = readers.read_text(Path("x.txt"), decoded)
    article.id, article.source = "x", "x.txt"
    return article


@FAST
@given(st.binary(max_size=2000))
def test_decode_never_crashes(data):
    try:
        text, encoding = readers.decode(data)
    except readers.UnreadableFile as exc:
        assert str(exc)
        return
    assert isinstance(text, str) and text.strip() and encoding


@FAST
@given(SOURCE)
def test_readers_dates_and_cleaning_never_crash(text):
    article = _read(text)
    if article is None:
        return
    dates.date_article(article, ZONE)
    assert article.published is None or article.published.tzinfo is not None
    assert article.published is not None or article.warnings
    clean.clean_article(article)
    assert "<script" not in article.body
    outlets.resolve(article, text[:400])


@FAST
@given(SOURCE)
def test_every_date_rule_alone_never_crashes(text):
    article = _read(text) or Article(id="x", source="x", body=text)
    article.archived = dates.archived_time(article)
    found = dates.signals(article.body)
    ctx = dates.Context(article, found.text_head, found.stamps, ZONE, found.lines, found.times)
    for rule in dates.RULES:
        finding = rule(ctx)
        assert finding is None or finding.value.tzinfo is not None


@FAST
@given(st.one_of(st.text(max_size=300), SOURCE, st.lists(st.one_of(st.text(max_size=20), st.sampled_from([
    "<img src='a.jpg' onerror='alert(1)'>", "<iframe src='https://e.com/'></iframe>", "<p onclick='x()'>",
    "<a href='javascript:alert(1)'>", "<object data='x.swf'>", "<embed src='x'>", "<style>p{}</style>", "</a>",
])), max_size=12).map("".join)))
def test_clean_arbitrary_text(text):
    import html
    from collections import Counter

    from bs4 import BeautifulSoup

    def cleaned(body: str) -> str:
        return clean.clean_article(Article(id="x", source="x", title=text[:10], body=body)).body

    def letters(s: str) -> list[str]:
        return [c for c in s if c.isalnum()]

    body = cleaned(text)
    tree = BeautifulSoup(body, "lxml")
    for tag in tree.find_all(True):
        assert tag.name not in {"script", "style", "iframe", "object", "embed"}, body
        assert not any(name.lower().startswith("on") for name in tag.attrs), body
        assert not tag.get("href", "").strip().lower().startswith("javascript:"), body
    kept, source = letters(tree.get_text()), letters(html.unescape(text))
    assert not Counter(kept) - Counter(source + letters(text)), "cleaning invents no text (markup's letters count)"
    if "<" in text:
        return  # markup: a second cleaning may still change the first's body (`<a><p>0` nests a <p>; `<pre>\n`)
    # Plain text: every letter and digit stays, in order, unless it is all the title (dropped as its repeat) ...
    assert kept == source or (not kept and source == letters(text[:10])), (kept, source)
    # ... and a second cleaning changes nothing, but for a junk line ('0下载APP'): bare text meets those rules as a <p>
    assert cleaned(body) in (body, ""), body


@FAST
@given(st.lists(st.tuples(st.text(max_size=30), st.text(max_size=300)), max_size=8))
def test_duplicates_never_lose_an_unrelated_article(items):
    articles = [Article(id=str(i), source=f"{i}.txt", url=url, body=body) for i, (url, body) in enumerate(items)]
    kept, decisions = order.drop_duplicates(articles)
    assert len(kept) + len(decisions) == len(articles)
    assert {d["dropped"] for d in decisions}.isdisjoint({a.source for a in kept})
