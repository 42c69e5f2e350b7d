"""HTML pages and fragments: title, meta tags, JSON-LD and the article's main content.

A full saved page (`PAGE`) goes through the main-content extractor (compile/readers/extract.py); its title is the
article's own headline, without the site's name; its standfirst and byline are kept. A bare fragment, as
feeds and scrapers save an item's content (`FRAGMENT`), is the article already and is kept as it is.

What the page says of itself (meta tags, JSON-LD, title, headline, byline, standfirst) is read from lxml's tree,
which is built in C: BeautifulSoup built the same tree element by element in Python, ~35 ms of a page's ~110.
BeautifulSoup still writes the HTML of the plain reading (a fragment's body; a page's when the extractor fails),
as before, and the text is taken as its get_text() takes it (`_strings`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import lxml.html
from bs4 import BeautifulSoup, Tag
from lxml import etree

from compile import walk
from compile.model import Article
from compile.readers import extract
from compile.readers.extract import text_key as _key  # one comparison of texts for the reader and the extractor

# A full page, possibly after comments (`<!--?xml …?-->` as browsers save XHTML) and an XML declaration.
PAGE = re.compile(r"\A\s*(<!--.*?-->\s*)*(<\?xml[^>]*>\s*)?(<!doctype html|<html[\s>]|<head[\s>])", re.I | re.S)
# A bare fragment, as feeds and scrapers save an item's content.
FRAGMENT = re.compile(r"\A\s*<(div|p|article|section|main|h[1-6]|figure|img|table|ul|ol|blockquote|span)[\s>/]", re.I)
META_KEYS = (
    "article:published_time", "article:modified_time", "og:title", "og:url", "og:site_name",
    "author", "article:author", "date", "dc.date", "pubdate", "publishdate", "description",
    "og:description", "twitter:title", "dc.title", "dcterm.title", "parsely-title", "dc.creator", "parsely-author",
    "sailthru.author",
    # Publication times under the names pages give them (transforms/dates.py reads them in its own order of trust).
    "article:published", "datepublished", "og:published_time", "parsely-pub-date", "sailthru.date",
    "dc.date.issued", "dcterms.issued", "dcterms.date", "dcterms.created",
)
# What separates a headline from the site's name or a section in a <title>: `|`, `-`, `–`, `—`, `·`, `::`, `»`.
SEPARATOR = r"\s+(?:[|\-–—·»:]|::)\s+|\s*[|｜]\s*"
# `<title>` = `Headline – Site` where the page names no site: the site part's most words, the headline's fewest.
UNNAMED_SITE_WORDS = 3
HEADLINE_WORDS = 4
# Class or id words of the standfirst under a headline.
STANDFIRST = re.compile(r"\b(dek|standfirst|subtitle|sub-?headline|subhead|summary|lede|intro|description|excerpt)\b",
                        re.I)
BYLINE = re.compile(r"\b(byline|author)\b", re.I)


def can_read(text: str) -> bool:
    return PAGE.match(text) is not None or FRAGMENT.match(text) is not None


def read(path: Path, text: str) -> Article:
    root = _document(text)
    meta = _meta_tags(root)
    json_ld = _json_ld(root)
    html_lang = root.get("lang", "") if root.tag == "html" else ""
    canonical = next((link for link in _all(root, "link") if "canonical" in link.get("rel", "").split()), None)
    url = meta.get("og:url") or (canonical.get("href") if canonical is not None else "") or _first(json_ld, "url")
    url = url if isinstance(url, str) else ""
    site = _site_names(root, meta, json_ld)
    h1 = _headline_element(root)
    author = _author(root, meta, json_ld)
    title = _title(root, meta, json_ld, h1, site, author)
    page = PAGE.match(text) is not None
    standfirst = _standfirst(root, meta, h1) if page else ""
    if page:  # the plain reading is the extractor's yardstick; its HTML is made only if it is used
        main = _plain_main(root)
        body = ""
        fallback = extract.Fallback(extract.visible_chars(" ".join(main.itertext())),
                                    lambda: _legacy_main(BeautifulSoup(text, "lxml")).decode_contents())
        times = [t.get("datetime") for t in main.iter("time") if t is not main and t.get("datetime")]
    else:
        soup_main = _legacy_main(BeautifulSoup(text, "lxml"))
        body = soup_main.decode_contents() if hasattr(soup_main, "contents") else str(soup_main)
        times = [t.get("datetime") for t in walk.tags(soup_main, "time") if t.get("datetime")]
    article = Article(
        id="", source=str(path), title=title, url=url, outlet=site[0] if site else "", author=author,
        language=html_lang, body=body,
        meta={"html_meta": meta, "json_ld": json_ld, "time_datetimes": times, "body_format": "html"},
    )
    if page:
        _extract_main(article, text, standfirst, fallback)
        article.meta["raw_html"] = text  # for the dates' htmldate rule; dropped once the article is dated
    return article


XML_DECLARATION = re.compile(r"<\?xml[^>]*>")
EMPTY = "<html><body></body></html>"


def _all(root, *tags) -> Iterator:
    """`root.iter(*tags)` over the whole page: libxml2 puts what follows `</html>` (JSON-LD, meta tags: as
    BeautifulSoup saw them) in a second `<html>` beside the root."""
    for top in (root, *root.itersiblings()):
        yield from top.iter(*tags)


def _scopes(root) -> list:
    """The page's first `<article>`, `<main>` and `<body>` (None for one it lacks): where its article is sought."""
    return [next(_all(root, name), None) for name in ("article", "main", "body")]


def _document(text: str) -> lxml.html.HtmlElement:
    """The page's tree (lxml's HTML parser, as BeautifulSoup's "lxml" used it); an XML declaration, which lxml
    refuses in a str, is left out."""
    for attempt in (text, XML_DECLARATION.sub("", text, count=1), EMPTY):
        try:
            return lxml.html.document_fromstring(attempt)
        except (etree.ParserError, ValueError):
            continue
    raise AssertionError("unreachable: the empty document parses")


def _extract_main(article: Article, text: str, standfirst: str, fallback: extract.Fallback) -> None:
    """The page's article through the extractor; the plain reading when it keeps (almost) nothing."""
    found = extract.main_content(text, fallback)
    article.meta["extraction"] = {"engine": found.engine, "kept": found.kept}
    if found.reason:
        article.warn(f"{article.source}: {found.reason} ({found.engine})")
    body = found.body  # its `<time datetime>` values are made valid by cleaning, as for every reader
    if standfirst and _key(standfirst)[:60] not in _key(BeautifulSoup(body, "lxml").get_text(" ")):
        body = f"<p>{_escape(standfirst)}</p>\n{body}"
    article.body = body


CHROME = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form")


def _legacy_main(soup: BeautifulSoup) -> Tag:
    """The page's `<article>`, `<main>` or `<body>` without its chrome: fragments are read this way, and
    pages where the extractor fails."""
    main = walk.first(soup, "article") or walk.first(soup, "main") or soup.body or soup
    for tag in walk.tags(main, CHROME):
        tag.decompose()
    h1 = walk.first(main, "h1")
    if h1 is not None:
        h1.decompose()
    return main


def _plain_main(root: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """`_legacy_main` on lxml's tree (changed in place): its text and `<time>` values, without writing its HTML."""
    main = next((scope for scope in _scopes(root) if scope is not None), root)
    for element in [e for e in main.iter(*CHROME) if e is not main]:
        element.drop_tree()
    h1 = next((e for e in main.iter("h1") if e is not main), None)
    if h1 is not None:
        h1.drop_tree()
    return main


# What BeautifulSoup's get_text() leaves out: the strings of these elements are not the page's text.
NOT_TEXT = {"script", "style", "template", "rt", "rp"}


def _strings(element) -> Iterator[str]:
    """The element's strings in document order as BeautifulSoup's get_text() takes them. There a string is of the
    kind of its innermost NOT_TEXT element (a script's, a template's ...), or plain outside any; get_text() gives
    the strings of the element's own kind: a heading's plain strings, a script's script strings. Comments: none."""
    outer = next((a.tag for a in element.iterancestors() if a.tag in NOT_TEXT), None)
    own = element.tag if element.tag in NOT_TEXT else None
    kinds: list[str] = []  # the NOT_TEXT elements open below `element`

    def kind() -> str | None:
        return kinds[-1] if kinds else outer

    for event, node in etree.iterwalk(element, events=("start", "end", "comment", "pi")):
        if event == "start":
            if node.tag in NOT_TEXT:
                kinds.append(node.tag)
            if node.text and kind() == own:
                yield node.text
            continue
        if event == "end" and node.tag in NOT_TEXT:
            kinds.pop()
        if node is not element and node.tail and kind() == own:  # a tail is its parent's string
            yield node.tail


def _text(element, separator: str = "", strip: bool = False) -> str:
    """BeautifulSoup's `get_text(separator, strip=strip)`."""
    strings = (s.strip() for s in _strings(element)) if strip else _strings(element)
    return separator.join(s for s in strings if s)


def _following(element, limit: int) -> list:
    """The `limit` elements after `element` in document order, its own descendants first (`find_all_next`)."""
    found: list = []
    after = False
    for node in _all(element.getroottree().getroot(), etree.Element):
        if after:
            found.append(node)
            if len(found) == limit:
                break
        after = after or node is element
    return found


# --- title, site name, standfirst, byline -------------------------------------------------------------------


def _site_names(root, meta: dict, json_ld: list[dict]) -> list[str]:
    """The names the page gives its site, most explicit first: og:site_name, JSON-LD publisher, and the affix
    `<title>` and og:title share (`Headline | Paper` and `Other | Paper`, or `Headline | Paper` and `Headline`)."""
    names = [meta.get("og:site_name", "")]
    publisher = _first(json_ld, "publisher")
    names.append(_name(publisher))
    page_title = _page_title(root)
    names.extend(_shared_affixes(page_title, meta.get("og:title", "")))
    seen, unique = set(), []
    for name in names:
        name = " ".join((name or "").split())
        if name and name.lower() not in seen and len(name) <= 80:
            seen.add(name.lower())
            unique.append(name)
    return unique


def _shared_affixes(page_title: str, og_title: str) -> list[str]:
    if not page_title or not og_title or page_title == og_title:
        return []
    a, b = _parts(page_title), _parts(og_title)
    found = []
    if len(a) > 1 and len(b) > 1 and a[-1] == b[-1]:
        found.append(a[-1])
    if " ".join(b) == " ".join(a[:-1]) and len(a) > 1:
        found.append(a[-1])  # og:title is the <title> without its last part
    if " ".join(b) == " ".join(a[1:]) and len(a) > 1:
        found.append(a[0])
    return found


def _parts(title: str) -> list[str]:
    return [p for p in (s.strip() for s in re.split(SEPARATOR, title)) if p]


def _page_title(root) -> str:
    title = next(_all(root, "title"), None)
    return _text(title, " ", strip=True) if title is not None else ""


def _headline_element(root):
    """The page's h1, the one inside its article or main content when there are several."""
    for scope in _scopes(root):
        if scope is not None:
            h1 = next((h for h in scope.iter("h1") if h is not scope and _text(h, strip=True)), None)
            if h1 is not None:
                return h1
    return None


def _title(root, meta: dict, json_ld: list[dict], h1, site: list[str], author: str = "") -> str:
    """The article's own headline: the page's declared title (JSON-LD headline, Dublin Core, og:title, <title>…,
    first found) without the site's name (or, last, the author's: a personal site's name is its author's); the
    h1 instead when it is one run of the declared title's parts (`Opinion | Headline | Paper` with h1
    `Headline`); without a short last part when the page names no site at all (`Headline – My blog`)."""
    page_title = _page_title(root)
    declared = next((_clean(t) for t in (
        _headline(json_ld, page_title), meta.get("dc.title"), meta.get("dcterm.title"),
        meta.get("og:title"), page_title, meta.get("twitter:title"), meta.get("parsely-title")) if _clean(t)), "")
    heading = _clean(_text(h1, " ", strip=True)) if h1 is not None else ""
    if not declared:
        return heading
    stripped = _strip_site(declared, site)
    if heading and _key(heading) != _key(stripped) and _is_run(heading, declared, site):
        return heading
    if stripped == declared and author:
        stripped = _strip_site(declared, [author], prefix=False)
    if stripped == declared and not site and _key(heading) != _key(declared):
        stripped = _strip_unnamed_site(declared)
    return stripped


def _clean(text) -> str:
    return " ".join(text.split()) if isinstance(text, str) else ""


def _is_run(heading: str, declared: str, site: list[str]) -> bool:
    """The h1 is one run of the declared title's parts that holds its longest part, and not the site's name."""
    key = _key(heading)
    if not key or any(_key(name) == key for name in site):
        return False
    parts = _parts(declared)
    longest = max(range(len(parts)), key=lambda i: len(parts[i]), default=0)
    runs = (" ".join(parts[i:j]) for i in range(longest + 1) for j in range(longest + 1, len(parts) + 1))
    return any(_key(run) == key for run in runs)


def _strip_site(title: str, site: list[str], prefix: bool = True) -> str:
    """`Headline | Paper`, `Headline - Paper`, `Paper | Headline` → `Headline`, for the site's declared names."""
    for name in site:
        escaped = re.escape(name)
        patterns = (rf"^(.+?)(?:{SEPARATOR}){escaped}$", rf"^{escaped}(?:{SEPARATOR})(.+)$")
        for pattern in patterns if prefix else patterns[:1]:
            match = re.match(pattern, title, re.I)
            if match and match.group(1).strip():
                return match.group(1).strip()
    return title


def _strip_unnamed_site(title: str) -> str:
    """`A headline of some length – My website` → the headline, when the page declares no site name: a last part
    of at most UNNAMED_SITE_WORDS words after a spaced separator, behind a first part of at least HEADLINE_WORDS."""
    parts = re.split(r"\s+[|\-–—·»]\s+", title)
    if len(parts) != 2:
        return title
    head, tail = parts
    if len(tail.split()) <= UNNAMED_SITE_WORDS and len(head.split()) >= HEADLINE_WORDS:
        return head.strip()
    return title


def _standfirst(root, meta: dict, h1) -> str:
    """The dek under the headline: a `.dek`/`.standfirst`/`.subtitle` or an h2 right after the h1, or the page's
    description when the page shows it near the h1."""
    if h1 is None:
        return ""
    description = _clean(meta.get("og:description") or meta.get("description"))
    for sibling in _following(h1, 12):
        if sibling.tag in ("script", "style"):
            continue
        text = _clean(_text(sibling, " ", strip=True))
        if not text:
            continue
        marks = " ".join([*sibling.get("class", "").split(), sibling.get("id", "")])
        if (sibling.tag == "h2" or STANDFIRST.search(marks)) and 20 <= len(text) <= 400 and sibling.tag != "h1":
            return text
        if description and len(description) >= 20 and _key(text) == _key(description):
            return text
        if sibling.tag == "p" and len(text) > 60:
            return ""  # the article's text has started: no standfirst
    return ""


def _author(root, meta: dict, json_ld: list[dict]) -> str:
    for value in (meta.get("author"), meta.get("article:author"), _name(_first(json_ld, "author")),
                  meta.get("dc.creator"), meta.get("parsely-author"), meta.get("sailthru.author")):
        value = _clean(value)
        if value and not value.startswith("http"):
            return value
    tag = _byline(root)
    if tag is not None:
        text = _clean(_text(tag, " ", strip=True)).strip(" |·,:;-–—")  # `Nicolas Perriault —` in a byline
        if 1 < len(text) <= 60:
            return re.sub(r"^(By|Par|Von|Por)\s+", "", text, flags=re.I)
    return ""


def _byline(root):
    """The first of `[rel="author"], [itemprop="author"]` as BeautifulSoup selected them: `rel` of a link, `<a>`
    or `<area>` is a list of words there, matched as the words joined by single spaces."""
    for element in _all(root, etree.Element):
        rel = element.get("rel")
        if rel is not None and element.tag in ("a", "link", "area"):
            rel = " ".join(rel.split())
        if rel == "author" or element.get("itemprop") == "author":
            return element
    return None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- meta tags and JSON-LD (transforms/dates.py reads them) ------------------------------------------------


def _meta_tags(root) -> dict[str, str]:
    """Meta tags by name: `property` before `name`, the first of each; `dc:title` is `dc.title`, and a
    space-separated `property="og:title twitter:title"` gives both."""
    found: dict[str, str] = {}
    tags = list(_all(root, "meta"))
    for naming in ("property", "name", "itemprop"):
        for tag in tags:
            content = tag.get("content", "").strip()
            for key in tag.get(naming, "").lower().split():
                key = re.sub(r"^(dc|dcterms?):", r"\1.", key)
                if key in META_KEYS and content and key not in found:
                    found[key] = content
    return found


def _json_ld(root) -> list[dict]:
    items = []
    for script in (s for s in _all(root, "script") if s.get("type") == "application/ld+json"):
        try:
            data = json.loads(_uncdata(script.text or ""))
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


def _uncdata(text: str) -> str:
    """XHTML pages wrap their JSON-LD in `<![CDATA[ … ]]>` (sometimes behind `//`)."""
    return re.sub(r"^\s*(//\s*)?<!\[CDATA\[|(//\s*)?\]\]>\s*$", "", text.strip())


def _headline(json_ld: list[dict], page_title: str) -> str:
    """The JSON-LD headline; its `name` instead when the two differ and the <title> starts with the name
    (Wikipedia's headline is a description of the page)."""
    for item in json_ld:
        headline, name = item.get("headline"), item.get("name")
        if isinstance(headline, str) and headline.strip():
            if isinstance(name, str) and name.strip() and _key(name) != _key(headline) \
                    and _key(page_title).startswith(_key(name)) and _key(headline) not in _key(page_title):
                return name
            return headline
    return ""


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
