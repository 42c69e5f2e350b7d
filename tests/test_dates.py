"""Date rules one by one: value, precision, source; published apart from archived; disagreements."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from compile.model import Article
from compile.transforms import dates

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC


def dated(body: str = "", **fields) -> Article:
    article = Article(id="x", source="x.txt", body=body, **fields)
    return dates.date_article(article, SHANGHAI)


def epoch(value: dt.datetime) -> dict:
    return {"epoch_ms": int(value.timestamp() * 1000), "body_format": "html"}


def test_json_ld_wins_over_meta():
    article = dated(meta={"json_ld": [{"datePublished": "2023-03-16T09:30:00+09:00"}],
                          "html_meta": {"article:published_time": "2023-03-16T01:00:00Z"}})
    assert article.published == dt.datetime(2023, 3, 16, 0, 30, tzinfo=UTC)
    assert article.date_source == "json-ld"


def test_rfi_dateline_is_paris_time():
    article = dated("<div>22/05/2021 - 17:24</div><p>正文</p>")
    assert article.published.isoformat() == "2021-05-22T17:24:00+02:00"
    assert article.date_source == "dateline:dd/mm/yyyy-paris"
    winter = dated("<div>09/12/2020 - 09:02</div><p>正文</p>")
    assert winter.published.utcoffset() == dt.timedelta(hours=1)


def test_rfc2822_and_iso_stamps():
    assert dated("<div><i>Mon, 03 May 2021 22:54:08 GMT</i></div>").published == dt.datetime(
        2021, 5, 3, 22, 54, 8, tzinfo=UTC)
    article = dated("<div><i><br>2020-09-02T03:44:32.692Z</i></div>")
    assert article.published.replace(microsecond=0) == dt.datetime(2020, 9, 2, 3, 44, 32, tzinfo=UTC)


def test_byline_and_stamp_in_one_element():
    article = dated("<div><i>Alexander Freund<br>2020-09-20T07:31:08.391Z</i></div><p>正文</p>")
    assert article.date_source == "body-timestamp:iso8601"


def test_naive_stamp_read_in_the_zone_that_fits_the_capture_time():
    captured = dt.datetime(2020, 8, 29, 2, 55, 17, tzinfo=UTC)
    article = dated("<div><i>2020-08-29T02:32:49</i></div>", meta=epoch(captured))
    assert article.published == dt.datetime(2020, 8, 29, 2, 32, 49, tzinfo=UTC)
    assert "UTC" in article.date_source
    # A local site: read as UTC it would come after the capture, so it is local time.
    captured = dt.datetime(2020, 8, 29, 3, 0, tzinfo=UTC)
    article = dated("<div><i>2020-08-29T10:40:00</i></div>", meta=epoch(captured))
    assert article.published == dt.datetime(2020, 8, 29, 10, 40, tzinfo=SHANGHAI)


def test_front_matter_equal_to_capture_time_is_not_publication():
    captured = dt.datetime(2020, 7, 26, 9, 54, 7, tzinfo=UTC)
    meta = {**epoch(captured), "front_matter": {"date": captured}}
    article = dated("<p>没有日期的文章。</p>", meta=meta)
    assert article.date_source.startswith("archived")
    assert article.archived == captured
    assert any("capture time" in w for w in article.warnings)


def test_front_matter_with_offset():
    value = dt.datetime(2021, 7, 1, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    article = dated("<p>正文</p>", meta={"front_matter": {"date": value}})
    assert article.published == value and article.date_source == "front-matter"


def test_time_element_in_body():
    article = dated('<div><time datetime="2020-10-19">2020年10月19日</time></div><p>正文</p>')
    assert article.published.date() == dt.date(2020, 10, 19) and article.precision == "day"
    assert article.date_source == "time-element"


def test_a_bare_date_takes_the_time_of_a_later_rule_on_the_same_day():
    article = dated('<div><time datetime="2020-10-19">2020年10月19日凌晨3点55分</time></div><p>正文</p>')
    assert article.published == dt.datetime(2020, 10, 19, 3, 55, tzinfo=SHANGHAI)
    assert article.precision == "minute" and article.date_source.startswith("time-element, time from dateline:cjk")


@pytest.mark.parametrize("line, hour, minute", [
    ("2021年5月3日 下午2:30", 14, 30),  # the period counts: read as 02:30 before
    ("2020年11月9日下午 2 点", 14, 0),  # the hour alone: read as the day before
    ("2021年5月3日 晚上11点20分", 23, 20),
    ("2021年5月3日 中午12点", 12, 0),
    ("2021年5月3日 凌晨12点30分", 0, 30),
    ("2021年5月3日 上午9时5分", 9, 5),
    ("2020年10月19日凌晨3点55", 3, 55),
])
def test_a_dateline_time_with_its_period_of_day(line, hour, minute):
    article = dated(f"<p>{line}</p><p>正文从这里开始。</p>")
    assert article.published == dt.datetime(*map(int, re.findall(r"\d+", line)[:3]), hour, minute, tzinfo=SHANGHAI)
    assert article.precision == "minute"


def test_cjk_wire_dateline_with_year():
    article = dated("<p>新华社北京2018年6月12日电 外交部今天发表声明。</p>")
    assert article.published == dt.datetime(2018, 6, 12, tzinfo=SHANGHAI)
    assert article.date_source == "dateline:cjk"


def test_traditional_wire_dateline():
    assert dated("<p>（中央社台北2023年3月5日電）台積電今天公布營收。</p>").published.date() == dt.date(2023, 3, 5)


def test_standalone_date_line():
    assert dated("<p>2021年5月3日 10:30</p><p>正文从这里开始。</p>").published == dt.datetime(
        2021, 5, 3, 10, 30, tzinfo=SHANGHAI)


def test_date_inside_a_sentence_is_an_event_not_a_dateline():
    article = dated("<p>美国卫生部长阿扎尔2020年8月9日率团访问台湾，会晤了总统。</p>")
    assert article.published is None
    caption = dated("<p>印度购买的法制阵风战机2020年7月29日首批交货</p>")
    assert caption.published is None


def test_english_dateline():
    article = dated("<p>May 3, 2021</p><p>WASHINGTON - The talks resumed.</p>")
    assert article.published.date() == dt.date(2021, 5, 3) and article.date_source == "dateline:english"
    assert dated("<p>The treaty was signed on 3 May 2021 in Geneva by both sides.</p>").published is None


def test_url_date():
    article = dated("<p>正文</p>", url="https://example.com/news/2021/05/22/story.html")
    assert article.published.date() == dt.date(2021, 5, 22) and article.date_source == "url"


def test_yearless_dateline_bounded_by_archive_is_inferred_and_marked():
    captured = dt.datetime(2018, 6, 13, 1, 0, tzinfo=UTC)
    article = dated("<p><strong>新华社新加坡6月12日电</strong></p><p>正文</p>", meta=epoch(captured))
    assert article.published.date() == dt.date(2018, 6, 12)
    assert "inferred" in article.date_source
    assert any("inferred" in w for w in article.warnings)


def test_yearless_dateline_without_bound_is_flagged():
    article = dated("<p><strong>新华社新加坡6月12日电</strong></p><p>正文</p>")
    assert article.published is None and article.date_source == ""
    assert any("no year" in w and "overrides" in w for w in article.warnings)


def test_two_dates_that_disagree_warn():
    article = dated("<p>新华社北京2022年1月10日电 正文。</p>",
                    meta={"html_meta": {"article:published_time": "2022-03-01T10:00:00+08:00"}})
    assert article.date_source.startswith("html-meta")
    assert any("disagree" in w and "2022-01-10" in w for w in article.warnings)


def test_publication_after_capture_warns():
    captured = dt.datetime(2020, 1, 1, tzinfo=UTC)
    article = dated("<div><i>Mon, 03 May 2021 22:54:08 GMT</i></div>", meta=epoch(captured))
    assert any("after the capture time" in w for w in article.warnings)


def test_override_wins_and_bad_override_warns():
    article = dates.date_article(Article(id="x", source="x", body="<div>22/05/2021 - 17:24</div>"), SHANGHAI,
                                 dt.date(2018, 6, 12))
    assert article.date_source == "override" and article.published.date() == dt.date(2018, 6, 12)
    article = dates.date_article(Article(id="x", source="x", body="<p>x</p>"), SHANGHAI, "soon")
    assert any("override" in w for w in article.warnings)


def test_nothing_found_is_flagged():
    article = dated("<p>一篇没有日期的文章。</p>")
    assert article.published is None
    assert any("no publication date" in w for w in article.warnings)


# --- placeholders, zones, real-archive shapes (issue 19) --------------------------------------------------------

NEW_YORK = ZoneInfo("America/New_York")


def page(meta: dict | None = None, json_ld: list | None = None, times: list | None = None, **fields) -> dict:
    return {"meta": {"html_meta": meta or {}, "json_ld": json_ld or [], "time_datetimes": times or [],
                     "body_format": "html"}, **fields}


def test_placeholder_year_one_is_refused_and_the_next_rule_tried():
    article = dated("<p>正文</p>", url="https://example.com/2021/05/22/story.html",
                    **page({"article:published_time": "0001-01-01T00:00:00Z"}))
    assert article.published.date() == dt.date(2021, 5, 22) and article.date_source == "url"
    assert any("0001-01-01" in w and "refused" in w and "before 1900" in w for w in article.warnings)


def test_unix_epoch_and_dates_after_the_capture_are_refused():
    epoch_zero = dated("<p>正文</p>", **page(json_ld=[{"datePublished": "1970-01-01T00:00:00Z"}]))
    assert epoch_zero.published is None and any("Unix epoch" in w for w in epoch_zero.warnings)
    captured = dt.datetime(2020, 1, 1, tzinfo=UTC)
    late = dated("<p>正文</p>", meta={**epoch(captured), "html_meta": {"date": "2020-01-04"}})
    assert late.date_source.startswith("archived")
    assert any("refused" in w and "after the capture time 2020-01-01" in w for w in late.warnings)
    within = dated("<p>正文</p>", meta={**epoch(captured), "html_meta": {"date": "2020-01-02T10:00:00Z"}})
    assert within.date_source == "html-meta:date"


def test_placeholder_capture_time_is_no_capture_time():
    article = dated("<p>正文</p>", meta={"epoch_ms": 0})
    assert article.archived is None and any("capture time 0" in w for w in article.warnings)


def test_new_york_zone_and_extreme_years_never_raise():
    from compile.build import report
    from compile.transforms import order

    articles = []
    for raw in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00", "0001-01-01", "2019-02-21T08:00:08.000Z"):
        article = Article(id=raw, source=f"{raw}.html", body="<p>x</p>", **page({"article:published_time": raw}))
        articles.append(dates.date_article(article, NEW_YORK))
    assert [a.published.year for a in articles if a.published] == [2019]
    assert [s.key for s in order.sections(order.chronological(articles), "year", NEW_YORK)] == ["y2019", "undated"]
    assert report.article_entry(articles[-1])["published"] == "2019-02-21T08:00:08+00:00"


def test_undated_issues_of_a_series_keep_their_numbers_order():
    """A newsletter's issues with no date anywhere: last, in their numbers' order (9, 10, 100), not the
    characters' (10, 100, 9); ties by id the same way; a thousand-digit title neither raises nor comes first."""
    from compile.transforms import order

    titles = ["科技周刊（第 100 期）", "科技周刊（第 9 期）", "科技周刊（第 10 期）", "科技周刊（第 009 期）", ""]
    articles = [Article(id=f"issue-{n}", source=f"issue-{n}.md", title=t, body="<p>x</p>")
                for n, t in zip((100, 9, 10, 8, 11), titles, strict=True)]
    articles.append(Article(id="issue-2", source="issue-2.md", title="", body="<p>x</p>"))
    articles.append(Article(id="long", source="long.md", title="科技周刊（第 " + "9" * 5000, body="<p>x</p>"))
    dated_one = dates.date_article(Article(id="d", source="d.html", body="<p>x</p>",
                                           **page({"article:published_time": "2019-02-21T08:00:08Z"})), NEW_YORK)
    ordered = order.chronological([*articles, dated_one])
    assert [a.id for a in ordered] == ["d", "issue-2", "issue-11", "issue-8", "issue-9", "issue-10", "issue-100",
                                       "long"]


def test_nyt_published_meta_beats_the_url_day():
    article = dated("<p>正文</p>", url="https://www.nytimes.com/2018/09/25/business/economy/debt.html",
                    **page({"datepublished": "2018-09-25T21:28:31.000Z", "pdate": "20180925"}))
    assert article.published == dt.datetime(2018, 9, 25, 21, 28, 31, tzinfo=UTC)
    assert article.date_source == "html-meta:datepublished"
    only_url = dated("<p>正文</p>", url="https://www.nytimes.com/2018/09/25/business/economy/debt.html")
    assert only_url.date_source == "url" and only_url.published.tzinfo == NEW_YORK  # the outlet's day, not +08:00


def test_zone_less_page_time_is_read_in_the_pages_offset_then_the_outlets_zone_then_utc():
    modified = page({"article:published_time": "2019-11-20T14:05:00",
                     "article:modified_time": "2019-11-20T15:00:00-05:00"})
    assert dated("<p>x</p>", **modified).published.isoformat() == "2019-11-20T14:05:00-05:00"
    french = dated("<p>x</p>", url="https://www.liberation.fr/a",
                   **page({"article:published_time": "2015-04-30T07:19:58"}))
    assert french.published.isoformat() == "2015-04-30T07:19:58+02:00" and "Europe/Paris" in french.date_source
    unknown = dated("<p>x</p>", url="https://example.com/a", **page({"article:published_time": "2019-11-20T14:05:00"}))
    assert unknown.published.isoformat() == "2019-11-20T14:05:00+00:00"  # never +08:00 from the display zone
    assert unknown.date_source == "html-meta:article:published_time (no zone; read as UTC)"


def test_javascript_date_string_keeps_its_offset_sign():
    article = dated("<p>x</p>", **page(times=["Wed Nov 20 2019 14:05:00 GMT-0500 (Eastern Standard Time)"]))
    assert article.published.isoformat() == "2019-11-20T14:05:00-05:00"


def test_cna_compact_url_date_and_no_other_digit_run():
    cna = dated("<p>正文</p>", url="https://www.cna.com.tw/news/firstnews/202106140003.aspx")
    assert cna.published.date() == dt.date(2021, 6, 14) and cna.date_source == "url"
    assert cna.published.tzinfo == ZoneInfo("Asia/Taipei")
    for url in ("https://example.com/a/20211399001.html", "https://example.com/a/2021061400031234567.html",
                "https://example.com/a/1202106140003.html", "https://example.com/v/2021.0614.0003"):
        assert dated("<p>正文</p>", url=url).published is None, url


def test_byline_date_opening_the_body():
    code = dated("<p><code>2020-09-21 01:03 Jane Doe</code></p><p>The text begins here, at length.</p>")
    assert code.published == dt.datetime(2020, 9, 21, 1, 3, tzinfo=SHANGHAI) and code.date_source.startswith("byline")
    plain = dated("<p>2020/09/21 01:03 记者 王小明</p><p>正文。</p>")
    assert plain.published.date() == dt.date(2020, 9, 21)
    sentence = dated("<p>2020-09-21 01:03, the police said, a man was arrested near the station yesterday.</p>")
    assert sentence.published is None


def test_htmldate_reads_the_saved_page_after_the_metadata_rules():
    raw = ('<html><head><meta name="parsely-pub-date" content="2024-04-20T04:20:00.000Z"></head>'
           '<body><article><p>Text.</p></article></body></html>')
    article = dated("<p>Text.</p>", **page(), url="https://example.com/2024/04/19/story")
    article.meta["raw_html"] = raw
    dates.date_article(article, SHANGHAI)
    assert article.date_source == "htmldate" and article.published == dt.datetime(2024, 4, 20, 4, 20, tzinfo=UTC)
    meta_first = dated("<p>Text.</p>", **page({"article:published_time": "2024-04-21T10:00:00Z"}))
    meta_first.meta["raw_html"] = raw
    assert dates.date_article(meta_first, SHANGHAI).date_source == "html-meta:article:published_time"


# --- outlets: one name per outlet -------------------------------------------------------------------------------


def test_host_and_site_name_variants_are_one_outlet():
    from compile.transforms import outlets

    named = Article(id="a", source="a.html", url="https://www.taipeitimes.com/News/a/1", outlet="Taipei Times")
    bare = Article(id="b", source="b.html", url="https://www.taipeitimes.com/News/b/2")
    spaced = Article(id="c", source="c.html", url="", outlet="TaipeiTimes")
    domain = Article(id="d", source="d.html", url="", outlet="the taipei times.com")
    for article in (named, bare, spaced, domain):
        article.outlet = outlets.resolve(article, "")
    outlets.unify([named, bare, spaced, domain])
    assert {named.outlet, bare.outlet, spaced.outlet, domain.outlet} == {"Taipei Times"}


def test_a_platform_host_with_many_names_keeps_the_host():
    from compile.transforms import outlets

    articles = [Article(id=str(i), source=f"{i}.html", url=f"https://medium.com/@x/{i}", outlet=name)
                for i, name in enumerate(["Towards Data Science", "Better Programming", ""])]
    for article in articles:
        article.outlet = outlets.resolve(article, "")
    outlets.unify(articles)
    assert [a.outlet for a in articles] == ["Towards Data Science", "Better Programming", "medium.com"]


def test_wire_services_and_platform_names():
    from compile.transforms import outlets

    assert {outlets.canonical(n) for n in ("AP", "The Associated Press", "美聯社", "美联社")} == {"美联社"}
    assert {outlets.canonical(n) for n in ("AFP", "Agence France-Presse", "法新社")} == {"法新社"}
    assert {outlets.canonical(n) for n in ("Reuters", "路透", "Thomson Reuters")} == {"路透社"}
    assert {outlets.canonical(n) for n in ("CNA", "Focus Taiwan", "中央通訊社")} == {"中央社"}
    for generic in ("Hosted", "WordPress", "Medium", "Blogger", "Substack"):
        assert outlets.canonical(generic) == ""
    hosted = Article(id="h", source="h.html", url="https://hosted.ap.org/article/123", outlet="Hosted")
    assert outlets.resolve(hosted, "") == "美联社"
    blog = Article(id="w", source="w.html", url="https://janedoe.example.org/post", outlet="WordPress")
    assert outlets.resolve(blog, "") == "janedoe.example.org"
    assert outlets.canonical("http://www.tmz.com") == "tmz.com"


def test_a_known_host_names_its_outlet_whatever_the_page_calls_itself():
    from compile.transforms import outlets

    article = Article(id="n", source="n.html", url="https://www.nytimes.com/2019/02/21/a.html",
                      outlet="The New York Times")
    assert outlets.resolve(article, "") == outlets.resolve(Article(id="m", source="m.html", url=article.url), "")


def test_a_jekyll_post_without_a_date_is_dated_by_its_file_name():
    """Jekyll's posts are named YEAR-MONTH-DAY-title (months and days of one digit too): the site shows that date
    when the front matter has none. Only in a `_posts` folder: elsewhere a file name is no date."""
    def post(source: str, front: dict | None = None, body: str = "<p>正文</p>", folder: str = "site") -> Article:
        article = Article(id="x", source=source, body=body, meta={"front_matter": front or {"title": "t"}})
        return dates.date_article(article, SHANGHAI, site=dates.Site(folder))

    article = post("_posts/2019-04-04-996-ICU.md")
    assert article.published == dt.datetime(2019, 4, 4, tzinfo=SHANGHAI) and article.precision == "day"
    assert article.date_source == "filename:jekyll"
    assert post("news/_posts/2020/2020-3-9-short.markdown").published.date() == dt.date(2020, 3, 9)
    assert post("_posts/2019-02-30-no-such-day.md").published is None
    assert post("posts/2019-04-04-not-jekyll.md").published is None
    # The posts folder built on its own (`anthology build site/_posts`): its name is the archive's.
    assert post("2019-04-04-996-ICU.md", folder="_posts").date_source == "filename:jekyll"
    assert post("2019-04-04-996-ICU.md", folder="blog").published is None
    assert post("_posts/notes/2019-04-04").published is None  # no title after the date: not a post's name
    assert post("_posts/2019-04-04-notes").published is None  # nor without an extension (Jekyll's matcher)
    assert post("_posts/２０１９-０４-０４-wide.md").published is None  # ASCII digits only, as Ruby's \d
    # The front matter's date replaces the file name's, with no warning: Jekyll's own rule.
    moved = post("_posts/2018-01-01-beaker.md", {"date": dt.date(2018, 4, 23)})
    assert moved.published.date() == dt.date(2018, 4, 23) and moved.date_source == "front-matter"
    assert not any("disagree" in w for w in moved.warnings)
    # A dateline in the text still comes after it, and disagreeing is said.
    later = post("_posts/2020-01-28-lier.md", body="<p>新华社北京1986年4月26日电 正文</p>")
    assert later.date_source == "filename:jekyll" and any("disagree" in w for w in later.warnings)


def test_a_file_names_date_is_named_in_the_books_language():
    from compile import locales

    for language, words in (("zh-Hans", "文件名中的日期"), ("zh-Hant", "檔名中的日期"), ("en", "the post's file name")):
        assert locales.load(language).date_origin("filename:jekyll") == words


def test_a_posts_folder_built_on_its_own_is_dated_by_its_names_even_from_the_store(tmp_path):
    """`anthology build site/_posts`: the archive is the posts folder itself. Its name is part of what a stored
    article was read with, so the same files read first under another name are not taken from the store."""
    from compile.build import pipeline
    from compile.build.store import ArticleStore
    from tests.conftest import make_settings

    folder = tmp_path / "blog"
    folder.mkdir()
    (folder / "2019-04-04-996-ICU.md").write_text("---\ntitle: 九九六\n---\n\n正文。\n", encoding="utf-8")
    store = ArticleStore(tmp_path / "cache")
    settings = make_settings()
    assert pipeline.prepare(folder, settings, store).anthology.articles[0].published is None
    posts = folder.rename(tmp_path / "_posts")
    article = pipeline.prepare(posts, settings, store).anthology.articles[0]
    assert article.date_source == "filename:jekyll" and article.published.date() == dt.date(2019, 4, 4)


def test_a_hugo_post_is_dated_by_its_file_name_where_the_sites_config_says_so(tmp_path):
    """Hugo reads YEAR-MONTH-DAY from a content file's name (a bundle's folder's) only when its config lists
    `:filename` among the date's sources; before the front matter's date it wins, after it, it is a fallback."""
    from compile.readers import site

    def post(source: str, where: str, front: dict | None = None) -> Article:
        article = Article(id="x", source=source, body="<p>正文</p>", meta={"front_matter": front or {"title": "t"}})
        return dates.date_article(article, SHANGHAI, site=dates.Site("blog", where))

    cats = post("content/posts/2017-02-07-cats.md", "first")
    assert cats.date_source == "filename:hugo" and cats.published.date() == dt.date(2017, 2, 7)
    assert post("content/posts/2017-02-07-cats/index.md", "after").published.date() == dt.date(2017, 2, 7)
    assert post("content/posts/2017-02-07-cats.md", "").published is None  # Hugo's default: no file name dates
    assert post("content/posts/2017-2-7-cats.md", "first").published is None  # ten characters, YEAR-MM-DD
    dated = {"title": "t", "date": dt.date(2018, 5, 1)}
    first, after = post("content/2017-02-07-x.md", "first", dated), post("content/2017-02-07-x.md", "after", dated)
    assert first.date_source == "filename:hugo" and after.date_source == "front-matter"
    assert not any("disagree" in w for w in first.warnings + after.warnings)

    configs = {
        "hugo.toml": ('[frontmatter]\ndate = [":filename", ":default"]\n', "first"),
        "config.yaml": ("frontMatter:\n  date: [date, ':fileModTime', ':filename']\n", "after"),
        "config/_default/frontmatter.toml": ('date = [":fileModTime", ":filename", "date"]\n', "first"),
        "hugo.json": ('{"frontmatter": {"date": ["date"]}}', ""),
        "config.toml": ("[frontmatter\ndate = [", ""),  # not TOML: no setting
    }
    for name, (text, expected) in configs.items():
        root = tmp_path / name.replace("/", "_")
        (root / name).parent.mkdir(parents=True)
        (root / name).write_text(text, encoding="utf-8")
        assert site.hugo_filename(root) == expected, name
    assert site.hugo_filename(tmp_path / "nothing") == ""


def test_a_hugo_site_whose_config_reads_file_names_is_dated_by_them_end_to_end(tmp_path):
    from compile.build import pipeline
    from compile.build.store import ArticleStore
    from tests.conftest import make_settings

    root = tmp_path / "site"
    (root / "content" / "posts").mkdir(parents=True)
    (root / "content" / "posts" / "2017-02-07-cats.md").write_text("---\ntitle: 猫\n---\n\n正文。\n", encoding="utf-8")
    (root / "hugo.toml").write_text('[frontmatter]\ndate = [":filename", ":default"]\n', encoding="utf-8")
    store = ArticleStore(tmp_path / "cache")
    article = pipeline.prepare(root, make_settings(), store).anthology.articles[0]
    assert article.date_source == "filename:hugo" and article.published.date() == dt.date(2017, 2, 7)
    (root / "hugo.toml").write_text('[frontmatter]\ndate = ["date"]\n', encoding="utf-8")
    assert pipeline.prepare(root, make_settings(), store).anthology.articles[0].published is None  # not the store's


def test_a_hugo_config_is_read_as_untrusted_as_the_rest_of_the_archive(tmp_path):
    """An alias bomb, a link out of the archive, a huge or deeply nested file: no setting, quickly."""
    from compile.readers import site

    outside = tmp_path / "outside.toml"
    outside.write_text('[frontmatter]\ndate = [":filename"]\n', encoding="utf-8")
    cases = {
        "bomb": ("config.yaml", 'a: &a [":filename"]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n'
                                "frontmatter: {date: *b}\n"),
        "huge": ("hugo.toml", '[frontmatter]\ndate = [":filename"]\n' + "# padding\n" * 10_000),
        "deep": ("hugo.json", '{"frontmatter": {"date": [":filename"]}, "x": ' + "[" * 5000 + "]" * 5000 + "}"),
    }
    for folder, (name, text) in cases.items():
        root = tmp_path / folder
        root.mkdir()
        (root / name).write_text(text, encoding="utf-8")
        assert site.hugo_filename(root) == "", folder
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "hugo.toml").symlink_to(outside)
    assert site.hugo_filename(linked) == ""
