"""Main content of a full saved web page, through trafilatura, as plain HTML the cleaner accepts.

trafilatura (with htmldate) finds the article among menus, footers, teasers and comments far better than
rules written for the few shapes seen so far. Its structured output (paragraphs, headings, lists, tables,
quotes, code, images, links, emphasis) is turned here into plain HTML with only the attributes the cleaner
keeps (href, src, alt), absolute URLs, figures with their captions, and no block inside an inline element.

When it keeps nothing, or far less than a plain `<article>`/`<main>` reading of the page, that reading is
used instead and the caller warns: text is never lost silently.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import urljoin

import lxml.html
from lxml import etree

# trafilatura logs every page it finds hard at WARNING; the report says what matters.
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)

# The extractor is trusted unless it keeps less than this share of what the fallback reading keeps,
# and that reading has at least FALLBACK_MIN_CHARS more. Measured on extraction-dev (bench/extraction_bench.py):
# the closest real page (pixnet, 0.19: its <article> is mostly a blog's sidebar) is one the extractor gets right.
FALLBACK_SHARE = 0.1
FALLBACK_MIN_CHARS = 500
INVISIBLE = ("script", "style", "noscript", "template", "svg", "head", "iframe", "object")
INLINE = {"a", "b", "strong", "i", "em", "u", "s", "sub", "sup", "code", "span", "small", "q", "cite", "abbr"}
BLOCK = {"p", "div", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "table", "figure",
         "figcaption", "hr"}
# Structured output: headings, lists, tables, quotes, code, images, links and emphasis; no reader comments.
OPTIONS = {"include_comments": False, "include_tables": True, "include_images": True, "include_formatting": True,
           "include_links": True, "with_metadata": False}
TAGS = {"item": "li", "quote": "blockquote", "code": "pre", "lb": "br", "graphic": "img", "ref": "a", "row": "tr",
        "del": "s", "table": "table", "p": "p", "div": "div"}
RENDS = {"#b": "strong", "#i": "em", "#u": "u", "#t": "code", "#sub": "sub", "#sup": "sup"}


@dataclass
class Extraction:
    body: str  # an HTML fragment
    engine: str  # "trafilatura" | "fallback-article" (the page's <article>/<main>/<body>)
    kept: float  # share of the page's visible text in the body, 0..1
    reason: str = ""  # why the fallback was used


def visible_chars(text: str) -> int:
    """Characters a reader could see: everything but white space."""
    return len(re.sub(r"\s+", "", text))


def page_text(tree: lxml.html.HtmlElement) -> str:
    """The page's visible text: what is left without scripts, styles and the head."""
    tree = _copy(tree)
    for element in tree.iter(*INVISIBLE):
        element.drop_tree() if element.getparent() is not None else None
    return " ".join(tree.itertext())


def main_content(html: str, url: str, fallback_body: str) -> Extraction:
    """The article of a full page; `fallback_body` is the plain `<article>`/`<main>` reading of the page."""
    try:
        tree = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return Extraction(fallback_body, "fallback-article", 1.0, "the page could not be parsed")
    _drop_hidden(tree)
    visible = max(visible_chars(page_text(tree)), 1)
    captions = _caption_texts(tree)
    for caption in tree.iter("figcaption"):
        caption.tag = "p"  # trafilatura drops figcaptions; as paragraphs they come back, to be matched below
    body = _trafilatura(tree, url)
    html_body = _to_html(body, url, captions) if body is not None else ""
    kept_chars = visible_chars(_text(html_body))
    fallback_chars = visible_chars(_text(fallback_body))
    reason = _fallback_reason(kept_chars, fallback_chars)
    if reason:
        return Extraction(fallback_body, "fallback-article", _share(fallback_chars, visible), reason)
    return Extraction(html_body, "trafilatura", _share(kept_chars, visible))


def _drop_hidden(tree: lxml.html.HtmlElement) -> None:
    """What the page hides (`hidden`, `display: none`, `aria-hidden`) is not what a reader sees: templates,
    collapsed menus, screen-reader copies. Lazy-loaded images' fallbacks (`fallback-image`) stay."""
    for element in list(tree.iter()):
        if not isinstance(element.tag, str) or element.getparent() is None or element.tag in ("html", "body"):
            continue
        style = re.sub(r"\s+", "", (element.get("style") or "").lower())
        hidden = (element.get("hidden") is not None or "display:none" in style or "visibility:hidden" in style
                  or (element.get("aria-hidden") == "true" and "fallback-image" not in (element.get("class") or "")))
        if hidden:
            element.drop_tree()


def _fallback_reason(kept: int, fallback: int) -> str:
    if kept == 0:
        return "the extractor found no main text" if fallback else ""
    if kept < FALLBACK_SHARE * fallback and fallback - kept >= FALLBACK_MIN_CHARS:
        return f"the extractor kept {kept} characters of the {fallback} in the page's article"
    return ""


def _share(part: int, whole: int) -> float:
    return round(min(part / whole, 1.0), 2)


def _trafilatura(tree: lxml.html.HtmlElement, url: str):
    import trafilatura  # imported on first use: ~0.3 s, and only full pages need it

    try:
        document = trafilatura.bare_extraction(_copy(tree), url=url or None, **OPTIONS)
    except Exception:  # noqa: BLE001 - a bug in the extractor must not stop the build: the fallback reads the page
        return None
    return getattr(document, "body", None) if document is not None else None


def _copy(tree):
    return lxml.html.fromstring(lxml.html.tostring(tree))


def _text(fragment: str) -> str:
    if not fragment.strip():
        return ""
    return " ".join(lxml.html.fragment_fromstring(fragment, create_parent="div").itertext())


def _caption_texts(tree: lxml.html.HtmlElement) -> set[str]:
    """The page's figure captions, to give images their captions back (trafilatura keeps them as text)."""
    return {key for caption in tree.iter("figcaption") if len(key := _key(" ".join(caption.itertext()))) >= 4}


def _key(text: str) -> str:
    return re.sub(r"\W+", "", text).lower()


def _to_html(body, url: str, captions: set[str]) -> str:
    """trafilatura's XML tree as plain HTML."""
    root = lxml.html.Element("div")
    root.text = body.text
    for child in body:
        root.append(_convert(child, url))
    _unwrap_inline_blocks(root)
    _make_figures(root, captions)
    parts = [lxml.html.tostring(child, encoding="unicode") for child in root]
    return (root.text or "") + "".join(parts)


def _convert(element, url: str):
    """One XML element (and its subtree) as an HTML element, with only href/src/alt kept."""
    tag = element.tag if isinstance(element.tag, str) else ""
    out = lxml.html.Element(_html_tag(element, tag))
    if out.tag == "a":
        target = (element.get("target") or "").strip()
        if target:
            out.set("href", urljoin(url, target) if url else target)
    elif out.tag == "img":
        src = (element.get("src") or element.get("data-src") or "").strip()
        out.set("src", urljoin(url, src) if url else src)
        out.set("alt", element.get("alt") or element.get("title") or "")
    out.text = element.text
    for child in element:
        if not isinstance(child.tag, str):  # a comment or processing instruction: keep its tail only
            _append_text(out, child.tail)
            continue
        out.append(_convert(child, url))
    out.tail = element.tail
    if out.tag == "pre" and element.getparent() is not None and element.getparent().tag in ("p", "hi", "ref"):
        out.tag = "code"  # inline code inside a sentence
    return out


def _html_tag(element, tag: str) -> str:
    if tag == "head":
        rend = element.get("rend") or ""
        level = int(rend[1]) if re.fullmatch(r"h[1-6]", rend) else 3
        return f"h{max(level, 2)}"  # the article's title is the only h1
    if tag == "list":
        return "ol" if element.get("rend") == "ol" else "ul"
    if tag == "hi":
        return RENDS.get(element.get("rend") or "", "em")
    if tag == "cell":
        return "th" if element.get("role") == "head" else "td"
    return TAGS.get(tag, "div" if len(element) else "span")


def _append_text(element, text: str | None) -> None:
    if not text:
        return
    if len(element):
        element[-1].tail = (element[-1].tail or "") + text
    else:
        element.text = (element.text or "") + text


def _unwrap_inline_blocks(root) -> None:
    """A block inside an inline element (`<a><p>…</p></a>`) is invalid XHTML: the inline element goes, its
    content stays."""
    for element in reversed(list(root.iter(*INLINE))):
        if any(isinstance(d.tag, str) and d.tag in BLOCK for d in element.iterdescendants()):
            element.drop_tag()


def _make_figures(root, captions: set[str]) -> None:
    """An image followed by a block that was a figure caption on the page becomes a figure with its caption."""
    for img in list(root.iter("img")):
        holder = img if img.getparent() is root else None
        if holder is None:
            continue
        figure = lxml.html.Element("figure")
        img.addprevious(figure)
        tail, img.tail = img.tail, None
        figure.append(img)
        figure.tail = tail
        following = figure.getnext()
        if following is not None and not (tail or "").strip() and _is_caption(following, captions):
            caption = lxml.html.Element("figcaption")
            caption.text = " ".join(" ".join(following.itertext()).split())
            caption.tail = following.tail
            following.getparent().remove(following)
            figure.append(caption)


def _is_caption(element, captions: set[str]) -> bool:
    if element.tag in ("figure", "h2", "h3", "h4", "h5", "h6", "table", "pre") or element.find(".//img") is not None:
        return False
    key = _key(" ".join(element.itertext()))
    return len(key) >= 4 and any(key == c or key.startswith(c) or c.startswith(key) for c in captions)
