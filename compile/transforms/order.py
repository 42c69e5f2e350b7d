"""Chronological order, duplicate articles, and sections."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import html
import itertools
import re
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Mapping
from urllib.parse import unquote, urlsplit

from compile.model import Anthology, Article, Section

FAR_FUTURE = dt.datetime.max.replace(tzinfo=dt.UTC)


def sort_key(article: Article) -> tuple:
    """By instant; undated articles last; ties by title, then id, each in natural order (issue 9 before
    issue 10: a numbered series without dates reads in its numbers' order)."""
    return (article.published is None, article.published or FAR_FUTURE, natural(article.title),
            natural(article.id))


_DIGITS = re.compile(r"([0-9]+)")


def natural(text: str) -> tuple:
    """`text` with its runs of digits compared as numbers (split puts them at odd places), by length then
    digits, leading zeros aside: no int() of a hostile title's thousand digits."""
    return tuple((len(part.lstrip("0")), part.lstrip("0")) if odd else part
                 for odd, part in zip(itertools.cycle((False, True)), _DIGITS.split(text)))


def chronological(articles: list[Article]) -> list[Article]:
    return sorted(articles, key=sort_key)


def drop_duplicates(articles: list[Article], packed: Mapping[str, bytes] | None = None, spread: Spread | None = None
                    ) -> tuple[list[Article], list[dict]]:
    """The same article twice is kept once, the most complete copy; every decision is returned.

    Same article: the same URL (scheme, `www.`, trailing slash, fragment and tracking parameters
    ignored), or near-identical text under another name: at least 90% of the shorter text's
    character 5-grams are in the longer one. Candidates are found through a bottom-k sketch of each
    text's 5-grams, so thousands of articles are not compared pair by pair.

    Near-identical texts of two different outlets are both kept: a wire copy that another outlet ran is
    that outlet's report, and compile/transforms/stories.py groups them as one story. Within one outlet
    (or where either outlet is unknown) the copy is the same article twice.

    `packed`: `packed_grams` of articles by source, made where they were read (the rest are made here).
    `spread`: a map that runs the comparisons side by side (the build's forked workers, which inherit the
    grams); without it they run here.
    """
    n = len(articles)
    parent = list(range(n))
    reasons: dict[tuple[int, int], str] = {}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int, reason: str) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[rj] = ri
            reasons[(min(i, j), max(i, j))] = reason

    by_url: dict[str, int] = {}
    for i, article in enumerate(articles):
        key = url_key(article.url)
        if key:
            if key in by_url:
                union(by_url[key], i, "same URL")
            else:
                by_url.setdefault(key, i)
    unpacked = [unpack(packed[a.source] if packed and a.source in packed else packed_grams(a)) for a in articles]
    grams, sketches = [g for g, _ in unpacked], [k for _, k in unpacked]
    for i, j, shared in _near_duplicates(articles, grams, sketches, spread):
        if find(i) != find(j):
            union(i, j, f"near-identical text ({shared:.0%} shared)")
    clusters: dict[int, list[int]] = {}
    for i in range(n):
        clusters.setdefault(find(i), []).append(i)
    dropped: set[int] = set()
    decisions = []
    for members in clusters.values():
        if len(members) == 1:
            continue
        best = max(members, key=lambda i: (_completeness(articles[i]), -i))
        for i in members:
            if i == best:
                continue
            reason = next((r for (a, b), r in reasons.items() if i in (a, b)), "same article")
            dropped.add(i)
            decisions.append({"kept": articles[best].source, "dropped": articles[i].source, "reason": reason})
            articles[best].warn(f"duplicate of {articles[i].source} ({reason}), which was dropped")
    return [a for i, a in enumerate(articles) if i not in dropped], decisions


NEAR_DUPLICATE = 0.9
MIN_TEXT = 200  # shorter texts are not compared: too little to tell a copy from a coincidence
SKETCH = 48
TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|spm|from|share|ref|src)$", re.I)


def url_key(url: str) -> str:
    """A URL reduced to what names the page."""
    url = (url or "").strip()
    if not re.match(r"https?://", url, re.I):
        return ""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().removeprefix("www.")
    except ValueError:
        return ""
    path = re.sub(r"/{2,}", "/", unquote(parts.path)).rstrip("/")
    query = "&".join(sorted(q for q in parts.query.split("&") if q and not TRACKING.match(q.split("=")[0])))
    return f"{host}{path}" + (f"?{query}" if query else "")


def other_outlets(a: Article, b: Article) -> bool:
    """Two articles of two named outlets, not the same one."""
    return bool(a.outlet and b.outlet and a.outlet != b.outlet)


def plain_text(article: Article) -> str:
    """The body's letters and digits only: what texts are compared by."""
    text = re.sub(r"<[^>]+>", "", article.body)
    return re.sub(r"[\W_]+", "", html.unescape(text))


def shingles(text: str, size: int = 5, minimum: int = MIN_TEXT) -> set[int]:
    """The text's character `size`-grams, hashed (crc32: stable across runs, so are sketches and decisions);
    none for a text shorter than `minimum`."""
    if len(text) < max(minimum, size):
        return set()
    grams = {text[k:k + size] for k in range(len(text) - size + 1)}
    return set(map(zlib.crc32, map(str.encode, grams)))  # each distinct gram once, hashed in C


def packed_grams(article: Article) -> bytes:
    """The article's `shingles`, as duplicates compare them, packed (`pack`)."""
    return pack(shingles(plain_text(article)))


def pack(grams: set[int]) -> bytes:
    """Hashed grams sorted and packed (4 bytes each: crc32): the few bytes a worker hands back for a text."""
    return array("I", sorted(grams)).tobytes()


def unpack(packed: bytes, size: int = SKETCH) -> tuple[set[int], list[int]]:
    """The grams, and their bottom-k sketch (the `size` smallest: a uniform sample of them)."""
    values = array("I")
    values.frombytes(packed)
    return set(values), values[:size].tolist()


# `spread(work, items)` is `[work(item) for item in items]`, done side by side (compile/processes.forked_map).
Spread = Callable[[Callable[[range], list], list[range]], list[list]]
RUNS = 8  # runs of texts compared side by side: a few per worker, so none waits for a long one


def _near_duplicates(articles: list[Article], grams: list[set[int]], sketches: list[list[int]],
                     spread: Spread | None) -> list[tuple[int, int, float]]:
    """(i, j, shared) for every pair of texts near-identical enough to be one article, in pair order; compared
    in runs of `i`, side by side when `spread` is given (a 1,000-article benchmark whose texts share passages
    has 166,000 candidate pairs)."""
    index: dict[int, list[int]] = {}
    for i, sketch in enumerate(sketches):
        for value in sketch:
            index.setdefault(value, []).append(i)

    def compare(run: range) -> list[tuple[int, int, float]]:
        found = []
        for i, j in _candidate_pairs(sketches, index, run):
            if other_outlets(articles[i], articles[j]) or not _may_contain(grams, sketches, i, j):
                continue
            shared = containment(grams[i], grams[j])
            if shared >= NEAR_DUPLICATE:
                found.append((i, j, shared))
        return found

    n = len(sketches)
    if spread is None:
        return compare(range(n))
    step = max(1, -(-n // RUNS))
    return [found for run in spread(compare, [range(s, min(n, s + step)) for s in range(0, n, step)])
            for found in run]


def _candidate_pairs(sketches: list[list[int]], index: dict[int, list[int]], run: range) -> list[tuple[int, int]]:
    """Pairs (i in `run`, j > i) that share part of their bottom-k sketches (near-duplicates always do), in
    order. Each text's partners are counted by a Counter over the index's lists, in C: texts that share
    passages make many."""
    pairs: list[tuple[int, int]] = []
    for i in run:
        shared: Counter[int] = Counter()
        for value in sketches[i]:
            members = index[value]
            if 1 < len(members) <= 200:  # a boilerplate 5-gram shared by everything says nothing
                shared.update(members)
        pairs.extend(sorted((i, j) for j, count in shared.items() if j > i and count >= 4))
    return pairs


SKETCH_CONTAINED = 0.5  # a near-duplicate (>= 90 %) falls below this ~3 times in 10^13 (binomial, k = 48)


def _may_contain(grams: list[set[int]], sketches: list[list[int]], i: int, j: int) -> bool:
    """Estimate, from the smaller text's sketch (a uniform sample of its 5-grams), how much of it the larger
    holds: exact containment is computed only where it may reach NEAR_DUPLICATE. A corpus of texts that
    share passages has many candidate pairs (166,000 of 500,000 in a 1,000-article benchmark)."""
    small, large = (i, j) if len(grams[i]) <= len(grams[j]) else (j, i)
    return bool(sketches[small]) and estimated_containment(sketches[small], grams[large]) >= SKETCH_CONTAINED


def estimated_containment(sketch: list[int], large: set[int]) -> float:
    """The share of a text's shingles that `large` holds, estimated from the text's bottom-k sketch (a uniform
    sample of them). The sketch's values are distinct (the smallest of a set): the intersection counts them, in C."""
    return len(large.intersection(sketch)) / len(sketch) if sketch else 0.0


def containment(a: set[int], b: set[int]) -> float:
    """The share of the smaller set that the other holds (0 for an empty one)."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return len(small & large) / len(small) if small else 0.0


def _completeness(article: Article) -> tuple:
    return (len(plain_text(article)), len(article.images), article.dated, len(article.url) > 0)


def sections(articles: list[Article], by: str, zone: dt.tzinfo) -> list[Section]:
    """Articles grouped by year, month or outlet, in order. A section's `key` says what it is (`y2021`,
    `m2021-05`, `undated`, `outlet-<hash>`, `outlet-other`, `all`); its `title` is an outlet's name (content:
    converted with the articles), or "" where the writers name it from the key in the edition's language
    (compile/writers/context.section_title): ordering knows no language."""
    if by == "none":
        return [Section(title="", key="all", articles=list(articles))]
    groups: dict[str, Section] = {}
    for article in articles:
        key, title = _section_of(article, by, zone)
        groups.setdefault(key, Section(title=title, key=key, articles=[])).articles.append(article)
    return list(groups.values())


def _section_of(article: Article, by: str, zone: dt.tzinfo) -> tuple[str, str]:
    if by == "outlet":
        if not article.outlet:
            return "outlet-other", ""
        return f"outlet-{hashlib.sha1(article.outlet.encode()).hexdigest()[:8]}", article.outlet
    if article.published is None:
        return "undated", ""
    local = article.published.astimezone(zone)
    if by == "month":
        return f"m{local.year:04d}-{local.month:02d}", ""
    return f"y{local.year}", ""


# A rough page model for `max_pages` volumes, before anything is rendered: characters per page of a
# typical A5 CJK text block, plus an opening page per article. Volumes are cut on article boundaries.
CHARS_PER_PAGE = 750


def estimated_pages(article: Article) -> int:
    characters = len(re.sub(r"<[^>]+>|\s+", "", article.body))
    return 1 + characters // CHARS_PER_PAGE + len(article.images) // 2


def volumes(anthology: Anthology, settings, zone: dt.tzinfo, by_section: str) -> list[Anthology]:
    """Split the anthology into volumes (by year, then by size); one volume when nothing asks for more."""
    groups: list[list[Article]] = [[]]
    for article in anthology.articles:
        current = groups[-1]
        new_year = settings.by == "year" and current and _year(current[-1], zone) != _year(article, zone)
        too_many = settings.max_articles and len(current) >= settings.max_articles
        too_long = settings.max_pages and current and (
            sum(map(estimated_pages, current)) + estimated_pages(article) > settings.max_pages)
        if new_year or too_many or too_long:
            groups.append([])
        groups[-1].append(article)
    if len(groups) == 1:
        return [anthology]
    parts = []
    for number, articles in enumerate(groups, 1):
        part = dataclasses.replace(anthology, articles=articles, warnings=[], volume=number, volume_count=len(groups))
        part.sections = sections(articles, by_section, zone)
        parts.append(part)
    return parts


def _year(article: Article, zone: dt.tzinfo) -> int | None:
    return article.published.astimezone(zone).year if article.published else None
