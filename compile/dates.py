"""Publication dates: every rule returns a `DateFinding` (value, precision, source) or None.

Rules run from the most to the least trustworthy; the first finding wins, and a later rule that
disagrees by more than two days adds a warning. The RSS dump's epoch comment is the capture time
(`archived`): it is a fallback only, and `date_source` says so. A front matter `date` equal to that
capture time is the mirror's crawl time, not a publication date. A dateline without a year is never
given one silently: the year is inferred only when the archive time bounds it, and marked.

Dates written in the text count only where a dateline stands: at the start of one of the first
blocks (`新华社北京2018年6月12日电`, `路透东京8月28日 -`) or alone on a short line; a date inside a
sentence (`阿扎尔2020年8月9日率团访台`) is an event, not the publication.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
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
    r"(?<!\d)((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號](?:\s*(?:[上下]午|凌晨|早上|晚上|中午)?\s*"
    r"(\d{1,2})\s*[:：时点時點]\s*(\d{1,2}))?"
)
# What may follow a date for it to be a wire dateline: 电/讯 or the dash of Reuters' "路透东京8月28日 -".
WIRE_END = r"(?:电|讯|電|訊|\s*[-–—])"
CJK_YEARLESS = re.compile(r"(?<![\d年])(\d{1,2})月(\d{1,2})日" + WIRE_END)
# Before a wire dateline: agency and place, no sentence punctuation ("新华社新加坡", "(记者 …)" comes after).
WIRE_PREFIX = re.compile(r"^[\s(（【\[*]*[^，。；！？、,;!?\s]{0,20}$")
EN_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
EN_DATE = re.compile(
    rf"\b(?:(\d{{1,2}}) ({EN_MONTHS}) ((?:19|20)\d{{2}})|({EN_MONTHS}) (\d{{1,2}}),? ((?:19|20)\d{{2}}))\b"
)
URL_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?!\d)")
MONTH_NAMES = "January February March April May June July August September October November December".split()
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, 1)}
TIMESTAMP_LINE = re.compile("|".join(p.pattern for p in (RFI_DATELINE, ISO_STAMP, RFC2822_STAMP)))
# How far into the text a dateline may sit, in characters and in blocks.
HEAD_CHARS = 400
HEAD_BLOCKS = 8
# A standalone date line: short, the date near its start ("发布时间：2021年5月3日 10:00", "May 3, 2021").
STANDALONE_MAX = 40
# A front matter date this close to the feed capture time is the mirror's crawl time.
CRAWL_SLACK = dt.timedelta(minutes=2)


@dataclass
class Context:
    article: Article
    text_head: str  # the first characters of the body's text
    stamps: list[str]  # short body elements (or lines of them) that are only a timestamp
    zone: dt.tzinfo  # the zone of values that carry none
    lines: list[str] = field(default_factory=list)  # the first blocks of text, one string each
    times: list[str] = field(default_factory=list)  # `datetime` attributes of `<time>` elements


Rule = Callable[[Context], DateFinding | None]


def _aware(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _parse_iso(raw: str, zone: dt.tzinfo) -> tuple[dt.datetime, str] | None:
    raw = raw.strip()
    if not raw or len(raw) > 64:
        return None
    try:
        value = dateparser.isoparse(raw)
    except (ValueError, OverflowError):
        try:
            value = dateparser.parse(raw)
        except (ValueError, OverflowError, TypeError, dateparser.ParserError):
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


def _naive_stamp(raw: str, ctx: Context) -> tuple[dt.datetime, str, str] | None:
    """A machine timestamp; when it names no zone, the reading that fits the capture time.

    Feeds write item times in UTC, local sites in local time: of the UTC and the configured-zone
    readings, the latest one not after the capture time is taken, and the source says so.
    """
    found = _parse_iso(raw, UTC)
    if not found:
        return None
    value, precision = found
    if re.search(r"(Z|[+-]\d{2}:?\d{2})\s*$", raw.strip()) or precision == "day":
        return (value if precision != "day" else value.replace(tzinfo=ctx.zone)), precision, ""
    archived = ctx.article.archived
    naive = value.replace(tzinfo=None)
    readings = [(naive.replace(tzinfo=UTC), "read as UTC")]
    if ctx.zone is not UTC:
        readings.append((naive.replace(tzinfo=ctx.zone), f"read as {ctx.zone}"))
    if archived is not None:
        before = [r for r in readings if r[0] <= archived + CRAWL_SLACK]
        if before:
            best = max(before, key=lambda r: r[0])
            return best[0], precision, f"no zone; {best[1]}, closest before the capture time"
    return readings[0][0], precision, "no zone; read as UTC"


def json_ld(ctx: Context) -> DateFinding | None:
    for item in ctx.article.meta.get("json_ld", []):
        if not isinstance(item, dict):
            continue
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
    for raw in [*ctx.article.meta.get("time_datetimes", []), *ctx.times]:
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
            except (ValueError, TypeError, IndexError):
                continue
        if ISO_STAMP.match(stamp):
            found = _naive_stamp(stamp, ctx)
            if found:
                source = "body-timestamp:iso8601" + (f" ({found[2]})" if found[2] else "")
                return DateFinding(found[0], found[1], source)
    return None


def front_matter(ctx: Context) -> DateFinding | None:
    meta = ctx.article.meta.get("front_matter", {})
    for key in ("date", "published", "pubDate", "publishDate", "published_at", "created"):
        found = _from_value(meta.get(key), ctx.zone)
        if not found:
            continue
        archived = ctx.article.archived
        if archived is not None and abs(found[0] - archived) <= CRAWL_SLACK:
            return None  # the mirror stamped its crawl time: that is `archived`, not publication
        return DateFinding(found[0], found[1], "front-matter")
    return None


def _cjk_value(match: re.Match, zone: dt.tzinfo) -> tuple[dt.datetime, str] | None:
    year, month, day, hour, minute = (int(g) if g else None for g in match.groups())
    try:
        if hour is not None:
            return dt.datetime(year, month, day, hour, minute, tzinfo=zone), "minute"
        return dt.datetime(year, month, day, tzinfo=zone), "day"
    except ValueError:
        return None


def _at_dateline(line: str, match: re.Match, wire: bool) -> bool:
    """A date stands where a dateline stands: after an agency/place at a block's start, or alone."""
    if wire and WIRE_PREFIX.match(line[: match.start()]):
        return True
    rest = len(line) - (match.end() - match.start())
    return len(line) <= STANDALONE_MAX and match.start() <= 12 and rest <= 14


def cjk_dateline(ctx: Context) -> DateFinding | None:
    for line in ctx.lines:
        for match in CJK_DATE.finditer(line[:200]):
            wire = re.match(WIRE_END, line[match.end(): match.end() + 2]) is not None
            if _at_dateline(line, match, wire):
                found = _cjk_value(match, ctx.zone)
                if found:
                    return DateFinding(found[0], found[1], "dateline:cjk")
    return None


def english_dateline(ctx: Context) -> DateFinding | None:
    for line in ctx.lines:
        for match in EN_DATE.finditer(line[:200]):
            following = line[match.end(): match.end() + 3]
            wire = bool(re.match(r"\s*[-–—(]", following))
            if not _at_dateline(line, match, wire):
                continue
            d1, m1, y1, m2, d2, y2 = match.groups()
            day, month, year = (int(d1), MONTHS[m1], int(y1)) if d1 else (int(d2), MONTHS[m2], int(y2))
            try:
                return DateFinding(dt.datetime(year, month, day, tzinfo=ctx.zone), "day", "dateline:english")
            except ValueError:
                continue
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


def _yearless(ctx: Context) -> re.Match | None:
    for line in ctx.lines:
        match = CJK_YEARLESS.search(line[:200])
        if match and WIRE_PREFIX.match(line[: match.start()]):
            return match
    return None


def yearless_dateline(ctx: Context) -> DateFinding | None:
    """`6月12日电`: only with an archive time to bound the year (the latest year not after it)."""
    match = _yearless(ctx)
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
        if value <= archived + dt.timedelta(days=1):
            return DateFinding(value, "day", "dateline:cjk-yearless, year inferred from archive time", inferred=True)
    return None


def archived_fallback(ctx: Context) -> DateFinding | None:
    if ctx.article.archived is None:
        return None
    return DateFinding(ctx.article.archived, "second", "archived (feed capture time, not publication)")


# In order of trust. Structured metadata, then the page's own visible timestamps, then the post's
# front matter, then dates written in the text or the URL, then the capture time.
RULES: list[Rule] = [
    json_ld, html_meta, time_element, body_timestamp, front_matter,
    cjk_dateline, english_dateline, url_date, yearless_dateline, archived_fallback,
]
BLOCK_TAGS = ["p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "i", "em", "small", "time",
              "span", "strong", "b"]


@dataclass
class Signals:
    text_head: str
    stamps: list[str]
    lines: list[str]
    times: list[str]


def signals(body: str) -> Signals:
    """What the date rules look at: the text's start, timestamp lines, first blocks, `<time>` values."""
    soup = BeautifulSoup(body[:200_000], "lxml")
    stamps, lines = [], []
    for tag in soup.find_all(["div", "i", "time", "span", "p", "small", "em"], limit=400):
        # `<i>Alexander Freund<br>2020-09-20T07:31:08Z</i>`: a byline and a stamp, one per line.
        for line in tag.get_text("\n", strip=True).split("\n")[:3]:
            line = line.strip()
            if 8 <= len(line) <= 40 and TIMESTAMP_LINE.match(line) and line not in stamps:
                stamps.append(line)
    for tag in soup.find_all(BLOCK_TAGS, limit=200):
        if tag.find(["p", "div", "li", "blockquote"]):
            continue  # a wrapper: its blocks are read one by one
        text = re.sub(r"\s+", " ", tag.get_text(" ", strip=True)).strip(" *")
        if text and text not in lines:
            lines.append(text)
        if len(lines) >= HEAD_BLOCKS:
            break
    if not lines:  # text without blocks: its first lines
        lines = [t.strip() for t in soup.get_text("\n").split("\n") if t.strip()][:HEAD_BLOCKS]
    times = [t["datetime"] for t in soup.find_all("time", limit=20) if t.get("datetime")]
    return Signals(soup.get_text(" ", strip=True)[:HEAD_CHARS], stamps, lines, times)


def body_signals(body: str) -> tuple[str, list[str]]:
    """The start of the body's text, and the short elements that hold nothing but a timestamp."""
    found = signals(body)
    return found.text_head, found.stamps


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
    found_signals = signals(article.body)
    ctx = Context(article, found_signals.text_head, found_signals.stamps, zone, found_signals.lines,
                  found_signals.times)
    findings = [(rule, finding) for rule in RULES if (finding := _safe(rule, ctx))]
    if not findings:
        _flag_undated(article, ctx)
        return article
    best = findings[0][1]
    article.published, article.precision, article.date_source = best.value, best.precision, best.source
    if best.inferred:
        article.warn(f"publication year inferred from the archive time: {best.value.date().isoformat()}")
    if best.source.startswith("archived"):
        article.warn("no publication date in the article; using the feed capture time")
    _check_agreement(article, best, [f for _, f in findings[1:]])
    return article


def _check_agreement(article: Article, best: DateFinding, others: list[DateFinding]) -> None:
    """Two publication dates more than two days apart, or a publication after the capture: say so."""
    for other in others:
        if other.source.startswith("archived") or other.inferred:
            continue
        if abs(other.value - best.value) > dt.timedelta(days=2):
            article.warn(
                f"dates disagree: {best.source} says {best.value.date()}, {other.source} says {other.value.date()}"
            )
            break
    if article.archived is not None and best.value - article.archived > dt.timedelta(days=1):
        article.warn(
            f"published {best.value.date()} ({best.source}) is after the capture time {article.archived.date()}"
        )


def _safe(rule: Rule, ctx: Context) -> DateFinding | None:
    try:
        return rule(ctx)
    except (ValueError, OverflowError, TypeError, KeyError, IndexError, AttributeError):
        return None


def _flag_undated(article: Article, ctx: Context) -> None:
    yearless = _yearless(ctx)
    if yearless:
        article.warn(
            f"dateline '{yearless[0]}' has no year and nothing bounds it; "
            f"set [overrides.\"{article.source.rsplit('/', 1)[-1]}\"] date in anthology.toml"
        )
    else:
        article.warn("no publication date found; placed last")
