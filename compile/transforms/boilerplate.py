"""Cleaning's first half, before the sanitizer: what is not the article goes, each image gets one source.

Players, widgets, feed footers, share bars, "related" lists and the dateline above the text are found by what the
sanitizer then removes (class and id words, custom elements, forms), so this runs on the page's own tree: the
document as parsed (compile/pruning.py), pruned as BeautifulSoup's decompose() and unwrap() prune.
"""

from __future__ import annotations

import contextlib
import re
from typing import TypeAlias
from urllib.parse import urlsplit

from lxml import etree

from compile.images import markup
from compile.model import Article
from compile.pruning import Pruned
from compile.transforms import dates, outlets

Element: TypeAlias = etree._Element

# Class/id words of widgets that are never the article's text.
WIDGET = re.compile(r"share|social|promo|newsletter|related|advert|\bads?\b|sponsor|comment|subscribe|toolbar|"
                    r"trustbadge|media-placeholder|video-placeholder", re.I)
# Whole blocks of text that are feed footers, calls to action, copyright notices or relative stamps.
# Data, not code: one pattern per line, generic first, then per outlet (keyed by outlets.canonical names).
GENERIC_JUNK = [
    r"^分享\s*[:：]?$",
    r"获取更多\s*RSS",
    r"^https?://feedx\.(net|run)/?$",
    r"下载.{0,12}(APP|App|app|客户端|應用)",
    r"^(Share|Share this|Follow us)\b.{0,40}$",
    r"^(相关新闻|相關新聞|延伸阅读|延伸閱讀|更多内容|相关阅读|相關閱讀)[:：]?$",
    r"^(点击|點擊).{0,20}(订阅|訂閱)",
    r"^(订阅|訂閱).{0,20}(频道|頻道|电子报|電子報|newsletter)",
    r"^©\ufe0f?\s*\d{4}\s*年?.{0,20}(版权|版權|保留|所有|声明|聲明)",
    r"^(©|\(c\)|Copyright)\ufe0f?\s*\d{4}\s+[\w .&-]{2,40}$",
    r"^(版权所有|版權所有|All rights reserved)",
    r"^(最近更新|最后更新|最後更新|更新时间|更新時間)\s*[:：]?\s*\d+\s*(秒|分钟|分鐘|小时|小時|天)前$",
    r"^\d+\s*(秒|分钟|分鐘|小时|小時|天)前$",
    r"^(使用浏览器播视频|使用瀏覽器播放影片).{0,40}$",
    r"^view video in browser$",
]
OUTLET_JUNK = {
    "路透社": [r"^我们的标准[:：]?", r"^汤森路透“信任原则”$"],
    "德国之声": [r"^©\ufe0f?\s*\d{4}\s*年?德国之声版权声明"],
    "BBC": [r"^(BBC中文|BBC News 中文)\s*(版权所有|版權所有)"],
    "法国国际广播电台": [r"^(下载|下載)法广(APP|应用)", r"^(订阅|訂閱)法广"],
    "美国之音": [r"^(请订阅|請訂閱)美国之音"],
}
# Images that are a logo or a spacer, not a picture of the story.
JUNK_IMAGES = [r"/meta_og_twcards/", r"^data:", r"/spacer\.gif", r"/grey-placeholder\.png"]
JUNK_ALTS = [r"^line break$", r"^spacer$"]
SHARE_HOSTS = re.compile(r"facebook\.com/(dialog|sharer)|twitter\.com/intent|x\.com/intent|whatsapp:|web\.whatsapp|"
                         r"line\.me/R/msg|weibo\.com/share|t\.me/share|mailto:\?")
JUNK_TEXT = 200  # characters: junk blocks are shorter
TEXT_HOLDERS = ["p", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "table", "figure"]


def prune(tree: Pruned, article: Article) -> dict[str, tuple[str, str]]:
    """Prune the body (the document, if it has none) of what is not the article; returns, for the image sources
    that name a file of the source folder, src -> (local path, reference as written) (markup.locate)."""
    root = tree.top
    _demote_headings(tree, root, article.title)
    _media_to_images(tree, root)
    _drop_boilerplate(tree, root, article, junk_patterns(article))
    return _choose_image_sources(tree, root, article)


def junk_patterns(article: Article) -> list[re.Pattern]:
    """The generic rules plus those of the article's outlet (by its name or its URL's host)."""
    names = {outlets.canonical(article.outlet)}
    with contextlib.suppress(ValueError):
        names.add(outlets.from_host(article.url, known_only=True))
    patterns = list(GENERIC_JUNK)
    for name in names:
        patterns.extend(OUTLET_JUNK.get(name, []))
    return [re.compile(p, re.I) for p in patterns]


def _is_junk_text(text: str, junk: list[re.Pattern]) -> bool:
    return 0 < len(text) < JUNK_TEXT and any(p.search(text) for p in junk)


def _demote_headings(tree: Pruned, root: Element, title: str) -> None:
    """The article title is the only h1; a body h1 repeating it goes, others become h2."""
    for h1 in tree.tags(root, "h1"):
        if tree.gone(h1):
            continue
        if tree.text(h1, strip=True) == title.strip():
            tree.drop(h1)
        else:
            h1.tag = "h2"


def _media_to_images(tree: Pruned, root: Element) -> None:
    """A video's poster is its picture (the caption under it stays with it); players themselves go."""
    for media in tree.tags(root, ["video", "audio", "iframe", "embed", "object"]):
        if tree.gone(media):
            continue
        poster = (media.get("poster") or "") if media.tag == "video" else ""
        if poster:
            tree.replace(media, etree.Element("img", alt="", src=poster))
        else:
            _remove_container(tree, media)


def _remove_container(tree: Pruned, tag: Element) -> None:
    """Remove a widget, but never the article's text: the lenient parser nests everything after an
    unclosed or unknown tag (`<embed>`, `<share-button>`, an ASP.NET page-wide `<form>`) inside it."""
    if tree.first(tag, TEXT_HOLDERS) is not None:
        tree.unwrap(tag)
    else:
        tree.drop(tag)


def _marks(tag: Element) -> str:
    """Its class words, id and data-* attribute names: what widgets are told by."""
    data = [name for name in tag.attrib if name.startswith("data-")]
    return " ".join([*(tag.get("class") or "").split(), tag.get("id") or "", *data])


def _text_sizes(tree: Pruned, root: Element) -> dict[Element, int]:
    """A lower bound of `len(text(tag, " ", strip=True))` for every tag under root, from the leaves up in one
    pass (the text of every tag costs the size of each subtree: quadratic in nesting depth)."""
    sizes: dict[Element, tuple[int, int]] = {}
    for tag in reversed(tree.tags(root)):  # descendants come after their tag
        chars = pieces = 0
        for child in tree.contents(tag):
            if isinstance(child, str):
                more = len(child.strip())
                count = int(more > 0)
            else:
                more, count = sizes[child]
            chars, pieces = chars + more, pieces + count
        sizes[tag] = (chars, pieces)
    return {key: chars + max(pieces - 1, 0) for key, (chars, pieces) in sizes.items()}


def _drop_boilerplate(tree: Pruned, root: Element, article: Article, junk: list[re.Pattern]) -> None:
    for tag in tree.tags(root):
        if tree.gone(tag):
            continue
        if tag.tag in ("script", "style", "noscript", "svg", "template"):
            tree.drop(tag)
        elif "-" in tag.tag or tag.tag in ("form", "button", "nav", "input", "select", "textarea"):
            _remove_container(tree, tag)
        elif (marks := _marks(tag)).strip() and WIDGET.search(marks):
            tree.drop(tag)
    sizes = _text_sizes(tree, root)
    for tag in tree.tags(root, ["div", "p", "span", "small", "section", "a", "em", "i", "li", "time"]):
        if tree.gone(tag) or sizes[tag] >= JUNK_TEXT:  # too long to be junk: no need to gather its text
            continue
        text = tree.text(tag, " ", strip=True)
        links = tree.tags(tag, "a")
        share_bar = links and len(text) < 40 and all(SHARE_HOSTS.search(a.get("href") or "") for a in links)
        if _is_junk_text(text, junk) or share_bar:
            tree.drop(tag)
    _drop_related_lists(tree, root, article.url)
    _drop_leading_timestamps(tree, root, article)
    for hr in tree.tags(root, "hr"):
        tree.drop(hr)  # feeds put rules before their footers; the theme separates articles itself


def _drop_related_lists(tree: Pruned, root: Element, url: str) -> None:
    """A list whose every item is only a link to another page of the same site: "related stories"."""
    try:
        host = (urlsplit(url).hostname or "").removeprefix("www.")
    except ValueError:
        host = ""
    if not host:
        return
    for listing in tree.tags(root, ["ul", "ol"]):
        if tree.gone(listing):
            continue
        items = tree.children(listing, "li")
        if items and all(_only_same_site_link(tree, li, host) for li in items):
            tree.drop(listing)


def _only_same_site_link(tree: Pruned, li: Element, host: str) -> bool:
    links = tree.tags(li, "a")
    if len(links) != 1 or tree.text(links[0], strip=True) != tree.text(li, strip=True):
        return False
    try:
        target = (urlsplit(links[0].get("href") or "").hostname or "").removeprefix("www.")
    except ValueError:
        return False
    return target == host


def _drop_leading_timestamps(tree: Pruned, root: Element, article: Article) -> None:
    """The dateline above the text (already read by dates.py) is shown in the article header.

    DW puts the author above it (`<i>Alexander Freund<br>2020-09-20T07:31:08Z</i>`): the name goes
    to `article.author`.
    """
    for tag in tree.tags(root, ["div", "i", "time", "span", "p", "small"], limit=30):
        if tree.gone(tag) or tree.first(tag, ["img", "p"]) is not None:
            continue
        lines = [t.strip() for t in tree.text(tag, "\n", strip=True).split("\n") if t.strip()]
        if not lines or not dates.TIMESTAMP_LINE.match(lines[-1]):
            continue
        if len(lines) == 1 or (len(lines) == 2 and _looks_like_name(lines[0])):
            if len(lines) == 2 and not article.author:
                article.author = lines[0]
            tree.drop(tag)
    for time in tree.tags(root, "time"):  # BBC: the date, then "最近更新： 45 分钟前"
        if tree.gone(time):
            continue
        text = tree.text(time, " ", strip=True)
        if len(text) <= 40 and (dates.CJK_DATE.search(text) or dates.EN_DATE.search(text) or re.search(r"前$", text)):
            tree.drop(time)


def _looks_like_name(text: str) -> bool:
    return 1 < len(text) <= 40 and not re.search(r"[\d，。！？；,.!?;:：]", text)


def _choose_image_sources(tree: Pruned, root: Element, article: Article) -> dict[str, tuple[str, str]]:
    """Each <img> gets its one source URL; returns, for the sources that name a file of the source folder,
    src -> (local path, reference as written) (compile/images/markup.py `locate`)."""
    for picture in tree.tags(root, "picture"):
        if tree.gone(picture):
            continue
        img = tree.first(picture, "img")
        sources = [source.get("srcset") or "" for source in tree.tags(picture, "source")]
        if img is not None:
            written = markup.written_source(img, extra_srcsets=sources)
            if written:
                img.set("src", written)
            tree.replace(picture, img)
        else:
            tree.drop(picture)
    located = {}
    for img in tree.tags(root, "img"):
        written = markup.written_source(img)
        best, local = markup.locate(written, article.url, article.source)
        if not best or markup.is_tracking_pixel(img) or _junk_image(best, img.get("alt") or ""):
            tree.drop(img)
            continue
        alt = img.get("alt") or img.get("aria-label") or ""
        img.attrib.clear()
        img.set("src", best)
        img.set("alt", alt)
        if local:
            located[best] = (local, written)
    return located


def _junk_image(src: str, alt: str) -> bool:
    return any(re.search(p, src) for p in JUNK_IMAGES) or any(re.search(p, alt.strip(), re.I) for p in JUNK_ALTS)
