"""The book's parts besides its articles, as data: a chronology (大事记), the sources, an index of outlets.

Built once per writer from `Book.view()`; the templates (themes/book/templates/{chronology,sources,outlets}.html.j2)
only render it. Both writers get the same rows: the PDF points at an article with `#id` (its page number is the
theme's CSS: `target-counter()`), the EPUB with its document.

- Where a part goes is the theme's (theme.toml `[parts]`: after the contents or after the last article); whether
  it is made, the archive's (anthology.toml `[parts]`); and a part with nothing to say is left out: a chronology
  of one line, an index of one outlet, or of outlets when the contents are already by outlet.
- The chronology is in the book's language, one line per story (`Anthology.stories`: every outlet that reported
  it, at the date of the first report), grouped by day under each year; undated articles are listed apart.
- The sources say, per article, its URL (and in print a QR code of it), outlet, date with where the date came
  from and how precise it is, and when it was archived; and the links of its text, numbered as the printed
  article marks them (`mark_links`).
- The outlet index orders outlets by pinyin (with Latin names among them by their letters), as Chinese indexes
  are ordered, and each outlet's articles in book order.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from compile import cachekey, fragment
from compile.locales import Strings
from compile.model import Article
from compile.text import MONTH_NAMES
from compile.urls import web_url
from compile.writers import qr
from compile.writers.context import Book, display_url, local_date

PRINT, EPUB = "print", "epub"  # what the parts are made for: page numbers and QR codes, or links between files


@dataclass(frozen=True)
class Ref:
    """An article as a part points at it."""

    id: str
    title: str
    outlet: str
    language: str
    href: str  # "#id" in print, "text/id.xhtml" from an EPUB part


@dataclass(frozen=True)
class Row:
    """A line of the chronology: one article, or a story that several outlets reported (its first report leads)."""

    refs: tuple[Ref, ...]

    @property
    def lead(self) -> Ref:
        return self.refs[0]

    @property
    def outlets(self) -> tuple[Ref, ...]:
        """The first article of each outlet, in the story's order."""
        seen: dict[str, Ref] = {}
        for ref in self.refs:
            if ref.outlet:
                seen.setdefault(ref.outlet, ref)
        return tuple(seen.values())


@dataclass(frozen=True)
class Day:
    label: str  # "6月12日", "June 12"
    iso: str  # 2018-06-12, for <time datetime>
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Year:
    label: str  # "2018年"
    days: tuple[Day, ...]


@dataclass(frozen=True)
class Chronology:
    years: tuple[Year, ...]
    undated: tuple[Row, ...]

    @property
    def lines(self) -> int:
        return sum(len(d.rows) for y in self.years for d in y.days) + len(self.undated)


@dataclass(frozen=True)
class Link:
    """A link in an article's text: its number in that article (the printed marker), and where it goes."""

    number: int
    url: str
    shown: str  # the URL for the eye (percent-encoded Chinese decoded)


@dataclass(frozen=True)
class Source:
    """Where an article came from, for the sources."""

    ref: Ref
    id: str  # the entry's anchor
    url: str
    shown_url: str
    published: str  # "published on" the date (and time, as precisely as known), in the edition's words
    basis: str  # where the date came from and how precise it is, in words; "" when undated
    archived: str  # "archived on" the date and time; "" when not known
    file: str  # the source file in the archive
    qr: qr.Code | None  # the QR code of its URL (print); None in the EPUB, or without a URL
    links: tuple[Link, ...]


@dataclass(frozen=True)
class Outlet:
    name: str
    id: str
    refs: tuple[Ref, ...]  # in book order


@dataclass(frozen=True)
class Part:
    name: str  # one of theme.PARTS
    title: str
    id: str  # its anchor in the PDF's document
    file: str  # its document in the EPUB

    @property
    def template(self) -> str:
        return f"{self.name}.html.j2"


@dataclass
class Parts:
    """What the templates are given as `parts`."""

    front: list[Part] = field(default_factory=list)
    back: list[Part] = field(default_factory=list)
    chronology: Chronology = field(default_factory=lambda: Chronology((), ()))
    sources: list[Source] = field(default_factory=list)
    outlets: list[Outlet] = field(default_factory=list)
    links: str = "markers"  # how a link in an article prints: theme.ThemeParts.links
    left_out: dict[str, str] = field(default_factory=dict)  # part -> why it was not made

    @property
    def names(self) -> list[str]:
        return [part.name for part in [*self.front, *self.back]]

    def summary(self) -> dict:
        """For the report: where each part went, and why a placed part was not made."""
        return {"front": [p.name for p in self.front], "back": [p.name for p in self.back],
                "left_out": dict(self.left_out)}


def build(book: Book, medium: str = PRINT, links: Mapping[str, Sequence[Link]] | None = None) -> Parts:
    """The parts of `book` for the PDF (PRINT) or the EPUB: placed as the theme says, switched as the settings say.
    `links`: each article's `body_links` by its id, where they were made already (the writer's workers)."""
    articles = _articles(book)
    href = (lambda id_: f"#{id_}") if medium == PRINT else (lambda id_: f"text/{id_}.xhtml")
    refs = {a.id: _ref(a, href) for a in articles}
    wanted, left_out = _plan(book, articles)
    parts = Parts(links=book.theme.parts.links, left_out=left_out)
    if "chronology" in wanted:
        parts.chronology = chronology(book, articles, refs)
    if "sources" in wanted:
        parts.sources = sources(book, articles, refs, with_qr=medium == PRINT and book.settings.parts.qr,
                                links=links)
    if "outlets" in wanted:
        parts.outlets = outlets(articles, refs, book.strings, book.cache_root)
    for name in wanted:
        if name not in left_out:
            part = Part(name, book.strings(f"part_{name}"), element_id(name), f"{name}.xhtml")
            (parts.front if name in book.theme.parts.front else parts.back).append(part)
    return parts


def element_id(name: str) -> str:
    """The id of a part's element in the book's HTML (its anchor in the PDF)."""
    return f"part.{name}"


def placement(book: Book) -> dict:
    """Where each part goes and why a placed one is left out (`Parts.summary`), without making the parts."""
    wanted, left_out = _plan(book, _articles(book))
    front = [name for name in wanted if name in book.theme.parts.front and name not in left_out]
    back = [name for name in wanted if name not in book.theme.parts.front and name not in left_out]
    return {"front": front, "back": back, "left_out": left_out}


def _articles(book: Book) -> list[Article]:
    return [a for section in book.view().sections for a in section.articles]


def _plan(book: Book, articles: list[Article]) -> tuple[list[str], dict[str, str]]:
    """The parts the theme places and the settings keep, in the theme's order; and those with nothing to say,
    with the reason: counted from the articles, so the report can say it without making the parts."""
    placed = book.theme.parts
    wanted = [name for name in [*placed.front, *placed.back] if getattr(book.settings.parts, name)]
    left_out = {}
    if "chronology" in wanted and len(_stories(articles, book.anthology.stories)) < 2:  # one line per group
        left_out["chronology"] = "fewer than two lines"
    if "sources" in wanted and not articles:
        left_out["sources"] = "no articles"
    if "outlets" in wanted:
        if book.settings.sections == "outlet":
            left_out["outlets"] = "the contents are by outlet already"
        elif len({a.outlet for a in articles}) < 2:  # articles without an outlet are one entry of the index
            left_out["outlets"] = "fewer than two outlets"
    return wanted, left_out


def _ref(article: Article, href: Callable[[str], str]) -> Ref:
    return Ref(article.id, article.title or article.source, article.outlet, article.language, href(article.id))


# ------------------------------------------------------------------------------------------------ chronology

def chronology(book: Book, articles: list[Article], refs: dict[str, Ref]) -> Chronology:
    """Lines by day, days by year, in time order; a story is one line at the date of its first report."""
    zone, strings = book.zone, book.strings
    rows: list[tuple[dt.datetime | None, Row]] = []
    for group in _stories(articles, book.anthology.stories):
        times = [_aware(a.published, zone) for a in group if a.published is not None]
        rows.append((min(times) if times else None, Row(tuple(refs[a.id] for a in group))))
    order = {a.id: index for index, a in enumerate(articles)}
    dated = sorted(((when, row) for when, row in rows if when is not None),
                   key=lambda item: (item[0], order[item[1].lead.id]))
    # Each line on the day its header shows (the date's own offset), days in calendar order: a report at 23:30
    # in Paris is on its Paris day, though it came after one from Shanghai dated the next morning.
    days: dict[dt.date, list[Row]] = {}
    for when, row in dated:
        days.setdefault(local_date(when, zone), []).append(row)
    years: dict[int, list[Day]] = {}
    for d in sorted(days):
        label = strings("day", month=d.month, day=d.day, month_name=MONTH_NAMES[d.month - 1])
        years.setdefault(d.year, []).append(Day(label, d.isoformat(), tuple(days[d])))
    return Chronology(years=tuple(Year(strings("year", year=y), tuple(ds)) for y, ds in years.items()),
                      undated=tuple(row for when, row in rows if when is None))


def _stories(articles: list[Article], stories: Iterable) -> list[list[Article]]:
    """The book's articles as chronology lines: each story's articles in this book together (its first report
    first), every other article alone; in book order of each line's first article."""
    present = {a.id for a in articles}
    story_of: dict[str, list[Article]] = {}
    for story in stories:
        members = [a for a in story.articles if a.id in present]  # a volume holds part of a story
        if len(members) > 1:
            for article in members:
                story_of.setdefault(article.id, members)
    groups: list[list[Article]] = []
    seen: set[str] = set()
    for article in articles:
        if article.id not in seen:
            group = story_of.get(article.id, [article])
            seen.update(a.id for a in group)
            groups.append(group)
    return groups


def _aware(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """Dates are read with their offset; a value without one is in the book's zone (as local_date shows it)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


# ------------------------------------------------------------------------------------------------ sources

def sources(book: Book, articles: list[Article], refs: dict[str, Ref], with_qr: bool,
            links: Mapping[str, Sequence[Link]] | None = None) -> list[Source]:
    """Every article's entry, in book order; the archiving time in the book's zone (it is the archive's clock,
    not the outlet's)."""
    strings, zone = book.strings, book.zone
    codes = qr.codes((a.url for a in articles if a.url), book.workers, book.cache_root) if with_qr else {}
    return [Source(
        ref=refs[a.id],
        id=f"source.{a.id}",
        url=a.url,
        shown_url=display_url(a.url),
        published=published_text(a, zone, strings),
        basis=date_basis(a, strings),
        archived=strings("archived_on", date=moment(_aware(a.archived, zone).astimezone(zone), strings, "minute"))
        if a.archived else "",
        file=a.source,
        qr=codes.get(a.url),
        links=tuple(links[a.id] if links is not None and a.id in links else body_links(a.body)),
    ) for a in articles]


def published_text(article: Article, zone: dt.tzinfo, strings: Strings) -> str:
    """The publication date as precisely as it is known, in its own offset (as the article's header shows its
    day): a month, a day, or a day and the time with its offset."""
    if article.published is None:
        return strings("undated")
    when = _aware(article.published, zone)
    if article.precision == "month":
        return strings("published_on", date=strings.month(when.year, when.month))
    return strings("published_on", date=moment(when, strings, article.precision))


def moment(when: dt.datetime, strings: Strings, precision: str) -> str:
    """2021年5月22日 17:24 UTC+2: the day in the edition's words, the time when known, and its offset."""
    day = strings.date(local_date(when, when.tzinfo or dt.UTC))
    if precision not in ("minute", "second"):
        return day
    clock = when.strftime("%H:%M:%S" if precision == "second" else "%H:%M")
    return strings("datetime", date=day, time=f"{clock} {_offset(when)}")


def _offset(when: dt.datetime) -> str:
    delta = when.utcoffset() or dt.timedelta(0)
    minutes = int(delta.total_seconds()) // 60
    if minutes == 0:
        return "UTC"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{'+' if minutes > 0 else '-'}{hours}" + (f":{rest:02d}" if rest else "")


def date_basis(article: Article, strings: Strings) -> str:
    """Where the date came from, and how precise it is; "" for an undated article (its date says so)."""
    if article.published is None:
        return ""
    origin = strings.date_origin(article.date_source)
    key = f"precision_{article.precision}"
    if key in strings.messages:
        return strings("date_basis_precise", origin=origin, precision=strings(key))
    return strings("date_basis", origin=origin)


# ------------------------------------------------------------------------------------------------ links

def body_links(body: str) -> list[Link]:
    """The web links of an article's text, numbered by first appearance (a URL linked twice keeps its number);
    links whose text is their URL already are left out: the page shows it."""
    if "<a" not in body:
        return []
    return list(_numbered(list(fragment.parse(body).iter("a"))).values())


def _numbered(anchors: list) -> dict[str, Link]:
    found: dict[str, Link] = {}
    for anchor in anchors:
        url = _target(anchor)
        if url and url not in found:
            found[url] = Link(len(found) + 1, url, display_url(url))
    return found


def _target(anchor) -> str:
    """The link's URL when it is a web link whose text does not already spell it out, else ""."""
    url = web_url(anchor.get("href") or "")
    return "" if not url or _spelled_out(fragment.get_text(anchor), url) else url


def _spelled_out(text: str, url: str) -> bool:
    def bare(value: str) -> str:
        return re.sub(r"^[a-z]+://(www\.)?|/$", "", re.sub(r"\s+", "", value).casefold())

    return bare(text) in (bare(url), bare(display_url(url)))


def mark_links(body: str, style: str) -> str:
    """An article's text for print, where a link cannot be followed: each link keeps its text (and stays a live
    link in the PDF) and gets its number in the sources as a superscript ("markers"), or its URL as a footnote
    ("footnotes", set by the theme's `float: footnote`)."""
    if "<a" not in body:
        return body
    root = fragment.parse(body)
    anchors = list(root.iter("a"))
    links = _numbered(anchors)
    if not links:
        return body
    for anchor in anchors:
        link = links.get(_target(anchor))
        if link is None:
            continue
        if style == "footnotes":
            note = fragment.new("span", "link-note", link.shown)
        else:
            note = fragment.new("sup", "link-ref", str(link.number))
        fragment.insert_after(anchor, note)
    return fragment.inner_html(root)


# ------------------------------------------------------------------------------------------------ outlets

def outlets(articles: list[Article], refs: dict[str, Ref], strings: Strings,
            cache_root: Path | None = None) -> list[Outlet]:
    """Each outlet with its articles in book order, outlets in pinyin order; articles without one last."""
    by_outlet: dict[str, list[Ref]] = {}
    for article in articles:
        by_outlet.setdefault(article.outlet, []).append(refs[article.id])
    named = collated([name for name in by_outlet if name], cache_root)
    entries = [Outlet(name, f"outlet.{index}", tuple(by_outlet[name])) for index, name in enumerate(named, 1)]
    if "" in by_outlet:
        entries.append(Outlet(strings("other"), "outlet.0", tuple(by_outlet[""])))
    return entries


def collated(names: list[str], cache_root: Path | None = None) -> list[str]:
    """`names` sorted by collation_key(); the order is kept in the cache under `cache_root`, if given, since
    loading pypinyin's dictionaries costs a rebuild 0.3-0.5 s."""
    kept = cachekey.Entries(cache_root / "collation", "collation") if cache_root else None
    key = cachekey.digest(cachekey.code_version(), cachekey.installed("pypinyin"), *sorted(names))
    try:
        order = json.loads(payload) if kept and (payload := kept.get(key)) is not None else None
    except ValueError:
        order = None
    if isinstance(order, list) and all(isinstance(n, str) for n in order) and sorted(order) == sorted(names):
        return order  # sealed, and the same names
    order = sorted(names, key=collation_key)
    if kept:
        kept.put(key, json.dumps(order, ensure_ascii=False).encode("utf-8"))
    return order


def collation_key(name: str) -> tuple[str, str]:
    """Pinyin with tones (德国之声 -> de2 guo2 zhi1 sheng1), Latin letters as they are (BBC中文网 -> bbc zhong1 ...),
    then the name itself: Chinese names in the order of a Chinese index, Simplified and Traditional alike."""
    from pypinyin import Style, lazy_pinyin  # noqa: PLC0415 - its dictionaries take 0.2 s to load: only for an index

    return " ".join(lazy_pinyin(name, style=Style.TONE3)).casefold(), name
