"""Publication dates: every rule returns a `DateFinding` (value, precision, source) or None.

Rules run from the most to the least trustworthy; the first finding wins, and a later rule that
disagrees by more than two days adds a warning. The RSS dump's epoch comment is the capture time
(`archived`): it is a fallback only, and `date_source` says so. A dateline without a year is
never given one silently: the year is inferred only when the archive time bounds it, and marked.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup
from dateutil import parser as dateparser

from compile.model import Article, DateFinding

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")

# "22/05/2021 - 17:24": RFI's dateline, in Paris local time.
RFI_DATELINE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*-\s*(\d{1,2}):(\d{2})\s*$")
ISO_STAMP = re.compile(r"^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?\s*$")
RFC2822_STAMP = re.compile(r"^\s*(\w{3}, )?\d{1,2} \w{3} \d{4} \d{2}:\d{2}(:\d{2})? (GMT|UTC|[+-]\d{4}|\w{3})\s*$")
CJK_DATE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日(?:\s*(\d{1,2})\s*[:：时点]\s*(\d{1,2}))?"
)
CJK_YEARLESS = re.compile(r"(?<![\d年])(\d{1,2})月(\d{1,2})日(?:电|讯|消息|報道|报道|訊|電)")
EN_DATE = re.compile(
    r"\b(?:(\d{1,2}) (January|February|March|April|May|June|July|August|September|October|November|December)"
    r" ((?:19|20)\d{2})|(January|February|March|April|May|June|July|August|September|October|November|December)"
    r" (\d{1,2}),? ((?:19|20)\d{2}))\b"
)
URL_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?!\d)")
MONTH_NAMES = "January February March April May June July August September October November December".split()
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, 1)}
TIMESTAMP_LINE = re.compile("|".join(p.pattern for p in (RFI_DATELINE, ISO_STAMP, RFC2822_STAMP)))
# How far into the text a dateline may sit.
HEAD_CHARS = 400


@dataclass
class Context:
    article: Article
    text_head: str  # the first characters of the body's text
    stamps: list[str]  # short body elements that are only a timestamp
    zone: dt.tzinfo  # the zone of values that carry none


Rule = Callable[[Context], DateFinding | None]


def _aware(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _parse_iso(raw: str, zone: dt.tzinfo) -> tuple[dt.datetime, str] | None:
    raw = raw.strip()
    try:
        value = dateparser.isoparse(raw)
    except (ValueError, OverflowError):
        try:
            value = dateparser.parse(raw)
        except (ValueError, OverflowError, TypeError):
            return None
    precision = "day" if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw) else "second"
    return _aware(value, zone), precision


def _from_value(value, zone: dt.tzinfo) -> tuple[dt.datetime, str] | None:
    if isinstance(value, dt.datetime):
        return _aware(value, zone), "second"
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=zone), "day"
    if isinstance(value, str) and value.strip():
        return _parse_iso(value, zone)
    return None


def json_ld(ctx: Context) -> DateFinding | None:
    for item in ctx.article.meta.get("json_ld", []):
        found = _from_value(item.get("datePublished"), ctx.zone)
        if found:
            return DateFinding(found[0], found[1], "json-ld")
    return None


def html_meta(ctx: Context) -> DateFinding | None:
    meta = ctx.article.meta.get("html_meta", {})
    for key in ("article:published_time", "pubdate", "publishdate", "dc.date", "date"):
        found = _from_value(meta.get(key), ctx.zone)
        if found:
            return DateFinding(found[0], found[1], f"html-meta:{key}")
    return None


def time_element(ctx: Context) -> DateFinding | None:
    for raw in ctx.article.meta.get("time_datetimes", []):
        found = _parse_iso(raw, ctx.zone)
        if found:
            return DateFinding(found[0], found[1], "time-element")
    return None


def body_timestamp(ctx: Context) -> DateFinding | None:
    """A short element holding only a timestamp, as feeds put above the text."""
    for stamp in ctx.stamps:
        match = RFI_DATELINE.match(stamp)
        if match:
            day, month, year, hour, minute = map(int, match.groups())
            try:
                local = dt.datetime(year, month, day, hour, minute, tzinfo=PARIS)
            except ValueError:
                continue
            return DateFinding(local, "minute", "dateline:dd/mm/yyyy-paris")
        if RFC2822_STAMP.match(stamp):
            try:
                value = _aware(parsedate_to_datetime(stamp.strip()), UTC)
                return DateFinding(value, "second", "body-timestamp:rfc2822")
            except (ValueError, TypeError):
                continue
        if ISO_STAMP.match(stamp):
            found = _parse_iso(stamp, ctx.zone)
            if found:
                return DateFinding(found[0], found[1], "body-timestamp:iso8601")
    return None


def front_matter(ctx: Context) -> DateFinding | None:
    meta = ctx.article.meta.get("front_matter", {})
    for key in ("date", "published", "pubDate", "publishDate"):
        found = _from_value(meta.get(key), ctx.zone)
        if found:
            return DateFinding(found[0], found[1], "front-matter")
    return None


def cjk_dateline(ctx: Context) -> DateFinding | None:
    match = CJK_DATE.search(ctx.text_head)
    if not match:
        return None
    year, month, day, hour, minute = (int(g) if g else None for g in match.groups())
    try:
        if hour is not None:
            return DateFinding(dt.datetime(year, month, day, hour, minute, tzinfo=ctx.zone), "minute", "dateline:cjk")
        return DateFinding(dt.datetime(year, month, day, tzinfo=ctx.zone), "day", "dateline:cjk")
    except ValueError:
        return None


def english_dateline(ctx: Context) -> DateFinding | None:
    match = EN_DATE.search(ctx.text_head)
    if not match:
        return None
    d1, m1, y1, m2, d2, y2 = match.groups()
    day, month, year = (int(d1), MONTHS[m1], int(y1)) if d1 else (int(d2), MONTHS[m2], int(y2))
    try:
        return DateFinding(dt.datetime(year, month, day, tzinfo=ctx.zone), "day", "dateline:english")
    except ValueError:
        return None


def url_date(ctx: Context) -> DateFinding | None:
    match = URL_DATE.search(ctx.article.url or "")
    if not match:
        return None
    try:
        value = dt.datetime(*map(int, match.groups()), tzinfo=ctx.zone)
    except ValueError:
        return None
    return DateFinding(value, "day", "url")


def yearless_dateline(ctx: Context) -> DateFinding | None:
    """`6月12日电`: only with an archive time to bound the year (the latest year not after it)."""
    match = CJK_YEARLESS.search(ctx.text_head)
    archived = ctx.article.archived
    if not match or archived is None:
        return None
    month, day = int(match[1]), int(match[2])
    local = archived.astimezone(ctx.zone)
    for year in (local.year, local.year - 1):
        try:
            value = dt.datetime(year, month, day, tzinfo=ctx.zone)
        except ValueError:
            continue
        if value <= archived:
            return DateFinding(value, "day", "dateline:cjk-yearless, year inferred from archive time", inferred=True)
    return None


def archived_fallback(ctx: Context) -> DateFinding | None:
    if ctx.article.archived is None:
        return None
    return DateFinding(ctx.article.archived, "second", "archived (feed capture time, not publication)")


# In order of trust. Structured metadata, then the page's own visible timestamps, then the post's
# front matter (in feed mirrors, the crawl time), then dates written in the text or the URL.
RULES: list[Rule] = [
    json_ld, html_meta, time_element, body_timestamp, front_matter,
    cjk_dateline, english_dateline, url_date, yearless_dateline, archived_fallback,
]


def body_signals(body: str) -> tuple[str, list[str]]:
    """The start of the body's text, and the short elements that hold nothing but a timestamp."""
    soup = BeautifulSoup(body[:200_000], "lxml")
    stamps = []
    for tag in soup.find_all(["div", "i", "time", "span", "p", "small", "em"], limit=400):
        text = tag.get_text(" ", strip=True)
        if 8 <= len(text) <= 40 and TIMESTAMP_LINE.match(text):
            stamps.append(text)
    return soup.get_text(" ", strip=True)[:HEAD_CHARS], stamps


def archived_time(article: Article) -> dt.datetime | None:
    epoch = article.meta.get("epoch_ms")
    if epoch is None:
        return None
    try:
        return dt.datetime.fromtimestamp(epoch / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def date_article(article: Article, zone: dt.tzinfo, override=None) -> Article:
    """Set `published`, `precision`, `date_source` and `archived` on the article."""
    article.archived = archived_time(article)
    if override is not None:
        found = _from_value(override, zone)
        if found:
            article.published, article.precision, article.date_source = found[0], found[1], "override"
            return article
        article.warn(f"override date {override!r} is not a date; ignored")
    text_head, stamps = body_signals(article.body)
    ctx = Context(article, text_head, stamps, zone)
    findings = [(rule, finding) for rule in RULES if (finding := _safe(rule, ctx))]
    if not findings:
        _flag_undated(article, text_head)
        return article
    best = findings[0][1]
    article.published, article.precision, article.date_source = best.value, best.precision, best.source
    if best.inferred:
        article.warn(f"publication year inferred from the archive time: {best.value.date().isoformat()}")
    if best.source.startswith("archived"):
        article.warn("no publication date in the article; using the feed capture time")
    for _, other in findings[1:]:
        if other.source.startswith("archived") or other.inferred:
            continue
        if abs(other.value - best.value) > dt.timedelta(days=2):
            article.warn(
                f"dates disagree: {best.source} says {best.value.date()}, {other.source} says {other.value.date()}"
            )
            break
    return article


def _safe(rule: Rule, ctx: Context) -> DateFinding | None:
    try:
        return rule(ctx)
    except (ValueError, OverflowError, TypeError):
        return None


def _flag_undated(article: Article, text_head: str) -> None:
    yearless = CJK_YEARLESS.search(text_head)
    if yearless:
        article.warn(
            f"dateline '{yearless[0]}' has no year and nothing bounds it; "
            f"set [overrides.\"{article.source.rsplit('/', 1)[-1]}\"] date in anthology.toml"
        )
    else:
        article.warn("no publication date found; placed last")
