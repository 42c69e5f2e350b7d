"""Text-level typography over each article's body HTML: what CSS engines do not do for Chinese yet.

Every pass only adds markup around existing characters; no character is inserted or removed, so the text
that a reader copies or searches in the EPUB or the PDF is the article's text.

- CJK–Latin spacing (clreq 3.4 / CSS `text-autospace`, which neither WeasyPrint nor most e-readers do):
  a run of Latin letters or digits that touches a Han/kana character is wrapped in
  `<span class="cjk-latin sp-start|sp-end">`; the theme gives those sides a margin of 1/8–1/4 em.
  The PDF writer's justification extension drops the margin at line edges.
- Punctuation compression (clreq 3.1.6; the Noto CJK fonts have `halt` but not `chws`): in a pair of adjacent
  full-width marks, the one whose blank half faces the other is wrapped in `<span class="halt">`, and the
  theme sets `font-feature-settings: "halt"` on it, so `。」` `，“` `）。` take 1.5 em instead of 2.
- Upright numbers for vertical text: a standalone run of one or two digits gets `tcy` (text-combine-upright).
- Headings never end on a line of one character (clreq 3.1.7 for titles): the last two Han characters of a
  title are kept together (`<span class="keep">`, `white-space: nowrap`).
- Language tags normalised (zh-CN → zh-Hans, zh-TW → zh-Hant), so the right SC/TC glyphs are chosen.
- Simplified ↔ Traditional editions with OpenCC, phrase-level (`s2twp` / `tw2sp`), reported per article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape, unescape

from bs4 import BeautifulSoup, NavigableString, PageElement, Tag

from compile.model import Anthology, Article
from compile.text import HAN, HAN_SUPPLEMENTARY, KANA, theme_language

AUTOSPACE_CLASS = "cjk-latin"
HALT_CLASS = "halt"
TCY_CLASS = "tcy"
KEEP_CLASS = "keep"

CJK = KANA + HAN + HAN_SUPPLEMENTARY
CJK_RE = re.compile(f"[{CJK}]")
LATIN = "A-Za-z0-9\u00c0-\u024f"
# A Latin/digit run: starts and ends with a letter or digit; may hold spaces and word punctuation inside.
LATIN_RUN = re.compile(rf"[{LATIN}](?:[{LATIN}.,'’%&+\-/:_ ]*[{LATIN}])?")
# Full-width marks whose blank half is on the right (closing) or on the left (opening), in SC fonts.
CLOSING = set("。．，、；：？！）］｝〕〉》」』】〗’”")
OPENING = set("（［｛〔〈《「『【〖‘“")
SKIP_TAGS = {"pre", "code", "kbd", "samp", "script", "style", "math", "svg"}
BLOCK_TAGS = {"p", "div", "li", "blockquote", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "td",
              "th", "dd", "dt", "section", "article", "header", "footer", "ul", "ol", "table", "tr", "br", "hr"}

SCRIPTS = {"hant": ("zh-Hant", "s2twp"), "hans": ("zh-Hans", "tw2sp")}


# --- One text node --------------------------------------------------------------------------------------

@dataclass
class Piece:
    text: str
    classes: tuple[str, ...] = ()


def keep_end(text: str) -> str:
    """HTML for a title whose last two characters, when Han, stay on one line (no lone character last)."""
    import html

    tail = re.search(f"[{CJK}]{{2}}[^{CJK}\\s]*$", text)
    if not tail or tail.start() == 0:
        return html.escape(text, quote=False)
    head, end = text[:tail.start()], text[tail.start():]
    return f'{html.escape(head, quote=False)}<span class="{KEEP_CLASS}">{html.escape(end, quote=False)}</span>'


def halt_positions(text: str, before: str, after: str) -> set[int]:
    """Indexes of marks to set half-width: the closing mark of a pair, or the second of two opening ones."""
    found = set()
    full = before + text + after
    offset = len(before)
    for i in range(len(full) - 1):
        a, b = full[i], full[i + 1]
        if a in CLOSING and (b in CLOSING or b in OPENING):
            target = i
        elif a in OPENING and b in OPENING:
            target = i + 1
        else:
            continue
        if 0 <= target - offset < len(text):
            found.add(target - offset)
    return found


def split_text(text: str, before: str, after: str) -> list[Piece]:
    """Cut one text node into plain pieces and pieces that need a span; `before`/`after`: neighbouring chars."""
    marks: dict[int, tuple[int, tuple[str, ...]]] = {}
    for match in LATIN_RUN.finditer(text):
        start, end = match.span()
        prev = text[start - 1] if start else before
        nxt = text[end] if end < len(text) else after
        classes = []
        if prev and CJK_RE.match(prev):
            classes.append("sp-start")
        if nxt and CJK_RE.match(nxt):
            classes.append("sp-end")
        token = match.group()
        tcy = token.isdigit() and len(token) <= 2 and not (prev.isdigit() or nxt.isdigit())
        if classes or tcy:
            names = ((AUTOSPACE_CLASS, *classes) if classes else ()) + ((TCY_CLASS,) if tcy else ())
            marks[start] = (end, names)
    for index in halt_positions(text, before[-1:], after[:1]):
        if not any(start <= index < end for start, (end, _) in marks.items()):
            marks[index] = (index + 1, (HALT_CLASS,))
    pieces, position = [], 0
    for start in sorted(marks):
        end, names = marks[start]
        if start > position:
            pieces.append(Piece(text[position:start]))
        pieces.append(Piece(text[start:end], names))
        position = end
    if position < len(text):
        pieces.append(Piece(text[position:]))
    return pieces


# --- A whole body -----------------------------------------------------------------------------------------

def _block_of(node) -> Tag | None:
    for parent in node.parents:
        if parent.name in BLOCK_TAGS or parent.name in ("[document]", "body"):
            return parent
    return None


TYPESET_CLASSES = {AUTOSPACE_CLASS, HALT_CLASS, TCY_CLASS}


def _skipped(node) -> bool:
    """Code is left alone, and so is text already marked by a previous pass (the pass is idempotent)."""
    return any(parent.name in SKIP_TAGS or TYPESET_CLASSES & set(parent.get("class") or ())
               for parent in node.parents)


def typeset_html(html: str) -> str:
    """Apply the spacing, compression and upright-number markup to an HTML fragment."""
    # Text alone (titles, dates: ~1,200 calls a 300-article book) needs no parser, unless it is blank:
    # BeautifulSoup reads a blank text node as one space (or newline), and so must this.
    if "<" not in html and html.strip(" \t\n\r\f"):
        return "".join(f'<span class="{" ".join(piece.classes)}">{escape(piece.text, quote=False)}</span>'
                       if piece.classes else escape(piece.text, quote=False)
                       for piece in split_text(unescape(html), "", ""))
    return _typeset_tree(html)


def _typeset_tree(html: str) -> str:
    soup = BeautifulSoup(f"<div id='typeset-root'>{html}</div>", "lxml")
    root = soup.find(id="typeset-root")
    assert root is not None  # the div written around the fragment
    nodes = [n for n in root.find_all(string=True) if type(n) is NavigableString]
    blocks = [_block_of(n) for n in nodes]
    for i, node in enumerate(nodes):
        text = str(node)
        if not text or _skipped(node):
            continue
        before = str(nodes[i - 1])[-1:] if i and blocks[i - 1] is blocks[i] else ""
        after = str(nodes[i + 1])[:1] if i + 1 < len(nodes) and blocks[i + 1] is blocks[i] else ""
        pieces = split_text(text, before, after)
        if len(pieces) == 1 and not pieces[0].classes:
            continue
        replacement: list[PageElement] = []
        for piece in pieces:
            if piece.classes:
                span = soup.new_tag("span", attrs={"class": " ".join(piece.classes)})
                span.string = piece.text
                replacement.append(span)
            else:
                replacement.append(NavigableString(piece.text))
        node.replace_with(*replacement)
    return root.decode_contents()


# --- Simplified <-> Traditional ----------------------------------------------------------------------------

def converter(script: str):
    """An OpenCC converter for 'hant' or 'hans' (phrase-level profiles: 软件 -> 軟體, not 軟件)."""
    import opencc  # noqa: PLC0415 - only needed for converted editions

    return opencc.OpenCC(SCRIPTS[script][1])


def convert_html(html: str, convert) -> tuple[str, int]:
    """Convert the text nodes (never tags, attributes or URLs); returns the HTML and how many chars changed."""
    soup = BeautifulSoup(f"<div id='typeset-root'>{html}</div>", "lxml")
    root = soup.find(id="typeset-root")
    assert root is not None  # the div written around the fragment
    changed = 0
    for node in root.find_all(string=True):
        if type(node) is not NavigableString or _skipped(node):
            continue
        text = str(node)
        new = convert(text)
        if new != text:
            changed += sum(1 for a, b in zip(text, new, strict=False) if a != b) + abs(len(new) - len(text))
            node.replace_with(NavigableString(new))
    return root.decode_contents(), changed


def convert_article(article: Article, script: str, convert) -> dict:
    """Convert one Chinese article in place; returns its report entry."""
    target_language = SCRIPTS[script][0]
    entry = {"to": target_language, "from": article.language or "", "profile": SCRIPTS[script][1],
             "changed_characters": 0}
    if not (article.language or "").startswith("zh"):
        entry["skipped"] = "not a Chinese article"
        return entry
    article.body, changed = convert_html(article.body, convert)
    new_title = convert(article.title)
    changed += sum(1 for a, b in zip(article.title, new_title, strict=False) if a != b)
    article.title = new_title
    article.outlet = convert(article.outlet)
    for image in article.images:
        image.caption, image.alt = convert(image.caption), convert(image.alt)
    article.language = target_language
    entry["changed_characters"] = changed
    return entry


# --- The pipeline stage -------------------------------------------------------------------------------------

def typeset(anthology: Anthology, script: str = "") -> dict[str, dict]:
    """Normalise languages, convert the script if asked, add typographic markup. Returns per-article
    script reports (empty without `script`)."""
    reports: dict[str, dict] = {}
    convert = converter(script).convert if script else None
    if convert is not None:
        anthology.title, anthology.subtitle = convert(anthology.title), convert(anthology.subtitle)
        anthology.editor = convert(anthology.editor)
        if anthology.language.startswith("zh"):
            anthology.language = SCRIPTS[script][0]
        for section in anthology.sections:
            section.title = convert(section.title)
    anthology.language = theme_language(anthology.language)
    for article in anthology.articles:
        article.language = theme_language(article.language)
        if convert is not None:
            reports[article.id] = convert_article(article, script, convert)
        article.body = typeset_html(article.body)
    return reports
