"""Publication dates: every rule returns a `DateFinding` (value, precision, source) or None.

Rules run from the most to the least trustworthy; the first plausible finding wins, and a later rule
that disagrees by more than two days adds a warning. The RSS dump's epoch comment is the capture time
(`archived`): it is a fallback only, and `date_source` says so. A front matter `date` equal to that
capture time is the mirror's crawl time, not a publication date. A dateline without a year is never
given one silently: the year is inferred only when the archive time bounds it, and marked.

Dates written in the text count only where a dateline stands: at the start of one of the first
blocks (`新华社北京2018年6月12日电`, `路透东京8月28日 -`) or alone on a short line; a date inside a
sentence (`阿扎尔2020年8月9日率团访台`) is an event, not the publication.

Placeholders are refused with a warning and the next rule is tried: a year before 1900, the Unix epoch
(1970-01-01 00:00), a date more than two days after the capture time (or, without one, after today).
So every date kept can be shifted into any zone without leaving `datetime`'s range.

A value without a zone (`2019-11-20T14:05:00`) is read, in this order, in: the offset the same page
declares on another timestamp; the outlet's own zone (compile/transforms/outlets.py); for a date without a time,
the configured zone; for a time, the reading (UTC or the configured zone) that fits the capture time;
else UTC. `date_source` says which, so no value is shifted by the display zone silently; the date
shown is the one written either way (writers show a date in its own offset).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import cached_property
from pathlib import PurePosixPath
from zoneinfo import ZoneInfo

from dateutil import parser as dateparser

from compile.model import Article, DateFinding
from compile.pruning import Pruned
from compile.text import MONTH_NAMES
from compile.transforms import outlets

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")

# "22/05/2021 - 17:24": RFI's dateline, in Paris local time.
RFI_DATELINE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*-\s*(\d{1,2}):(\d{2})\s*$")
ISO_STAMP = re.compile(r"^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?\s*$")
RFC2822_STAMP = re.compile(r"^\s*(\w{3}, )?\d{1,2} \w{3} \d{4} \d{2}:\d{2}(:\d{2})? (GMT|UTC|[+-]\d{4}|\w{3})\s*$")
# "2020-09-21 01:03 AUTHOR" opening the body: a stamp, then a short name (no sentence punctuation).
BYLINE_STAMP = re.compile(
    r"^\s*(?:19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}[ T]\d{1,2}:\d{2}(?::\d{2})?(?:\s*(?:Z|[+-]\d{2}:?\d{2}))?"
    r"(?=\s+[^\s,.;:!?，。；！？]|\s*$)"
)
BYLINE_BLOCKS = 3
BYLINE_REST = 40
# The time after it: "10:00", "10点30分", "下午2点" (the hour alone), "下午2:30" (14:30: the period counts).
CJK_DATE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號](?:\s*([上下]午|凌晨|早上|晚上|中午)?\s*"
    r"(\d{1,2})\s*(?:[:：]\s*(\d{1,2})|[时点時點](?:\s*(\d{1,2})(?!\d)\s*分?)?))?"
)
AFTERNOON = {"下午", "晚上", "中午"}
# What may follow a date for it to be a wire dateline: 电/讯 or the dash of Reuters' "路透东京8月28日 -".
WIRE_END = r"(?:电|讯|電|訊|\s*[-–—])"
CJK_YEARLESS = re.compile(r"(?<![\d年])(\d{1,2})月(\d{1,2})日" + WIRE_END)
# Before a wire dateline: agency and place, no sentence punctuation ("新华社新加坡", "(记者 …)" comes after).
WIRE_PREFIX = re.compile(r"^[\s(（【\[*]*[^，。；！？、,;!?\s]{0,20}$")
EN_MONTHS = "|".join(MONTH_NAMES)
EN_DATE = re.compile(
    rf"\b(?:(\d{{1,2}}) ({EN_MONTHS}) ((?:19|20)\d{{2}})|({EN_MONTHS}) (\d{{1,2}}),? ((?:19|20)\d{{2}}))\b"
)
URL_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?!\d)")
# CNA's `/news/firstnews/202106140003.aspx`: yyyymmdd opening a 10- to 14-digit article number.
URL_COMPACT_DATE = re.compile(r"(?<![\d.])((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{2,6}(?!\d)")
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, 1)}
TIMESTAMP_LINE = re.compile("|".join(p.pattern for p in (RFI_DATELINE, ISO_STAMP, RFC2822_STAMP)))
# How far into the text a dateline may sit, in characters and in blocks.
HEAD_CHARS = 400
HEAD_BLOCKS = 8
# A standalone date line: short, the date near its start ("发布时间：2021年5月3日 10:00", "May 3, 2021").
STANDALONE_MAX = 40
# A front matter date this close to the feed capture time is the mirror's crawl time.
CRAWL_SLACK = dt.timedelta(minutes=2)
# Plausible publication dates: not before EARLIEST_YEAR, not the epoch, not after the capture (or today) + slack.
EARLIEST_YEAR = 1900
EPOCH = dt.datetime(1970, 1, 1)
FUTURE_SLACK = dt.timedelta(days=2)
# Names of page meta tags that hold the publication time (compared lower-case), most specific first.
META_DATE_KEYS = (
    "article:published_time", "article:published", "datepublished", "og:published_time", "parsely-pub-date",
    "sailthru.date", "dc.date.issued", "dcterms.issued", "dc.date", "dcterms.date", "pubdate", "publishdate",
    "date", "dcterms.created",
)
# Keys of other timestamps of the same page: their offset tells the zone of the page's zone-less values.
OFFSET_KEYS = ("datePublished", "dateModified", "dateCreated", "uploadDate")
HAS_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})\s*$", re.I)
HAS_TIME = re.compile(r"\d:\d\d|T\d{2}")
# htmldate reads the page a second time: it sees this much of it, and none of its free-text guesses.
HTMLDATE_MAX_CHARS = 2_000_000


@dataclass(frozen=True)
class Site:
    """What an archive says of its posts' dates beyond each file: its folder's own name (`_posts` when Jekyll's
    posts folder is built on its own), and where a Hugo site's config lists `:filename` among a date's sources:
    "first" (before the front matter's date), "after", or "" (compile/readers/site.py)."""

    folder: str = ""
    hugo_filename: str = ""

    def key(self) -> str:
        """What of it changes an article's dates (the article store's key): not the folder's name, unless it is
        `_posts`, so that a renamed or moved archive is still read from the store."""
        return f"{self.folder == '_posts'} {self.hugo_filename}"


@dataclass
class Context:
    article: Article
    text_head: str  # the first characters of the body's text
    stamps: list[str]  # short body elements (or lines of them) that are only a timestamp
    zone: dt.tzinfo  # the configured zone: of dates without a time, and one reading of times without a zone
    lines: list[str] = field(default_factory=list)  # the first blocks of text, one string each
    times: list[str] = field(default_factory=list)  # `datetime` attributes of `<time>` elements
    site: Site = Site()  # what the archive itself says of its posts' dates

    @cached_property
    def local(self) -> tuple[dt.tzinfo, str] | None:
        """The page's or the outlet's own zone, and why: where its zone-less values were written."""
        offset = _page_offset(self.article)
        if offset is not None:
            return offset, f"the page's offset {offset}"
        name = outlets.zone_of(self.article.url)
        return (ZoneInfo(name), f"the outlet's zone {name}") if name else None


Rule = Callable[[Context], DateFinding | None]
Reading = tuple[dt.datetime, str, str]  # aware value, precision, how a missing zone was chosen ("" if none was)


def _parse(raw: str) -> tuple[dt.datetime, str] | None:
    """A date string with a year: its value (naive when it names no zone) and precision."""
    raw = raw.strip()
    if not raw or len(raw) > 64 or not re.search(r"(?<!\d)\d{4}(?!\d)|^\d{8}", raw):
        return None
    try:
        value = dateparser.isoparse(raw)
    except (ValueError, OverflowError):
        # "Wed Nov 20 2019 14:05:00 GMT-0500 (EST)": JavaScript's toString(); dateutil reads GMT-0500 as POSIX
        # (the sign reversed), so the offset is given alone.
        text = re.sub(r"\([^)]*\)", "", re.sub(r"\b(?:GMT|UTC)(?=[+-]\d{2}:?\d{2})", "", raw)).strip()
        try:
            value = dateparser.parse(text, default=dt.datetime(EARLIEST_YEAR, 1, 1))
        except (ValueError, OverflowError, TypeError, dateparser.ParserError):
            return None
    return value, ("second" if HAS_TIME.search(raw) else "day")


def _localise(value: dt.datetime, precision: str, ctx: Context, written: bool = False) -> Reading:
    """An aware value: a zone-less one read where it was most likely written (see the module's docstring).

    `written`: a time written for people in the text (a dateline) is a local time, never a machine's UTC.
    """
    if value.tzinfo is not None:
        return value, precision, ""
    if ctx.local is not None:
        zone, why = ctx.local
        return value.replace(tzinfo=zone), precision, "" if precision == "day" else f"no zone; read in {why}"
    if precision == "day":
        return value.replace(tzinfo=ctx.zone), precision, ""
    if written:
        return value.replace(tzinfo=ctx.zone), precision, f"no zone; read in the configured zone {ctx.zone}"
    return _capture_fit(value, precision, ctx)


def _capture_fit(naive: dt.datetime, precision: str, ctx: Context) -> Reading:
    """Feeds write item times in UTC, local sites in local time: of the UTC and the configured-zone
    readings, the latest one not after the capture time is taken; without a capture time, UTC."""
    readings = [(naive.replace(tzinfo=UTC), "read as UTC")]
    if ctx.zone is not UTC:
        readings.append((naive.replace(tzinfo=ctx.zone), f"read as {ctx.zone}"))
    archived = ctx.article.archived
    if archived is not None:
        before = [r for r in readings if r[0] <= archived + CRAWL_SLACK]
        if before:
            best = max(before, key=lambda r: r[0])
            return best[0], precision, f"no zone; {best[1]}, closest before the capture time"
    return readings[0][0], precision, "no zone; read as UTC"


def _reading(raw, ctx: Context) -> Reading | None:
    """A date from metadata (a string, a `date` or a `datetime`), aware."""
    if isinstance(raw, dt.datetime):
        return _localise(raw, "second", ctx)
    if isinstance(raw, dt.date):
        return _localise(dt.datetime(raw.year, raw.month, raw.day), "day", ctx)
    if isinstance(raw, str):
        parsed = _parse(raw)
        return _localise(*parsed, ctx) if parsed else None
    return None


def _finding(reading: Reading | None, source: str, precision: str = "") -> DateFinding | None:
    if reading is None:
        return None
    value, found_precision, note = reading
    return DateFinding(value, precision or found_precision, f"{source} ({note})" if note else source)


def _page_offset(article: Article) -> dt.tzinfo | None:
    """The offset the page writes its other timestamps with, if any."""
    values = [item.get(key) for item in _json_ld_items(article) for key in OFFSET_KEYS]
    values += list(article.meta.get("html_meta", {}).values()) + list(article.meta.get("time_datetimes", []))
    for raw in values:
        if isinstance(raw, str) and HAS_OFFSET.search(raw) and HAS_TIME.search(raw):
            parsed = _parse(raw)
            if parsed and (offset := parsed[0].utcoffset()) is not None:
                return dt.timezone(offset)
    return None


def _json_ld_items(article: Article) -> list[dict]:
    items = article.meta.get("json_ld", [])
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _refusal(value: dt.datetime, ctx: Context) -> str:
    """Why a value is a placeholder rather than a publication date ("" when it is plausible)."""
    try:
        return _placeholder(value, ctx)
    except (ValueError, OverflowError, TypeError):  # an offset beyond ±24 h, a naive value
        return "out of range"


def _placeholder(value: dt.datetime, ctx: Context) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        return "without a zone"
    if value.year < EARLIEST_YEAR:
        return f"before {EARLIEST_YEAR}"
    if value.replace(tzinfo=None) == EPOCH or value == EPOCH.replace(tzinfo=UTC):
        return "the Unix epoch"
    archived = ctx.article.archived
    latest = archived or dt.datetime.now(UTC)
    if value - latest > FUTURE_SLACK:
        return f"after the capture time {archived.date()}" if archived else "in the future"
    return ""


def json_ld(ctx: Context) -> DateFinding | None:
    for item in _json_ld_items(ctx.article):
        found = _finding(_reading(item.get("datePublished"), ctx), "json-ld")
        if found:
            return found
    return None


def html_meta(ctx: Context) -> DateFinding | None:
    meta = ctx.article.meta.get("html_meta", {})
    for key in META_DATE_KEYS:
        found = _finding(_reading(meta.get(key), ctx), f"html-meta:{key}")
        if found:
            return found
    return None


def time_element(ctx: Context) -> DateFinding | None:
    for raw in [*ctx.article.meta.get("time_datetimes", []), *ctx.times]:
        found = _finding(_reading(raw, ctx), "time-element")
        if found:
            return found
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
                value = parsedate_to_datetime(stamp.strip())
            except (ValueError, TypeError, IndexError):
                continue
            return DateFinding(value if value.tzinfo else value.replace(tzinfo=UTC), "second", "body-timestamp:rfc2822")
        if ISO_STAMP.match(stamp):
            found = _finding(_reading(stamp, ctx), "body-timestamp:iso8601")
            if found:
                return found
    return None


def byline_date(ctx: Context) -> DateFinding | None:
    """`2020-09-21 01:03 AUTHOR` opening the body: a stamp and a short name, as blogs and notes write them."""
    for line in ctx.lines[:BYLINE_BLOCKS]:
        match = BYLINE_STAMP.match(line)
        if match and len(line) - match.end() <= BYLINE_REST:
            stamp = re.sub(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})", r"\1-\2-\3", match[0].strip())
            parsed = _parse(stamp)
            if parsed:
                return _finding(_localise(parsed[0], "minute", ctx, written=True), "byline")
    return None


def front_matter(ctx: Context) -> DateFinding | None:
    meta = ctx.article.meta.get("front_matter", {})
    for key in ("date", "published", "pubDate", "publishDate", "published_at", "created"):
        reading = _reading(meta.get(key), ctx)
        if not reading:
            continue
        if _is_crawl_time(meta[key], reading, ctx):
            return None  # the mirror stamped its crawl time: that is `archived`, not publication
        return _finding(reading, "front-matter")
    return None


def _is_crawl_time(raw, reading: Reading, ctx: Context) -> bool:
    archived = ctx.article.archived
    if archived is None:
        return False
    candidates = [reading[0]]
    if reading[2]:  # no zone was written: any reading of it that meets the capture time is the crawl
        naive = reading[0].replace(tzinfo=None)
        candidates += [naive.replace(tzinfo=UTC), naive.replace(tzinfo=ctx.zone)]
    return any(abs(value - archived) <= CRAWL_SLACK for value in candidates)


def htmldate_rule(ctx: Context) -> DateFinding | None:
    """htmldate on the full saved page (`meta["raw_html"]`), metadata and markup only (no free-text search)."""
    page = ctx.article.meta.get("raw_html")
    if not isinstance(page, str) or not page.strip():
        return None
    from htmldate import find_date  # imported on first use: 0.1 s, and most sources are not full pages

    latest = (ctx.article.archived or dt.datetime.now(UTC)) + FUTURE_SLACK
    try:
        found = find_date(page[:HTMLDATE_MAX_CHARS], extensive_search=False, original_date=True,
                          outputformat="%Y-%m-%dT%H:%M:%S%z", min_date=f"{EARLIEST_YEAR}-01-01",
                          max_date=latest.strftime("%Y-%m-%d"))
    except Exception:  # noqa: BLE001 - a page lxml cannot parse has no date for htmldate; the other rules go on
        return None
    if not found:
        return None
    parsed = _parse(found)
    if parsed is None:
        return None
    value, precision = parsed
    if value.tzinfo is None and value.time() == dt.time(0):
        precision = "day"  # htmldate pads a bare date with midnight
    return _finding(_localise(value, precision, ctx), "htmldate")


def _cjk_value(match: re.Match, ctx: Context) -> Reading | None:
    year, month, day, period, hour, minute, minutes = match.groups()  # the time is optional
    date = int(year), int(month), int(day)
    try:
        if hour:
            clock = int(hour)
            if period in AFTERNOON and clock < 12:
                clock += 12
            elif period == "凌晨" and clock == 12:
                clock = 0
            at = dt.datetime(*date, clock, int(minute or minutes or 0))
            return _localise(at, "minute", ctx, written=True)
        return _localise(dt.datetime(*date), "day", ctx)
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
                found = _finding(_cjk_value(match, ctx), "dateline:cjk")
                if found:
                    return found
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
                return _finding(_localise(dt.datetime(year, month, day), "day", ctx), "dateline:english")
            except ValueError:
                continue
    return None


def url_date(ctx: Context) -> DateFinding | None:
    """`/2021/05/22/`, `2021-05-22`, `20210522`, or the date opening CNA's article number."""
    url = ctx.article.url or ""
    for pattern in (URL_DATE, URL_COMPACT_DATE):
        for match in pattern.finditer(url):
            try:
                year, month, day = map(int, match.groups())
                value = dt.datetime(year, month, day)
            except ValueError:
                continue
            return _finding(_localise(value, "day", ctx), "url")
    return None


# Jekyll names every post YEAR-MONTH-DAY-title.EXT in a `_posts` folder (at any depth: `news/_posts/`), and a
# post's date is that one unless its front matter gives another (jekyllrb.com/docs/posts/); Jekyll reads one-
# and two-digit months and days alike.
JEKYLL_SOURCE = "filename:jekyll"
JEKYLL_POST = re.compile(r"(?:^|/)_posts/(?:[^/]+/)*([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})-[^/]*\.[^./]+$")


def jekyll_filename(ctx: Context) -> DateFinding | None:
    """The date in a Jekyll post's file name: what the site itself shows when the front matter has none."""
    return _named_day(JEKYLL_POST.search(f"{ctx.site.folder}/{ctx.article.source}"), ctx, JEKYLL_SOURCE)


def _named_day(match: re.Match | None, ctx: Context, source: str) -> DateFinding | None:
    """The day a file name's (year, month, day) groups give, if it exists."""
    if not match:
        return None
    year, month, day = map(int, match.groups())
    try:
        value = dt.datetime(year, month, day)
    except ValueError:
        return None
    return _finding(_localise(value, "day", ctx), source)


# Hugo reads a date from a content file's name (`2017-02-07-cats.md`, a bundle's folder `2017-02-07-cats/index.md`)
# only when its config lists `:filename` among the date's sources, before or after the front matter's
# (gohugo.io/configuration/front-matter): the first ten characters, YEAR-MONTH-DAY.
HUGO_SOURCE = "filename:hugo"
HUGO_NAME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
SITE_FILENAMES = (JEKYLL_SOURCE, HUGO_SOURCE)


def hugo_filename_first(ctx: Context) -> DateFinding | None:
    """A Hugo post's file name's date, where the site's config puts it before the front matter's."""
    return _hugo_filename(ctx) if ctx.site.hugo_filename == "first" else None


def hugo_filename(ctx: Context) -> DateFinding | None:
    """A Hugo post's file name's date, where the site's config puts it after the front matter's."""
    return _hugo_filename(ctx) if ctx.site.hugo_filename == "after" else None


def _hugo_filename(ctx: Context) -> DateFinding | None:
    path = PurePosixPath(ctx.article.source)
    name = path.parent.name if path.stem in ("index", "_index") else path.stem
    return _named_day(HUGO_NAME.match(name), ctx, HUGO_SOURCE)


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


# In order of trust. Structured metadata; htmldate's reading of the whole saved page (before the page's
# `<time>` elements: on extraction-dev it picks the article's own where the first `<time>` of a NYT page is
# a related story's, and changes nothing else); the page's visible timestamps; the post's front matter;
# a Jekyll post's file name, which its site shows when the front matter has no date; dates written in the
# text or the URL; the capture time.
RULES: list[Rule] = [
    json_ld, html_meta, htmldate_rule, time_element, body_timestamp, byline_date, hugo_filename_first, front_matter,
    jekyll_filename, hugo_filename, cjk_dateline, english_dateline, url_date, yearless_dateline, archived_fallback,
]


BLOCK_TAGS = ["p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "i", "em", "small", "time",
              "span", "strong", "b"]


@dataclass
class Signals:
    text_head: str
    stamps: list[str]
    lines: list[str]
    times: list[str]
    parsed: tuple[str, Pruned] | None = None  # the markup read and its tree, for cleaning to take over


def signals(body: str) -> Signals:
    """What the date rules look at: the text's start, timestamp lines, first blocks, `<time>` values."""
    markup = body[:200_000]
    page = Pruned(markup)
    root = page.root
    stamps, lines = [], []
    for tag in page.tags(root, ["div", "i", "time", "span", "p", "small", "em"], limit=400):
        # `<i>Alexander Freund<br>2020-09-20T07:31:08Z</i>`: a byline and a stamp, one per line.
        for line in page.text(tag, "\n", strip=True).split("\n")[:3]:
            line = line.strip()
            if 8 <= len(line) <= 40 and TIMESTAMP_LINE.match(line) and line not in stamps:
                stamps.append(line)
    for tag in page.tags(root, BLOCK_TAGS, limit=200):
        if page.first(tag, ["p", "div", "li", "blockquote"]) is not None:
            continue  # a wrapper: its blocks are read one by one
        text = re.sub(r"\s+", " ", page.text(tag, " ", strip=True)).strip(" *`")
        if text and text not in lines:
            lines.append(text)
        if len(lines) >= HEAD_BLOCKS:
            break
    if not lines:  # text without blocks: its first lines
        lines = [t.strip() for t in page.text(root, "\n").split("\n") if t.strip()][:HEAD_BLOCKS]
    times = [value for t in page.tags(root, "time", limit=20) if (value := t.get("datetime"))]
    return Signals(page.text(root, " ", strip=True)[:HEAD_CHARS], stamps, lines, times, (markup, page))


def archived_time(article: Article) -> dt.datetime | None:
    """The feed's capture time, when it is a plausible one (a placeholder epoch is no capture time)."""
    epoch = article.meta.get("epoch_ms")
    if epoch is None:
        return None
    try:
        value = dt.datetime.fromtimestamp(epoch / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return None
    if value.year < EARLIEST_YEAR or value == EPOCH.replace(tzinfo=UTC) or value - dt.datetime.now(UTC) > FUTURE_SLACK:
        return None
    return value


def date_article(article: Article, zone: dt.tzinfo, override=None, found_signals: Signals | None = None,
                 site: Site = Site()) -> Article:
    """Set `published`, `precision`, `date_source` and `archived` on the article (`found_signals`: its body's
    signals, when the caller has them already; `site`: what its archive says of its posts' dates)."""
    article.archived = archived_time(article)
    if article.archived is None and article.meta.get("epoch_ms") is not None:
        article.warn(f"capture time {article.meta['epoch_ms']!r} (epoch ms) is not a plausible date; ignored")
    found_signals = found_signals or signals(article.body)
    ctx = Context(article, found_signals.text_head, found_signals.stamps, zone, found_signals.lines,
                  found_signals.times, site)
    if override is not None and _apply_override(article, override, ctx):
        return article
    findings = _plausible_findings(article, ctx)
    if not findings:
        _flag_undated(article, ctx)
        return article
    best = _refined(findings[0], findings[1:])
    article.published, article.precision, article.date_source = best.value, best.precision, best.source
    if best.inferred:
        article.warn(f"publication year inferred from the archive time: {best.value.date().isoformat()}")
    if best.source.startswith("archived"):
        article.warn("no publication date in the article; using the feed capture time")
    _check_agreement(article, best, findings[1:])
    return article


def _apply_override(article: Article, override, ctx: Context) -> bool:
    """The configured date, read in the configured zone; a bad or placeholder one is said and ignored."""
    try:
        if isinstance(override, dt.datetime):
            value = override if override.tzinfo else override.replace(tzinfo=ctx.zone)
            precision = "second"
        elif isinstance(override, dt.date):
            value, precision = dt.datetime(override.year, override.month, override.day, tzinfo=ctx.zone), "day"
        else:
            parsed = _parse(override) if isinstance(override, str) else None
            if parsed is None:
                raise ValueError
            value = parsed[0] if parsed[0].tzinfo else parsed[0].replace(tzinfo=ctx.zone)
            precision = parsed[1]
        refusal = _refusal(value, ctx)
    except (ValueError, OverflowError, TypeError):
        article.warn(f"override date {override!r} is not a date; ignored")
        return False
    if refusal:
        article.warn(f"override date {override!r} is {refusal}; ignored")
        return False
    article.published, article.precision, article.date_source = value, precision, "override"
    return True


def _plausible_findings(article: Article, ctx: Context) -> list[DateFinding]:
    """Every rule's finding, in order of trust; placeholders are refused with a warning."""
    findings = []
    for rule in RULES:
        finding = _safe(rule, ctx)
        if finding is None:
            continue
        refusal = _refusal(finding.value, ctx)
        if refusal:
            article.warn(f"date {_shown(finding.value)} from {finding.source} refused: {refusal}")
            continue
        findings.append(finding)
    return findings


def _refined(best: DateFinding, others: list[DateFinding]) -> DateFinding:
    """A bare date made precise by a later full timestamp of the same day (a URL's day by the page's time)."""
    if best.precision != "day":
        return best
    for other in others:
        if other.precision != "day" and not other.inferred and not other.source.startswith("archived"):
            if other.value.astimezone(best.value.tzinfo).date() == best.value.date():
                return DateFinding(other.value, other.precision, f"{best.source}, time from {other.source}")
            break
    return best


def _shown(value: dt.datetime) -> str:
    return value.isoformat() if value.year >= 1000 else str(value)


def _site_rule_pair(first: str, second: str) -> bool:
    """A post's file name date (Jekyll's, Hugo's) against its front matter's: the site says which it shows."""
    rules = {re.split(r"[\s,(]", source, maxsplit=1)[0] for source in (first, second)}
    return bool(rules & set(SITE_FILENAMES)) and any(rule.startswith("front-matter") for rule in rules)


def _check_agreement(article: Article, best: DateFinding, others: list[DateFinding]) -> None:
    """Two publication dates more than two days apart, or a publication after the capture: say so."""
    for other in others:
        if other.source.startswith("archived") or other.inferred:
            continue
        if _site_rule_pair(best.source, other.source):
            continue  # the site's own rule says which of a post's front matter and file name dates it shows
        if abs(other.value - best.value) > dt.timedelta(days=2):
            article.warn(
                f"dates disagree: {best.source} says {best.value.date()}, {other.source} says {other.value.date()}"
            )
            break
    if article.archived is not None and best.value - article.archived > dt.timedelta(days=1):
        article.warn(
            f"published {best.value.date()} ({best.source}) is after the capture time {article.archived.date()}"
        )


def _safe(rule: Rule, ctx: Context):
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
