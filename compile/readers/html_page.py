"""Plain HTML pages (saved web pages): title, meta tags, JSON-LD and the article's main content."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bs4 import BeautifulSoup

from compile.model import Article

PAGE = re.compile(r"\A\s*(<!doctype html|<html[\s>]|<head[\s>]|<\?xml[^>]*>\s*<html)", re.I)
# A bare fragment, as feeds and scrapers save an item's content.
FRAGMENT = re.compile(r"\A\s*<(div|p|article|section|main|h[1-6]|figure|img|table|ul|ol|blockquote|span)[\s>/]", re.I)
META_KEYS = (
    "article:published_time", "article:modified_time", "og:title", "og:url", "og:site_name",
    "author", "article:author", "date", "dc.date", "pubdate", "publishdate", "description",
)


def can_read(text: str) -> bool:
    return PAGE.match(text) is not None or FRAGMENT.match(text) is not None


def read(path: Path, text: str) -> Article:
    soup = BeautifulSoup(text, "lxml")
    meta = _meta_tags(soup)
    json_ld = _json_ld(soup)
    html_lang = (soup.html.get("lang") if soup.html else "") or ""
    page_title = soup.title.get_text(" ", strip=True) if soup.title else ""
    title = meta.get("og:title") or _first(json_ld, "headline") or page_title
    main = soup.find("article") or soup.find("main") or soup.body or soup
    for tag in main.find_all(["script", "style", "noscript", "nav", "header", "footer", "aside", "form"]):
        tag.decompose()
    h1 = main.find("h1")
    if h1 is not None:
        title = title or h1.get_text(" ", strip=True)
        h1.decompose()
    times = [t.get("datetime") for t in main.find_all("time") if t.get("datetime")]
    canonical = soup.find("link", rel="canonical")
    url = meta.get("og:url") or (canonical.get("href") if canonical else "") or _first(json_ld, "url")
    publisher = _first(json_ld, "publisher")
    outlet = meta.get("og:site_name") or (publisher.get("name", "") if isinstance(publisher, dict) else "")
    author = meta.get("author") or meta.get("article:author") or _name(_first(json_ld, "author"))
    return Article(
        id="",
        source=str(path),
        title=title.strip(),
        url=url or "",
        outlet=outlet or "",
        author=author or "",
        language=html_lang,
        body=main.decode_contents() if hasattr(main, "contents") else str(main),
        meta={"html_meta": meta, "json_ld": json_ld, "time_datetimes": times, "body_format": "html"},
    )


def _meta_tags(soup: BeautifulSoup) -> dict[str, str]:
    found = {}
    for tag in soup.find_all("meta"):
        key = (tag.get("property") or tag.get("name") or tag.get("itemprop") or "").strip().lower()
        if key in META_KEYS and tag.get("content") and key not in found:
            found[key] = tag["content"].strip()
    return found


def _json_ld(soup: BeautifulSoup) -> list[dict]:
    items = []
    for script in soup.find_all("script", type="application/ld+json"):
        try:
            data = json.loads(script.string or "")
        except (json.JSONDecodeError, TypeError):
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, dict):
                items.append(item)
                stack.extend(item.get("@graph", []) if isinstance(item.get("@graph"), list) else [])
            elif isinstance(item, list):
                stack.extend(item)
    return items


def _first(items: list[dict], key: str):
    for item in items:
        if item.get(key):
            return item[key]
    return ""


def _name(value) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, dict):
        return str(value.get("name", ""))
    return str(value or "")
