"""Stories across outlets: articles of different outlets reporting one event (a wire story and the copies and
rewrites other outlets ran) are grouped, so that the book keeps each and says "also reported by" under the first.

Rewrites share few exact 5-grams (duplicates, compile/transforms/order.py, need 90 % of them), but much of their
wording survives in short runs: two articles are of one story when at least `threshold` of the shorter text's
3-grams (Chinese characters; a Latin word counts as one unit) are in the other, and they were published at most
`days` apart. Traditional characters are compared as Simplified, so a Taiwan or Hong Kong rewrite of a mainland
wire story is found too. Undated articles and articles without an outlet never join: "the same day" and
"another outlet" cannot be told.

Only pairs within the date window are looked at (a sweep over the articles in date order), and the bottom-k
sketch of each text (order.py's) estimates their overlap before it is counted exactly. Pairs join strongest
first; a story has one article per outlet and spans at most `days`, so that a running story is not chained
into one. Every decision, and the pairs that came near the threshold without joining, go to the report.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import re
import zlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from compile.model import Article, Story
from compile.transforms import order

GRAM = 3
SKETCH = 128  # larger than order.SKETCH: stories are looser than duplicates, the estimate must be finer
NEAR = 0.5  # of the threshold: a pair at least this similar that did not join is reported as a near miss
NEAR_MAX = 50  # near misses reported, the closest first
WIRE_COPY = order.NEAR_DUPLICATE  # a pair this similar is a copy, not a rewrite: said so in the report
LATIN_WORD = re.compile(r"[0-9a-z\u00c0-\u024f]+")
WORDS = 0xF0000  # Supplementary Private Use Area-A: a Latin word's unit
NOT_A_UNIT = re.compile(r"[^\w\U000F0000-\U000FFFFD]|_")
TAG = re.compile(r"<[^>]+>")


@dataclass
class _Text:
    """One article as it is compared: its 3-grams and their sketch."""

    index: int
    article: Article
    published: dt.datetime
    grams: set[int]
    sketch: list[int]


@dataclass
class _Pair:
    a: int
    b: int
    similarity: float
    reason: str = ""


@dataclass
class Grouping:
    """The stories found, and the pairs that came near without joining (for the report)."""

    stories: list[Story] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)


def group(articles: list[Article], threshold: float, days: float, packed: Mapping[str, bytes] | None = None
          ) -> Grouping:
    """Stories of two or more articles from `articles` (in the book's order), and the near misses. `packed`:
    `packed_grams` of articles by source, made where they were read (the rest are made here)."""
    texts = [t for t in (_text(i, a, packed or {}) for i, a in enumerate(articles)) if t is not None]
    window = dt.timedelta(days=days)
    pairs = [pair for pair in _pairs(texts, window, prefilter(threshold)) if pair.similarity >= threshold * NEAR]
    pairs.sort(key=lambda p: (-p.similarity, p.a, p.b))
    stories, rejected = _join(articles, pairs, threshold, window)
    return Grouping(stories, [_rejected_entry(articles, p) for p in rejected[:NEAR_MAX]])


def within(stories: list[Story], articles: list[Article]) -> list[Story]:
    """The stories as one volume holds them: its own articles only, a story of fewer than two dropped."""
    present = {id(a) for a in articles}
    kept = []
    for story in stories:
        members = [a for a in story.articles if id(a) in present]
        if len(members) > 1:
            sources = {a.source for a in members}
            decisions = [d for d in story.decisions if d["source"] in sources]
            kept.append(Story(key=members[0].id, articles=members, decisions=decisions))
    return kept


def prefilter(threshold: float) -> float:
    """The sketch's estimate below which a pair is not counted exactly: a pair at the threshold falls below it
    less than once in three million (five standard deviations of the estimate from k = SKETCH samples);
    near misses (NEAR) are mostly counted too."""
    spread = (threshold * (1 - threshold) / SKETCH) ** 0.5
    return max(0.0, min(threshold * NEAR, threshold - 5 * spread))


def similarity(a: Article, b: Article) -> float:
    """The share of the shorter text's 3-grams that the other holds (0 when either is too short to tell)."""
    return order.containment(_grams(a), _grams(b))


# ---------------------------------------------------------------- comparing


def _text(index: int, article: Article, packed: Mapping[str, bytes]) -> _Text | None:
    if article.published is None or not article.outlet:
        return None
    grams, sketch = order.unpack(packed.get(article.source) or packed_grams(article), SKETCH)
    return _Text(index, article, article.published, grams, sketch) if grams else None


def packed_grams(article: Article) -> bytes:
    """The article's 3-grams as stories compare them, packed (order.pack); none for a short text."""
    return order.pack(_grams(article))


def _grams(article: Article) -> set[int]:
    """None for a text too short to tell a rewrite from a coincidence (order.MIN_TEXT letters, as duplicates)."""
    if len(order.plain_text(article)) < order.MIN_TEXT:
        return set()
    return order.shingles(_units(article.body), GRAM, minimum=0)


def _units(body: str) -> str:
    """The body's text as comparable units, one character each: Traditional folded to Simplified, Latin case
    folded, each Latin word (or number) one character of a Private Use plane, so that 3-grams of English are
    word trigrams and not letter ones (which every English text shares); no spaces or punctuation."""
    text = _simplified(html.unescape(TAG.sub(" ", body))).lower()
    return NOT_A_UNIT.sub("", LATIN_WORD.sub(lambda m: chr(WORDS + zlib.crc32(m[0].encode()) % 0xFFFE), text))


def _simplified(text: str) -> str:
    return _converter().convert(text)


@functools.cache
def _converter():
    """OpenCC's character table, Traditional to Simplified (character by character: phrase tables would
    change words, and only the characters are compared)."""
    import opencc  # noqa: PLC0415 - loaded once, and only when there are texts to compare

    return opencc.OpenCC("t2s")


def _pairs(texts: list[_Text], window: dt.timedelta, prefilter: float):
    """Pairs of two outlets published within `window`, with their similarity where the sketch says it may
    reach `prefilter`: a sweep over the texts in date order, never every pair of the book."""
    timeline = sorted(texts, key=lambda t: (t.published, t.index))
    for x, first in enumerate(timeline):
        for y in range(x + 1, len(timeline)):
            second = timeline[y]
            if second.published - first.published > window:
                break
            if first.article.outlet == second.article.outlet:
                continue
            small, large = (first, second) if len(first.grams) <= len(second.grams) else (second, first)
            if order.estimated_containment(small.sketch, large.grams) < prefilter:
                continue
            shared = order.containment(small.grams, large.grams)
            yield _Pair(min(first.index, second.index), max(first.index, second.index), shared)


# ---------------------------------------------------------------- grouping


def _join(articles: list[Article], pairs: list[_Pair], threshold: float,
          window: dt.timedelta) -> tuple[list[Story], list[_Pair]]:
    """Union the pairs strongest first, under the rules of a story; the pairs that did not join, with why."""
    groups: dict[int, list[int]] = {}  # a story's first index -> its members' indexes
    owner: dict[int, int] = {}
    links: list[_Pair] = []
    rejected = []
    for pair in pairs:
        ga, gb = (groups.get(owner.get(i, i), [i]) for i in (pair.a, pair.b))
        if ga is gb:
            continue
        pair.reason = _refusal(articles, ga, gb, pair.similarity, threshold, window)
        if pair.reason:
            rejected.append(pair)
            continue
        merged = sorted(ga + gb)
        for member in merged:
            owner[member] = merged[0]
        for old in (ga[0], gb[0]):
            groups.pop(old, None)
        groups[merged[0]] = merged
        links.append(pair)
    stories = [_story(articles, members, links) for members in groups.values()]
    stories.sort(key=lambda s: order.sort_key(s.articles[0]))
    return stories, rejected


def _refusal(articles: list[Article], ga: list[int], gb: list[int], similarity: float, threshold: float,
             window: dt.timedelta) -> str:
    """Why two groups (an article is a group of one) may not join; "" when they may."""
    if similarity < threshold:
        return f"below the threshold ({threshold:g})"
    shared = {articles[i].outlet for i in ga} & {articles[i].outlet for i in gb}
    if shared:
        return f"{sorted(shared)[0]} is in the story already (one article per outlet)"
    dates = [day for i in ga + gb if (day := articles[i].published) is not None]
    if max(dates) - min(dates) > window:
        return f"the story would span more than {_days(window)}"
    return ""


def _story(articles: list[Article], members: list[int], links: list[_Pair]) -> Story:
    """The story in date order, the earliest leading; each later article's decision is the link that joined it,
    walked from the lead."""
    ordered = sorted(members, key=lambda i: order.sort_key(articles[i]))
    inside = set(members)
    adjacent: dict[int, list[_Pair]] = {}
    for link in links:
        if link.a in inside:
            adjacent.setdefault(link.a, []).append(link)
            adjacent.setdefault(link.b, []).append(link)
    joined: dict[int, tuple[int, _Pair]] = {}
    queue = deque([ordered[0]])
    while queue:
        current = queue.popleft()
        for link in adjacent.get(current, []):
            other = link.b if link.a == current else link.a
            if other != ordered[0] and other not in joined:
                joined[other] = (current, link)
                queue.append(other)
    decisions = [_decision(articles, i, *joined[i]) for i in ordered[1:]]
    return Story(key=articles[ordered[0]].id, articles=[articles[i] for i in ordered], decisions=decisions)


def _decision(articles: list[Article], index: int, matched: int, link: _Pair) -> dict:
    article, other = articles[index], articles[matched]
    assert article.published is not None and other.published is not None  # only dated articles are compared
    hours = abs(article.published - other.published).total_seconds() / 3600
    kind = "copy of" if link.similarity >= WIRE_COPY else "rewrite of"
    return {"source": article.source, "outlet": article.outlet, "matched": other.source,
            "similarity": round(link.similarity, 3), "hours_apart": round(hours, 1),
            "reason": f"{kind} {other.source} ({other.outlet}): {link.similarity:.0%} of the shorter text's "
                      f"{GRAM}-grams shared, published {hours:.1f} h apart"}


def _rejected_entry(articles: list[Article], pair: _Pair) -> dict:
    a, b = articles[pair.a], articles[pair.b]
    return {"sources": [a.source, b.source], "outlets": [a.outlet, b.outlet],
            "similarity": round(pair.similarity, 3), "reason": pair.reason}


def _days(window: dt.timedelta) -> str:
    days = window.total_seconds() / 86400
    return f"{days:g} day" + ("" if days == 1 else "s")
