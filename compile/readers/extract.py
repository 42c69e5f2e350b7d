"""Main content of a full saved web page, through trafilatura, as plain HTML the cleaner accepts.

trafilatura (with htmldate) finds the article among menus, footers, teasers and comments far better than
rules written for the few shapes seen so far. Its structured output (paragraphs, headings, lists, tables,
quotes, code, images, links, emphasis) is turned here into plain HTML with only the attributes the cleaner
keeps (href, src, alt), absolute URLs, figures with their captions, and no block inside an inline element.

A second engine, readability-lxml (the Python port of arc90's Readability, whose descendant is Firefox's reader
view), reads every page too. Its reading replaces trafilatura's when the two agree on trafilatura's text and
readability finds much more of the same article around it (trafilatura drops a paragraph the page repeats, and
short paragraphs it takes for boilerplate), or when it is far longer (trafilatura took a fragment). Where
trafilatura keeps more, it stays: readability's extra text is as often the article (a lead it misses) as a
teaser list. Both see the page as a reader does: hidden elements gone, MathML formulas as text with sub- and
superscripts, custom elements (`<mjx-container>`) unwrapped.

When both keep nothing, or far less than a plain `<article>`/`<main>` reading of the page, that reading is
used instead and the caller warns: text is never lost silently.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lxml.html
from lxml import etree

from compile.text import HAN, HANGUL, KANA, YIJING

# trafilatura logs every page it finds hard at WARNING; the report says what matters.
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)
logging.getLogger("readability").setLevel(logging.ERROR)

# The extractor is trusted unless it keeps less than this share of what the fallback reading keeps,
# and that reading has at least FALLBACK_MIN_CHARS more. Measured on extraction-dev (bench/extraction_bench.py):
# the closest real page (pixnet, 0.19: its <article> is mostly a blog's sidebar) is one the extractor gets right.
FALLBACK_SHARE = 0.1
FALLBACK_MIN_CHARS = 500
INVISIBLE = ("script", "style", "noscript", "template", "svg", "head", "iframe", "object")
INLINE = {"a", "b", "strong", "i", "em", "u", "s", "sub", "sup", "code", "span", "small", "q", "cite", "abbr"}
BLOCK = {"p", "div", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "table", "figure",
         "figcaption", "hr"}
# Structured output: headings, lists, tables, quotes, code, images, links and emphasis; no reader comments;
# `fast`: no internal fallback (the second engine below is the fallback).
OPTIONS: dict[str, Any] = {"fast": True, "include_comments": False, "include_tables": True, "include_images": True,
                           "include_formatting": True, "include_links": True, "with_metadata": False}
TAGS = {"item": "li", "quote": "blockquote", "code": "pre", "lb": "br", "graphic": "img", "ref": "a", "row": "tr",
        "del": "s", "table": "table", "p": "p", "div": "div"}
# The second engine's reading replaces trafilatura's when at least AGREE of trafilatura's 4-word shingles are in it
# and trafilatura's covers less than COVER of it (trafilatura dropped part of the article), or when it is LONGER
# times as long (trafilatura took a fragment: trafilatura's own rule for its internal fallback, which `fast`
# turns off because its built-in Readability port reads far worse than readability-lxml). On extraction-dev
# (bench/extraction_bench.py) the mean F1 is the same for AGREE and COVER 0.5-0.7 and LONGER 1.5-3; the nearest
# page where trafilatura is right and readability's reading differs (a blog whose comments readability keeps)
# sits at 0.77 coverage.
AGREE = 0.6
COVER = 0.6
LONGER = 2
SHINGLE = 4
# A CJK character (kana, hangul) is a word; elsewhere a run of word characters is (as the bench scores).
WORD = re.compile(f"[{KANA}{HAN}{YIJING}{HANGUL}]|\\w+")
# MathML: tokens (identifiers, numbers, operators, text), and the scripts written after their base.
MATH_TOKENS = {"mi", "mn", "mo", "mtext", "ms"}
MATH_SCRIPTS = {"msub": ("sub",), "msup": ("sup",), "msubsup": ("sub", "sup"), "munder": ("sub",),
                "mover": ("sup",), "munderover": ("sub", "sup")}
RENDS = {"#b": "strong", "#i": "em", "#u": "u", "#t": "code", "#sub": "sub", "#sup": "sup"}


@dataclass
class Fallback:
    """The plain reading of a page (its `<article>`/`<main>`/`<body>` without the chrome): how many visible
    characters it holds, and its HTML, made only when it is used (rarely; it is a second parse of the page)."""

    chars: int
    body: Callable[[], str]


@dataclass
class Extraction:
    body: str  # an HTML fragment
    engine: str  # "trafilatura" | "readability" | "fallback-article" (the page's <article>/<main>/<body>)
    kept: float  # share of the page's visible text in the body, 0..1
    reason: str = ""  # why a fallback engine was used (the caller warns)


def visible_chars(text: str) -> int:
    """Characters a reader could see: everything but white space."""
    return len(re.sub(r"\s+", "", text))


def page_text(tree: lxml.html.HtmlElement) -> str:
    """The page's visible text: what is left without scripts, styles and the head."""
    tree = _copy(tree)
    for element in tree.iter(*INVISIBLE):
        element.drop_tree() if element.getparent() is not None else None
    return " ".join(tree.itertext())


def main_content(html: str, fallback: Fallback) -> Extraction:
    """The article of a full page; `fallback` is the plain `<article>`/`<main>` reading of the page."""
    try:
        tree = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return Extraction(fallback.body(), "fallback-article", 1.0, "the page could not be parsed")
    _as_a_reader_sees(tree)
    visible = max(visible_chars(page_text(tree)), 1)
    second = _readability(tree)
    captions = _caption_texts(tree)
    for caption in tree.iter("figcaption"):
        caption.tag = "p"  # trafilatura drops figcaptions; as paragraphs they come back, to be matched below
    body = _trafilatura(tree)
    first = _to_html(body, captions) if body is not None else ""
    engine, html_body = _choose(first, second)
    kept_chars = visible_chars(_text(html_body))
    reason = _fallback_reason(kept_chars, fallback.chars)
    if reason:
        reason += "; read the page's <article>/<main> instead"
        return Extraction(fallback.body(), "fallback-article", _share(fallback.chars, visible), reason)
    found_nothing = engine == "readability" and not visible_chars(_text(first))
    reason = "trafilatura found no main text; read with readability" if found_nothing else ""
    return Extraction(html_body, engine, _share(kept_chars, visible), reason)


def _choose(first: str, second: str) -> tuple[str, str]:
    """(engine, body): trafilatura's reading, or readability's when it holds trafilatura's and much more, or is
    much longer."""
    ours, theirs = shingles(_text(first)), shingles(_text(second))
    size, their_size = sum(ours.values()), sum(theirs.values())
    if not their_size:
        return "trafilatura", first
    common = sum((ours & theirs).values())
    if their_size >= LONGER * size or (common >= AGREE * size and common < COVER * their_size):
        return "readability", second
    return "trafilatura", first


def shingles(text: str) -> Counter:
    """The text's runs of SHINGLE words, counted: two readings agree where they share them."""
    words = WORD.findall(text.lower())
    return Counter(tuple(words[i:i + SHINGLE]) for i in range(max(len(words) - SHINGLE + 1, 1 if words else 0)))


def _as_a_reader_sees(tree: lxml.html.HtmlElement) -> None:
    """The page as both engines should judge it: without what it hides, with its formulas and custom elements'
    text where they can see it."""
    _drop_hidden(tree)
    _math_as_text(tree)
    _unwrap_custom_elements(tree)


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


def _unwrap_custom_elements(tree: lxml.html.HtmlElement) -> None:
    """Custom elements (`<mjx-container>`, `<story-body>`) are unknown to both extractors, which drop them with
    their text: they go, their content stays for the extractors to judge."""
    for element in list(tree.iter()):
        if isinstance(element.tag, str) and "-" in element.tag and element.getparent() is not None:
            element.drop_tag()


def _math_as_text(tree: lxml.html.HtmlElement) -> None:
    """MathML the page shows becomes its text with sub- and superscripts (`x<sup>2</sup> = …`): both extractors
    and the sanitizer drop `<math>` whole, and a formula as text reads better than a hole in a sentence."""
    for math in reversed(list(tree.iter("math"))):
        if math.getparent() is None:
            continue
        span = lxml.html.Element("span")
        span.text = ""
        _math_into(math, span)
        span.tail = math.tail
        math.getparent().replace(math, span)


def _math_into(node, out) -> None:
    """MathML `node` appended to the HTML element `out`: tokens as words, scripts as sub/sup, a fraction as a/b."""
    tag = node.tag if isinstance(node.tag, str) else ""
    if tag in ("annotation", "annotation-xml"):  # the formula's TeX source, for machines
        return
    children = [c for c in node if isinstance(c.tag, str)]
    if tag in MATH_SCRIPTS and len(children) >= 2:
        _math_into(children[0], out)
        for kind, child in zip(MATH_SCRIPTS[tag], children[1:], strict=False):
            script = etree.SubElement(out, kind)
            script.text = ""
            _math_into(child, script)
            script.tail = ""
        return
    if tag in MATH_TOKENS or not children:
        text = " ".join("".join(node.itertext()).split())
        _append_text(out, f" {text} " if tag == "mo" and text else text)
        return
    for index, child in enumerate(children):
        if tag == "mfrac" and index == 1:
            _append_text(out, " / ")
        _math_into(child, out)


def _fallback_reason(kept: int, fallback: int) -> str:
    if kept == 0:
        return "the extractor found no main text" if fallback else ""
    if kept < FALLBACK_SHARE * fallback and fallback - kept >= FALLBACK_MIN_CHARS:
        return f"the extractor kept {kept} characters of the {fallback} in the page's article"
    return ""


def _share(part: int, whole: int) -> float:
    return round(min(part / whole, 1.0), 2)


def _trafilatura(tree: lxml.html.HtmlElement):
    import trafilatura  # imported on first use: ~0.3 s, and only full pages need it

    try:
        # No URL: relative links and images stay relative, for clean.py to look for a saved page's own files first
        # and to resolve the rest against the page's address.
        document = trafilatura.bare_extraction(_copy(tree), **OPTIONS)
    except Exception:  # noqa: BLE001 - a bug in the extractor must not stop the build: the fallback reads the page
        return None
    return getattr(document, "body", None) if document is not None else None


def _readability(tree: lxml.html.HtmlElement) -> str:
    """readability-lxml's reading of the page as an HTML fragment (relative links kept, as for trafilatura), or ''."""
    try:
        summary = _reader()(_copy(tree)).summary(html_partial=True)
    except Exception:  # noqa: BLE001 - a bug in the second engine must not stop the build: trafilatura's reading stands
        return ""
    # A fragment (`<div>…`); a page without a body comes back whole, its <head> the only text: nothing read.
    return summary if summary.lstrip().startswith("<div") and visible_chars(_text(summary)) else ""


@functools.cache
def _reader():
    """readability-lxml's Document, with its link density measured in one pass over the text: the library's runs
    three regular expressions over the text of every candidate and of each of its links (half its time on a news
    page); white space collapsed by `split` gives the same lengths but for runs of mixed white space, and the same
    readings on extraction-dev."""
    from readability import Document  # imported on first use, like trafilatura

    class Reader(Document):
        def get_link_density(self, elem):
            links = sum(_collapsed_length(a) for a in elem.iterdescendants("a"))
            return links / max(_collapsed_length(elem), 1)

    return Reader


def _collapsed_length(element) -> int:
    return len(" ".join(element.text_content().split()))


def _copy(tree):
    return copy.deepcopy(tree)


def _text(fragment: str) -> str:
    if not fragment.strip():
        return ""
    try:
        return " ".join(lxml.html.fragment_fromstring(fragment, create_parent="div").itertext())
    except (etree.ParserError, AssertionError, ValueError):  # lxml asserts on a whole document without a body
        return re.sub(r"<[^>]*>", " ", fragment)


def _caption_texts(tree: lxml.html.HtmlElement) -> set[str]:
    """The page's figure captions, to give images their captions back (trafilatura keeps them as text)."""
    return {key for caption in tree.iter("figcaption") if len(key := text_key(" ".join(caption.itertext()))) >= 4}


def text_key(text: str) -> str:
    """Text compared without case, spaces or punctuation (captions, standfirsts)."""
    return re.sub(r"\W+", "", text or "").lower()


def _to_html(body, captions: set[str]) -> str:
    """trafilatura's XML tree as plain HTML."""
    root = lxml.html.Element("div")
    root.text = body.text
    for child in body:
        root.append(_convert(child))
    _unwrap_inline_blocks(root)
    _make_figures(root, captions)
    parts = [lxml.html.tostring(child, encoding="unicode") for child in root]
    return (root.text or "") + "".join(parts)


def _convert(element):
    """One XML element (and its subtree) as an HTML element, with only href/src/alt kept."""
    tag = element.tag if isinstance(element.tag, str) else ""
    out = lxml.html.Element(_html_tag(element, tag))
    if out.tag == "a":
        target = (element.get("target") or "").strip()
        if target:
            out.set("href", target)  # resolved (safely) by clean.py against the page's URL
    elif out.tag == "img":
        src = (element.get("src") or element.get("data-src") or "").strip()
        out.set("src", src)  # kept relative: clean.py looks for a saved page's own files first
        out.set("alt", element.get("alt") or element.get("title") or "")
    out.text = element.text
    for child in element:
        if not isinstance(child.tag, str):  # a comment or processing instruction: keep its tail only
            _append_text(out, child.tail)
            continue
        out.append(_convert(child))
    out.tail = element.tail
    if out.tag in ("img", "br"):
        # trafilatura can leave text inside an image (its credit, the next sentence): an HTML image holds none and
        # the serializer would drop it, so it follows the image
        inner = "".join(out.itertext())
        out.text = None
        for child in list(out):
            out.remove(child)
        out.tail = inner + (out.tail or "")
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
    key = text_key(" ".join(element.itertext()))
    return len(key) >= 4 and any(key == c or key.startswith(c) or c.startswith(key) for c in captions)
