"""Date rules one by one: value, precision, source; published apart from archived; disagreements."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from compile import dates
from compile.model import Article

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
    article = dated('<div><time datetime="2020-10-19">2020年10月19日凌晨3点55分</time></div><p>正文</p>')
    assert article.published.date() == dt.date(2020, 10, 19) and article.precision == "day"
    assert article.date_source == "time-element"


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
