"""Any year (1–9999), any IANA zone, any rule input: dating, ordering and reporting never raise, and what is
kept is a plausible, timezone-aware publication date (1900 to the capture year + 1)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compile.build import report
from compile.model import Article
from compile.transforms import dates, order

ZONES = sorted(zoneinfo.available_timezones())
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

zones = st.sampled_from(ZONES).map(zoneinfo.ZoneInfo)
offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes)))
naive_times = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59))
times = st.one_of(naive_times,
                  st.builds(lambda value, tz: value.replace(tzinfo=tz), naive_times, st.one_of(zones, offsets)))


def _iso(value: dt.datetime) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _written(value: dt.datetime, form: int) -> str:
    """One value written the ways archives write dates."""
    zone = value.strftime("%z") if value.tzinfo else ""
    day = _iso(value)
    return [
        f"{day}T{value:%H:%M:%S}{zone}",
        day,
        f"{day} {value:%H:%M}",
        f"{value:%a %b} {value.day:02d} {value.year:04d} {value:%H:%M:%S} GMT{zone or '+0000'} (Zone)",
        f"{value.year:04d}{value.month:02d}{value.day:02d}",
        f"{day}T{value:%H:%M:%S}Z",
    ][form]


written = st.builds(_written, times, st.integers(min_value=0, max_value=5))
placeholders = st.sampled_from(["0001-01-01", "0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "1970-01-01",
                                "9999-12-31T23:59:59-12:00", "9999-12-31", "0000-00-00", "", "null"])
values = st.one_of(written, placeholders)


@st.composite
def articles(draw) -> Article:
    """An article whose every date-bearing field may hold any of those values."""
    value = draw(times)
    year = value.year
    body = draw(st.sampled_from([
        "<p>正文。</p>",
        f"<div><i>{draw(written)}</i></div><p>正文。</p>",
        f"<p><code>{draw(written)} AUTHOR</code></p><p>Text.</p>",
        f"<p>新华社北京{year}年{value.month}月{value.day}日电 正文。</p>",
        f"<p>{value.day} {dates.MONTH_NAMES[value.month - 1]} {year}</p><p>Text.</p>",
        f"<p><strong>新华社新加坡{value.month}月{value.day}日电</strong></p><p>正文</p>",
        f"<div>{value.day:02d}/{value.month:02d}/{year:04d} - {value.hour:02d}:{value.minute:02d}</div>",
        f'<div><time datetime="{draw(values)}">x</time></div>',
    ]))
    url = draw(st.sampled_from([
        "", f"https://example.com/{year:04d}/{value.month:02d}/{value.day:02d}/story.html",
        f"https://www.cna.com.tw/news/firstnews/{year:04d}{value.month:02d}{value.day:02d}0003.aspx",
        f"https://www.nytimes.com/{year:04d}/{value.month:02d}/{value.day:02d}/a.html",
        "https://www.liberation.fr/a", "http://[::1/a",
    ]))
    meta: dict = {"body_format": "html", "time_datetimes": draw(st.lists(values, max_size=2))}
    if draw(st.booleans()):
        meta["json_ld"] = [{"datePublished": draw(values), "dateModified": draw(values)}]
    if draw(st.booleans()):
        meta["html_meta"] = {draw(st.sampled_from(dates.META_DATE_KEYS)): draw(values),
                             "article:modified_time": draw(values)}
    if draw(st.booleans()):
        meta["front_matter"] = {"date": draw(st.one_of(values, times, times.map(lambda t: t.date())))}
    if draw(st.booleans()):
        meta["epoch_ms"] = draw(st.one_of(
            st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_000), st.just(0)))
    return Article(id="a", source="a.html", title="t", url=url, body=body, meta=meta)


@PROPERTY
@given(st.lists(articles(), min_size=1, max_size=3), zones, st.sampled_from(["year", "month", "outlet", "none"]))
def test_dates_never_raise_and_are_plausible(items, zone, by):
    for i, article in enumerate(items):
        article.id = f"a{i}"
        dates.date_article(article, zone)
        if article.published is not None:
            assert article.published.tzinfo is not None and article.published.utcoffset() is not None
            bound = article.archived or dt.datetime.now(dt.UTC)
            assert 1900 <= article.published.year <= bound.year + 1, (article.published, article.date_source)
        else:
            assert article.warnings
    ordered = order.chronological(items)
    assert sum(len(s.articles) for s in order.sections(ordered, by, zone)) == len(items)
    for article in ordered:
        entry = report.article_entry(article)
        assert (entry["published"] is None) == (article.published is None)


@PROPERTY
@given(times, zones)
def test_an_override_of_any_year_never_raises(value, zone):
    article = dates.date_article(Article(id="o", source="o.txt", body="<p>x</p>"), zone, value)
    assert article.published is None or 1900 <= article.published.year <= dt.datetime.now(dt.UTC).year + 1
    assert article.published is not None or any("override" in w for w in article.warnings)
