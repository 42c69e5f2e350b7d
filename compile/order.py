"""Chronological order, duplicate articles, and sections."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re

from compile.model import Anthology, Article, Section

FAR_FUTURE = dt.datetime.max.replace(tzinfo=dt.UTC)


def sort_key(article: Article) -> tuple:
    """By instant; undated articles last; ties by title, then id."""
    return (article.published is None, article.published or FAR_FUTURE, article.title, article.id)


def chronological(articles: list[Article]) -> list[Article]:
    return sorted(articles, key=sort_key)


def drop_duplicates(articles: list[Article]) -> tuple[list[Article], list[dict]]:
    """The same article twice (same URL or same text) is kept once: the most complete copy.

    Articles are grouped transitively (A shares a URL with B, B shares its text with C: one group);
    an article with no key (no URL, little text) is its own group and always kept.
    """
    groups: list[list[Article]] = []
    index: dict[str, int] = {}
    for article in articles:
        keys = [k for k in (_url_key(article.url), _text_key(article)) if k]
        hits = sorted({index[k] for k in keys if k in index})
        if not hits:
            group = len(groups)
            groups.append([article])
        else:
            group = hits[0]
            groups[group].append(article)
            for other in hits[1:]:
                groups[group].extend(groups[other])
                groups[other] = []
                for key, value in index.items():
                    if value == other:
                        index[key] = group
        for key in keys:
            index[key] = group
    keep, decisions = set(), []
    for group in groups:
        if not group:
            continue
        best = max(group, key=_completeness)
        keep.add(id(best))
        for other in group:
            if other is not best:
                decisions.append({"kept": best.source, "dropped": other.source, "reason": "same article"})
                best.warn(f"duplicate of {other.source}, which was dropped")
    return [a for a in articles if id(a) in keep], decisions


def _url_key(url: str) -> str:
    url = re.sub(r"^https?://(www\.)?", "", url.strip().lower()).rstrip("/")
    return f"url:{url}" if url else ""


def _text_key(article: Article) -> str:
    text = re.sub(r"<[^>]+>|\s+", "", article.body)
    return f"text:{hashlib.sha1(text[:2000].encode()).hexdigest()}" if len(text) > 200 else ""


def _completeness(article: Article) -> tuple:
    return (len(re.sub(r"<[^>]+>", "", article.body)), len(article.images), article.dated)


def sections(articles: list[Article], by: str, zone: dt.tzinfo) -> list[Section]:
    if by == "none":
        return [Section(title="", key="all", articles=list(articles))]
    groups: dict[str, Section] = {}
    for article in articles:
        key, title = _section_of(article, by, zone)
        groups.setdefault(key, Section(title=title, key=key, articles=[])).articles.append(article)
    return list(groups.values())


def _section_of(article: Article, by: str, zone: dt.tzinfo) -> tuple[str, str]:
    if by == "outlet":
        name = article.outlet or "其他"
        return f"outlet-{hashlib.sha1(name.encode()).hexdigest()[:8]}", name
    if article.published is None:
        return "undated", "日期不详"
    local = article.published.astimezone(zone)
    if by == "month":
        return f"m{local:%Y-%m}", f"{local.year}年{local.month}月"
    return f"y{local.year}", f"{local.year}年"


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
