"""Cleaning: boilerplate out, allow-list sanitizing, figures, CJK reflow, repeated blocks, language.

Order matters: boilerplate is found by the attributes the sanitizer removes, so it goes first; the
sanitizer (nh3, an allow-list) then guarantees that nothing but plain structural HTML reaches the
writers; the structural passes work on that safe tree.
"""

from __future__ import annotations

import re

import nh3
from bs4 import BeautifulSoup, NavigableString, Tag

from compile import dates, images
from compile.model import Article, Image

ALLOWED_TAGS = {
    "p", "br", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u", "s", "sub", "sup", "small",
    "a", "ul", "ol", "li", "blockquote", "q", "cite", "code", "pre", "figure", "figcaption", "img",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "div", "span", "hr", "abbr", "time",
}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt"}, "th": {"colspan", "rowspan"},
                      "td": {"colspan", "rowspan"}, "abbr": {"title"}, "time": {"datetime"}}
BLOCKS = {"p", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "pre", "figure", "table", "hr"}

# Class/id words of widgets that are never the article's text.
WIDGET = re.compile(r"share|social|promo|newsletter|related|advert|\bads?\b|sponsor|comment|subscribe|toolbar", re.I)
# Feed footers and calls to action, as whole blocks of text.
BOILERPLATE = [
    re.compile(p)
    for p in (
        r"^分享\s*[:：]?$", r"获取更多\s*RSS", r"^https?://feedx\.(net|run)$", r"下载.{0,12}(APP|App|客户端)",
        r"^(Share|Share this|Follow us)\b.{0,40}$", r"^(相关新闻|相關新聞|延伸阅读|延伸閱讀|更多内容)[:：]?$",
        r"^©\s*\d{4}\s*年?\s*德国之声版权声明", r"^(点击|點擊).{0,20}(订阅|訂閱)",
    )
]
SHARE_HOSTS = re.compile(r"facebook\.com/(dialog|sharer)|twitter\.com/intent|x\.com/intent|whatsapp:|web\.whatsapp|"
                         r"line\.me/R/msg|weibo\.com/share|t\.me/share|mailto:\?")
CJK = r"\u3400-\u9fff\uf900-\ufaff"
# A paragraph that ends with one of these is complete; without one, a long CJK paragraph followed by
# one starting with a CJK character was split by a hard wrap.
TERMINAL = "。！？!?…”’」』）)》】：:；;.—"
OPENING_PUNCT = "，。、；：？！）」』”’》〉】"


def clean_article(article: Article) -> Article:
    soup = BeautifulSoup(article.body, "lxml")
    root = soup.body or soup
    _drop_boilerplate(root, article)
    _choose_image_sources(root, article.url)
    safe = nh3.clean(
        "".join(str(c) for c in root.contents),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
        strip_comments=True,
    )
    tree = BeautifulSoup(f"<div>{safe}</div>", "lxml").div
    _demote_headings(tree, article.title)
    _blocks_from_divs(tree)
    _make_figures(tree)
    _drop_empty(tree)
    _reflow(tree)
    _drop_repeats(tree, article)
    article.images = _collect_images(tree)
    article.body = "".join(str(c) for c in tree.contents)
    article.language = article.language or detect_language(tree.get_text(""))
    if not tree.get_text(strip=True) and not article.images:
        article.warn("the article has no text after cleaning")
    return article


def _drop_boilerplate(root: Tag, article: Article) -> None:
    for tag in root.find_all(True):
        if tag.decomposed:
            continue
        if "-" in tag.name or tag.name in ("script", "style", "noscript", "iframe", "form", "button", "svg"):
            tag.decompose()
            continue
        marks = " ".join([*tag.get("class", []), tag.get("id", ""), *(k for k in tag.attrs if k.startswith("data-"))])
        if marks.strip() and WIDGET.search(marks):
            tag.decompose()
    for tag in root.find_all(["div", "p", "span", "small", "section"]):
        if tag.decomposed:
            continue
        text = tag.get_text(" ", strip=True)
        links = tag.find_all("a")
        footer = len(text) < 200 and any(p.search(text) for p in BOILERPLATE)
        share_bar = links and len(text) < 40 and all(SHARE_HOSTS.search(a.get("href", "")) for a in links)
        if footer or share_bar:
            tag.decompose()
    _drop_leading_timestamps(root)
    for hr in root.find_all("hr"):
        hr.decompose()  # feeds put rules before their footers; the theme separates articles itself


def _drop_leading_timestamps(root: Tag) -> None:
    """The dateline above the text (already read by dates.py) is shown in the article header."""
    for tag in root.find_all(["div", "i", "time", "span", "p", "small"], limit=30):
        if tag.decomposed:
            continue
        text = tag.get_text(" ", strip=True)
        if text and dates.TIMESTAMP_LINE.match(text) and not tag.find(["img", "p"]):
            tag.decompose()


def _choose_image_sources(root: Tag, base_url: str) -> None:
    for picture in root.find_all("picture"):
        img = picture.find("img")
        sources = [s.get("srcset", "") for s in picture.find_all("source")]
        if img is not None:
            best = images.best_source(img, extra_srcsets=sources, base_url=base_url)
            if best:
                img["src"] = best
            picture.replace_with(img)
        else:
            picture.decompose()
    for img in root.find_all("img"):
        best = images.best_source(img, base_url=base_url)
        if not best or images.is_tracking_pixel(img):
            img.decompose()
            continue
        img.attrs = {"src": best, "alt": img.get("alt", "")}


def _demote_headings(tree: Tag, title: str) -> None:
    """The article title is the only h1; a body h1 repeating it goes, others become h2."""
    for h1 in tree.find_all("h1"):
        if h1.get_text(strip=True) == title.strip():
            h1.decompose()
        else:
            h1.name = "h2"


def _blocks_from_divs(tree: Tag) -> None:
    """Feeds wrap everything in divs: unwrap them, wrapping loose inline runs in paragraphs."""
    for div in reversed(tree.find_all(["div", "span"])):
        if div.name == "span" or div.find(BLOCKS | {"div"}):
            div.unwrap()
        elif div.get_text(strip=True) or div.find("img"):
            div.name = "p"
        else:
            div.decompose()
    _wrap_loose_inline(tree)


def _wrap_loose_inline(tree: Tag) -> None:
    run: list = []

    def flush():
        if any(isinstance(n, Tag) or n.strip() for n in run):
            p = tree.new_tag("p") if hasattr(tree, "new_tag") else BeautifulSoup("", "lxml").new_tag("p")
            run[0].insert_before(p)
            for node in run:
                p.append(node.extract())
        run.clear()

    for node in list(tree.children):
        if isinstance(node, Tag) and node.name in BLOCKS | {"p", "div"}:
            flush()
        elif isinstance(node, Tag) and node.name == "br":
            flush()
            node.decompose()
        else:
            run.append(node)
    flush()


def _make_figures(tree: Tag) -> None:
    """Each image becomes a figure; a short paragraph of `<small>` right after it is its caption."""
    factory = BeautifulSoup("", "lxml")
    for img in tree.find_all("img"):
        if img.find_parent("figure"):
            continue
        container = img.parent if img.parent is not tree and img.parent.name == "p" else None
        figure = factory.new_tag("figure")
        anchor = container if container is not None and not container.get_text(strip=True) else img
        anchor.insert_before(figure)
        figure.append(img.extract())
        if anchor is not img:
            anchor.decompose()
        caption = figure.find_next_sibling()
        if caption is not None and caption.name == "p" and _is_caption(caption):
            caption.name = "figcaption"
            figure.append(caption.extract())
    for figure in tree.find_all("figure"):
        caption = figure.find("figcaption")
        img = figure.find("img")
        if img is not None and caption is not None and not img.get("alt"):
            img["alt"] = caption.get_text(" ", strip=True)


def _is_caption(tag: Tag) -> bool:
    children = [c for c in tag.children if not (isinstance(c, NavigableString) and not c.strip())]
    return len(children) == 1 and getattr(children[0], "name", None) == "small"


def _drop_empty(tree: Tag) -> None:
    for tag in reversed(tree.find_all(["p", "li", "blockquote", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b"])):
        if not tag.get_text(strip=True) and not tag.find("img"):
            tag.decompose()
    for text in tree.find_all(string=True):
        if text.parent is not None and text.parent.name in ("p", "figcaption", "li"):
            stripped = re.sub(r"^[\s\u3000]+|[\s\u3000]+$", "", text) if _sole_child(text) else text
            if stripped != text:
                text.replace_with(stripped)


def _sole_child(node) -> bool:
    return len(node.parent.contents) == 1


def _reflow(tree: Tag) -> None:
    """Join paragraphs that a hard wrap split mid-sentence (`首次会` / `晤，`)."""
    for p in tree.find_all("p"):
        if p.parent is not tree or p.decomposed:
            continue
        nxt = p.find_next_sibling()
        while nxt is not None and nxt.name == "p" and _split_mid_sentence(p, nxt):
            for child in list(nxt.contents):
                p.append(child.extract())
            nxt.decompose()
            nxt = p.find_next_sibling()
    for text in tree.find_all(string=True):  # hard wraps inside a paragraph
        if "\n" in text:
            joined = re.sub(rf"(?<=[{CJK}，。、；：！？”“」「])\s*\n\s*(?=[{CJK}，。、；：！？”“」「])", "", text)
            text.replace_with(joined.replace("\n", " ") if text.parent.name != "pre" else text)


def _split_mid_sentence(p: Tag, nxt: Tag) -> bool:
    before, after = p.get_text().rstrip(), nxt.get_text().lstrip()
    if not before or not after or p.find("img") or nxt.find("img"):
        return False
    if len(before) < 20 or before[-1] in TERMINAL:
        return False
    return bool(re.match(rf"[{CJK}]|[{OPENING_PUNCT}]", after[0])) and bool(re.match(rf"[{CJK}]", before[-1]))


def _drop_repeats(tree: Tag, article: Article) -> None:
    """Exact repeats of a block (a feed emitting a paragraph or caption twice) are kept once."""
    seen: set[str] = set()
    for block in tree.find_all(["p", "figcaption", "blockquote", "li"]):
        key = re.sub(r"\s+", "", block.get_text())
        if len(key) < 12:
            continue
        if key in seen:
            article.warn(f"dropped a repeated {block.name}: '{key[:30]}…'")
            block.decompose()
        seen.add(key)


def _collect_images(tree: Tag) -> list[Image]:
    found: dict[str, Image] = {}
    for figure in tree.find_all("figure"):
        img = figure.find("img")
        if img is None:
            continue
        caption = figure.find("figcaption")
        url, proxied = images.unwrap_proxy(img["src"])
        img["src"] = url
        if url not in found:
            found[url] = Image(url=url, found_url=proxied, alt=img.get("alt", ""),
                               caption=caption.get_text(" ", strip=True) if caption else "")
    return list(found.values())


# Characters whose simplified and traditional forms differ, in pairs: frequent enough to decide.
_SIMPLIFIED = "这个们说时国会对发经现长门问东车马书买卖语话见后来实变开关过还进边为与专业网务报总统战争军选举华觉认识让产动员关系"  # noqa: E501
_TRADITIONAL = "這個們說時國會對發經現長門問東車馬書買賣語話見後來實變開關過還進邊為與專業網務報總統戰爭軍選舉華覺認識讓產動員關係"  # noqa: E501
_ONLY_S = {s for s, t in zip(_SIMPLIFIED, _TRADITIONAL, strict=True) if s != t}
_ONLY_T = {t for s, t in zip(_SIMPLIFIED, _TRADITIONAL, strict=True) if s != t}


def detect_language(text: str) -> str:
    han = len(re.findall(rf"[{CJK}]", text))
    latin = len(re.findall(r"[A-Za-z]", text))
    if han == 0 and latin == 0:
        return ""
    if han * 2 < latin:
        return "en"
    simplified = sum(text.count(c) for c in _ONLY_S)
    traditional = sum(text.count(c) for c in _ONLY_T)
    return "zh-Hant" if traditional > simplified else "zh-Hans"
