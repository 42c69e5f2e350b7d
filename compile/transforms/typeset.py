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
- Upright numbers for vertical text: a standalone run of one or two digits gets `tcy` (text-combine-upright);
  a longer one (a year), a capital and an acronym (X, GDP, G20: up to five capitals or digits) get `upright`,
  set one character a cell, as jlreq 3.2.3 advises; words and decimals lie sideways. Horizontal themes ignore both.
- Line breaking (clreq 3.1.7), with spans only: a title breaks between its clauses (each clause that surely fits
  the title's measure is a `<span class="clause">`, `white-space: nowrap` in print.css) and its last three
  characters are kept together (`<span class="keep">`); a paragraph's last two Han characters are kept together,
  a heading's last three, so that no last line holds one character; and a break is allowed before “ and after ”
  between Han characters (Unicode LB19a, which Pango predates), with `<wbr>`: an element, not a character.
- Language tags normalised (zh-CN → zh-Hans, zh-TW → zh-Hant), so the right SC/TC glyphs are chosen.
- Simplified ↔ Traditional editions with OpenCC, character by character unless a phrase-level profile is chosen,
  protected words left as written, “” ‘’ set as 「」 『』 in Traditional editions; counted per article.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from html import escape, unescape
from typing import TypeVar

from lxml import etree

from compile import fragment
from compile.fragment import Text
from compile.model import Anthology, Article
from compile.text import HAN, HAN_SUPPLEMENTARY, KANA, SCRIPT_LANGUAGES, theme_language

T = TypeVar("T")
R = TypeVar("R")

AUTOSPACE_CLASS = "cjk-latin"
HALT_CLASS = "halt"
TCY_CLASS = "tcy"
UPRIGHT_CLASS = "upright"
ACRONYM = re.compile(r"(?=.*[A-Z])[A-Z0-9]{1,5}")
KEEP_CLASS = "keep"
CLAUSE_CLASS = "clause"

CJK = KANA + HAN + HAN_SUPPLEMENTARY
CJK_RE = re.compile(f"[{CJK}]")
LATIN = "A-Za-z0-9\u00c0-\u024f"
# A Latin/digit run: starts and ends with a letter or digit; may hold spaces and word punctuation inside.
LATIN_RUN = re.compile(rf"[{LATIN}](?:[{LATIN}.,'’%&+\-/:_ ]*[{LATIN}])?")
# Full-width marks whose blank half is on the right (closing) or on the left (opening), in SC fonts.
CLOSING = set("。．，、；：？！）］｝〕〉》」』】〗’”")
OPENING = set("（［｛〔〈《「『【〖‘“")
# Marks that TC faces centre in their cell (blank on both sides): halved, they crowd their neighbours, so in
# Traditional text a pair gives up the blank half of its bracket instead (」，「: 」 and 「, not the comma).
CENTRED = frozenset("。．，、；：？！")
SKIP_TAGS = {"pre", "code", "kbd", "samp", "script", "style", "math", "svg"}
BLOCK_TAGS = {"p", "div", "li", "blockquote", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "td",
              "th", "dd", "dt", "section", "article", "header", "footer", "ul", "ol", "table", "tr", "br", "hr"}


# --- One text node --------------------------------------------------------------------------------------

@dataclass
class Piece:
    text: str
    classes: tuple[str, ...] = ()
    tag: str = "span"  # or "wbr": a break opportunity, no text


# --- Line breaking: titles --------------------------------------------------------------------------------

# A clause ends after one of these marks (with the closing marks that follow it: `？”`); 、 joins the items of
# one clause. A run of spaces between clauses is a boundary too, unless it is a space between two Latin words.
CLAUSE_END = re.compile(f"[，；：！？。][{''.join(sorted(CLOSING))}]*")
CLAUSE_SPACE = re.compile("[ \u3000]+")
LATIN_EDGES = re.compile(f"[{LATIN}] +[{LATIN}]")  # a space between two Latin words
# A clause is kept on one line only when it surely fits the narrowest title measure of the themes (book:
# 325.5pt at 14pt, 23 characters): a longer one breaks inside, as text does. A `short` one fits the book's title
# page too (22pt, 14.8 characters).
CLAUSE_EM, SHORT_CLAUSE_EM = 20, 14
# The last line of a title or heading holds at least three characters, a paragraph's at least two. A unit is a
# Han character or, in a title, a short Latin word (a long one, a URL, must stay free to wrap), with the marks
# after it (none may start a line).
HEAD_KEEP, PARAGRAPH_KEEP = 3, 2
MARKS = f"[^{CJK}{LATIN}\\s]*"
UNIT = f"(?:[{CJK}]|(?<![{LATIN}])[{LATIN}]{{1,12}}(?![{LATIN}])){MARKS}"


@functools.lru_cache(maxsize=16384)  # a title runs in its heading, the contents and each part that lists it
def keep_end(text: str) -> str:
    """HTML for a title (plain text) that breaks between its clauses and never leaves fewer than three
    characters on its last line."""
    parts = _clauses(text)
    for i in range(len(parts) - 1, 1, -2):  # marks alone (the dash of `A – B`) end the clause before them
        if not re.search(UNIT, parts[i]):
            parts[i - 2:i + 1] = ["".join(parts[i - 2:i + 1])]
    while len(parts) > 2 and len(re.findall(UNIT, parts[-1])) < HEAD_KEEP:  # a short last clause: with the one before
        parts[-3:] = ["".join(parts[-3:])]
    html = []
    for i, part in enumerate(parts):
        inner = _keep_tail(part, HEAD_KEEP) if i == len(parts) - 1 else escape(part, quote=False)
        if i % 2 == 0 and len(parts) > 1 and _width(part) <= CLAUSE_EM:
            short = " short" if _width(part) <= SHORT_CLAUSE_EM else ""
            inner = f'<span class="{CLAUSE_CLASS}{short}">{inner}</span>'
        html.append(inner or "<wbr/>")  # between clauses a line may break, even before “ (no space, no LB19a)
    return "".join(html)


def _clauses(text: str) -> list[str]:
    """The clauses of a title at even indexes, the spaces between them (maybe empty) at odd ones."""
    parts: list[str] = []
    position = 0
    for match in CLAUSE_SPACE.finditer(text):
        start, end = match.span()
        if start == 0 or end == len(text) or (match.group().isascii() and LATIN_EDGES.match(text, start - 1)):
            continue
        parts += [*_cut(text[position:start]), match.group()]
        position = end
    return parts + _cut(text[position:])


def _cut(text: str) -> list[str]:
    """One stretch without clause spaces, cut after each clause-ending mark (no space between)."""
    ends = [m.end() for m in CLAUSE_END.finditer(text) if m.end() < len(text)]
    pieces = [text[a:b] for a, b in zip([0, *ends], [*ends, len(text)], strict=True)]
    return [piece for part in pieces for piece in (part, "")][:-1]


def _run_start(text: str, start: int) -> int | None:
    """Where a kept tail starting at `start` must start so as not to cut a Latin run (`19.5`, `x.com`), which
    the autospace pass marks whole; None if that run is too long to keep on one line (a URL)."""
    for run in LATIN_RUN.finditer(text, max(0, start - 40)):
        if run.start() < start < run.end():
            return run.start() if run.end() - run.start() <= 12 else None
        if run.start() >= start:
            break
    return start


def _width(text: str) -> float:
    """A generous width in em: full-width characters 1, others (Latin, digits) 0.6."""
    return sum(1 if ord(char) >= 0x2e80 or char in "“”‘’" else 0.6 for char in text)


def _keep_tail(text: str, count: int) -> str:
    """`text` escaped, its last `count` characters (and the marks after them) in a nowrap span."""
    tail = re.search(f"(?:{UNIT}){{{count}}}$", text)
    start = _run_start(text, tail.start()) if tail else None
    if not start:
        return escape(text, quote=False)
    head, end = text[:start], text[start:]
    return f'{escape(head, quote=False)}<span class="{KEEP_CLASS}">{escape(end, quote=False)}</span>'


def halt_positions(text: str, before: str, after: str, centred: Collection[str] = ()) -> set[int]:
    """Indexes of marks to set half-width: the closing mark of a pair, or the second of two opening ones.
    `centred`: marks the face centres (CENTRED in Traditional text), never halved: a bracket beside one is."""
    found = set()
    full = before + text + after
    offset = len(before)
    for match in _pairs(frozenset(centred)).finditer(full):
        i = match.start()
        target = i + 1 if full[i] in centred or full[i] in OPENING else i
        if 0 <= target - offset < len(text):
            found.add(target - offset)
    return found


@functools.lru_cache(maxsize=4)
def _pairs(centred: frozenset[str]) -> re.Pattern[str]:
    """Where a pair of marks starts (a lookahead: pairs overlap in `。」」`): a centred mark and an opening one;
    a closing mark (not centred) and a closing or opening one; two opening ones."""
    def chars(marks: Collection[str]) -> str:
        return "[" + "".join(re.escape(mark) for mark in sorted(marks)) + "]" if marks else "(?!)"
    return re.compile(f"(?=(?:{chars(centred)}{chars(OPENING)}|{chars(CLOSING - centred)}{chars(CLOSING | OPENING)}"
                      f"|{chars(OPENING - centred)}{chars(OPENING)}))")


def split_text(text: str, before: str, after: str, centred: Collection[str] = ()) -> list[Piece]:
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
        upright = not tcy and (token.isdigit() or ACRONYM.fullmatch(token) is not None)
        if classes or tcy or upright:
            names = ((AUTOSPACE_CLASS, *classes) if classes else ()) + ((TCY_CLASS,) if tcy else ()) + \
                ((UPRIGHT_CLASS,) if upright else ())
            marks[start] = (end, names)
        if token.isdigit() and nxt == "%" and end < len(text):  # 10%: the sign stands upright below the number
            marks[end] = (end + 1, (UPRIGHT_CLASS,))
    marked = {index for start, (end, _) in marks.items() for index in range(start, end)}
    for index in halt_positions(text, before[-1:], after[:1], centred):
        if index not in marked:  # a mark inside a Latin run stays in its span
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
    return _with_breaks(pieces, break_positions(text, before[-1:], after[:1]))


# --- Line breaking: quotation marks between Han characters (Unicode LB19a) -------------------------------

# Pango applies UAX #14 before 15.1: no break on either side of a quotation mark (LB19), so `他说“我们”的` only
# breaks outside the quotation, and a line that would end at “ is letter-spaced instead. LB19a allows the break
# before “ and after ” when East Asian characters surround them.
BEFORE_OPENING = set("，。、；：？！）」』》】")  # besides Han: marks a line may end with
QUOTE_OPEN, QUOTE_CLOSE = "“‘", "”’"
QUOTES = re.compile(f"[{QUOTE_OPEN}{QUOTE_CLOSE}]")


def break_positions(text: str, before: str = "", after: str = "") -> list[int]:
    """Where a break may go, by LB19a, that Pango does not allow: before an opening quotation mark that follows
    a Han character (or a mark that may end a line) and opens on one, after a closing one between a Han
    character (or a mark a quotation may end with) and a Han character. Indexes into `text`; a mark of a
    neighbouring text node is that node's to mark."""
    full = before + text + after
    offset, found = len(before), []
    for match in QUOTES.finditer(full, offset, offset + len(text)):
        i, char = match.start(), match.group()
        if char in QUOTE_OPEN and 0 < i < len(full) - 1 and _han(full[i + 1]) and \
                (_han(full[i - 1]) or full[i - 1] in BEFORE_OPENING):
            found.append(i - offset)
        elif char in QUOTE_CLOSE and 0 < i < len(full) - 1 and _han(full[i + 1]) and \
                (_han(full[i - 1]) or full[i - 1] in "。？！…"):
            found.append(i + 1 - offset)
    return found


def _han(char: str) -> bool:
    return bool(CJK_RE.match(char))


def _with_breaks(pieces: list[Piece], positions: list[int]) -> list[Piece]:
    """`pieces` with a `<wbr>` at each position that falls in plain text or between two pieces."""
    if not positions:
        return pieces
    out, start, wanted = [], 0, sorted(positions)
    next_cut = 0  # the positions are taken in order, each by the piece it falls in (a long text has thousands)
    for piece in pieces:
        end = start + len(piece.text)
        cuts = []
        while next_cut < len(wanted) and wanted[next_cut] < end:
            if wanted[next_cut] == start or not piece.classes:
                cuts.append(wanted[next_cut] - start)
            next_cut += 1
        at = 0
        for cut in cuts:
            if cut > at:
                out.append(Piece(piece.text[at:cut], piece.classes))
            out.append(Piece("", (), "wbr"))
            at = cut
        out.append(Piece(piece.text[at:], piece.classes))
        start = end
    if wanted[-1] == start:
        out.append(Piece("", (), "wbr"))
    return out


def _piece_html(piece: Piece) -> str:
    if piece.tag == "wbr":
        return "<wbr/>"
    text = escape(piece.text, quote=False)
    return f'<span class="{" ".join(piece.classes)}">{text}</span>' if piece.classes else text


# --- Line breaking: the ends of paragraphs and headings ---------------------------------------------------

# Blocks whose last line must not hold one lone character, and how many characters their last line keeps.
KEPT_ENDS = {"p": PARAGRAPH_KEEP, "li": PARAGRAPH_KEEP, "dd": PARAGRAPH_KEEP, "blockquote": PARAGRAPH_KEEP,
             "figcaption": PARAGRAPH_KEEP, "h2": HEAD_KEEP, "h3": HEAD_KEEP, "h4": HEAD_KEEP, "h5": HEAD_KEEP,
             "h6": HEAD_KEEP}
KEPT_TAILS = {count: re.compile(f"(?:{UNIT}){{{count}}}\\s*$") for count in set(KEPT_ENDS.values())}
TRAILING_MARKS = re.compile(f"[^{CJK}{LATIN}]*$")


def keep_ends(root: etree._Element, skipped: _Skipped) -> None:
    """Wrap the last characters of each paragraph (two) and heading (three) in a nowrap span, with the marks
    after them: the line before gives up a character rather than leave one alone."""
    by_block: dict[etree._Element, list[Text]] = {}
    for node in fragment.strings(root):
        block = _block_of(node)
        if block is not None and block.tag in KEPT_ENDS:
            by_block.setdefault(block, []).append(node)
    for block, texts in by_block.items():
        _keep_end_of(block, texts, skipped)


def _keep_end_of(block: etree._Element, texts: list[Text], skipped: _Skipped) -> None:
    values = [text.value for text in texts]
    joined = "".join(values)
    match = KEPT_TAILS[KEPT_ENDS[block.tag]].search(joined)
    begin = _run_start(joined, match.start()) if match else None
    if not match or not begin:
        return
    first, offset = _locate(texts, values, begin)
    # The span ends with the last character: the marks after it may not start a line anyway.
    last, _ = _locate(texts, values, match.start() + len(TRAILING_MARKS.sub("", match.group())) - 1)
    if skipped(first) or skipped(last) or any(KEEP_CLASS in _classes(p) for p in fragment.ancestors(first)):
        return
    start: fragment.Node = first
    while not offset and (up := fragment.parent_of(start)) is not None and up is not block and \
            fragment.first_string(up) == first and not fragment.within(last, up):
        start = up  # `体<b>制</b>`: the span starts with the element the characters start in
    parent = fragment.parent_of(start)
    top = next((a for a in [last, *fragment.ancestors(last)] if fragment.parent_of(a) is parent), None)
    if parent is None or top is None:  # the characters lie in different elements: left as they are
        return
    siblings = fragment.children(parent)
    begin_at = siblings.index(start)
    wrapped = siblings[begin_at:next(i for i in range(begin_at, len(siblings)) if siblings[i] == top) + 1]
    if any(fragment.name(s) in BLOCK_TAGS for s in wrapped):  # a <br> between them
        return
    fragment.wrap(wrapped, fragment.new("span", KEEP_CLASS), offset)



def _locate(texts: list[Text], values: list[str], index: int) -> tuple[Text, int]:
    """The text node holding character `index` of the block's joined text, and the offset in it."""
    for node, value in zip(texts, values, strict=True):
        if index < len(value):
            return node, index
        index -= len(value)
    raise IndexError(index)


# --- A whole body -----------------------------------------------------------------------------------------

def _classes(element: etree._Element) -> list[str]:
    return (element.get("class") or "").split()


def _block_of(node: fragment.Node) -> etree._Element | None:
    for parent in fragment.ancestors(node):
        if parent.tag in BLOCK_TAGS or parent.tag == "body":
            return parent
    return None


TYPESET_CLASSES = {AUTOSPACE_CLASS, HALT_CLASS, TCY_CLASS, UPRIGHT_CLASS}


class _Skipped:
    """Whether a string is left alone: code is, and so is text already marked by a previous pass (the pass is
    idempotent). Each element is judged once (strings share their parents); marking adds no such element."""

    def __init__(self) -> None:
        self.judged: dict[etree._Element, bool] = {}

    def __call__(self, node: fragment.Node) -> bool:
        chain = []
        element = fragment.parent_of(node)
        while element is not None and element not in self.judged:
            chain.append(element)
            element = element.getparent()
        verdict = self.judged[element] if element is not None else False
        for element in reversed(chain):
            verdict = verdict or element.tag in SKIP_TAGS or bool(TYPESET_CLASSES.intersection(_classes(element)))
            self.judged[element] = verdict
        return verdict


def typeset_html(html: str, centred: Collection[str] = ()) -> str:
    """Apply the spacing, compression and upright-number markup to an HTML fragment (`centred`: CENTRED for
    Traditional text)."""
    # Text alone (titles, dates: ~1,200 calls a 300-article book) needs no parser, unless it is blank:
    # BeautifulSoup reads a blank text node as one space (or newline), and so must this.
    if "<" not in html and html.strip(" \t\n\r\f"):
        return _typeset_text(html, frozenset(centred)) if len(html) <= SHORT_HTML else _text_html(html, centred)
    if len(html) <= SHORT_HTML:
        return _typeset_short(html, frozenset(centred))
    return _typeset_tree(html, centred)


SHORT_HTML = 2000  # characters: a title's markup, not a body
SHORT_CACHE = 16384  # entries: a title's markup runs in its heading, the contents and every part listing it
_SHORT: dict[tuple[str, frozenset[str]], str] = {}
_TEXTS: dict[tuple[str, frozenset[str]], str] = {}


def _typeset_text(text: str, centred: frozenset[str]) -> str:
    """A short text is typeset once per process: an outlet's name, a date, a label run in every article's header
    and again in the parts (a 1,000-article EPUB typeset ~11,000 such texts, most of them the same few)."""
    return _once(_TEXTS, (text, centred), lambda: _text_html(text, centred))


def _text_html(text: str, centred: Collection[str]) -> str:
    return "".join(_piece_html(piece) for piece in split_text(unescape(text), "", "", centred))


def _typeset_short(html: str, centred: frozenset[str]) -> str:
    """A title's markup (clauses kept together) is typeset once, wherever it runs: its heading, the contents,
    the chronology, the sources, the outlet index; in a writer's worker process or in the build's."""
    return _once(_SHORT, (html, centred), lambda: _typeset_tree(html, centred))


def _once(done: dict[tuple[str, frozenset[str]], str], key: tuple[str, frozenset[str]],
          make: Callable[[], str]) -> str:
    """`done[key]`, made first if missing; `done` is emptied when it holds SHORT_CACHE entries."""
    found = done.get(key)
    if found is None:
        if len(done) >= SHORT_CACHE:
            done.clear()
        found = done[key] = make()
    return found


def recording(work: Callable[[T], R]) -> Callable[[T], tuple[R, dict]]:
    """`work` that also returns the short markup it typeset (all the cache holds if it was emptied meanwhile):
    a writer's worker process hands it back for the build's process to `learn`, so the contents and the parts
    reuse what the workers made for the articles' titles."""

    def recorded(item: T) -> tuple[R, dict]:
        mark = len(_SHORT)
        result = work(item)
        return result, dict(itertools.islice(_SHORT.items(), mark if mark <= len(_SHORT) else 0, None))

    return recorded


def learn(done: dict[tuple[str, frozenset[str]], str]) -> None:
    if len(_SHORT) + len(done) > SHORT_CACHE:
        _SHORT.clear()
    _SHORT.update(done)


def _typeset_tree(html: str, centred: Collection[str] = ()) -> str:
    root = fragment.parse(html)
    if "<em" in html:
        _latin_emphasis(root)
    skipped = _Skipped()
    keep_ends(root, skipped)
    nodes = fragment.strings(root)
    texts = [node.value for node in nodes]  # as they were: a node replaced is still its old text to the next
    blocks = [_block_of(n) for n in nodes]
    for i, node in enumerate(nodes):
        text = texts[i]
        if not text or skipped(node):
            continue
        before = texts[i - 1][-1:] if i and blocks[i - 1] is blocks[i] else ""
        after = texts[i + 1][:1] if i + 1 < len(nodes) and blocks[i + 1] is blocks[i] else ""
        pieces = split_text(text, before, after, centred)
        if pieces[0].tag == "wbr" and _is_break(_neighbour(node, root, after=False)):  # there already
            pieces = pieces[1:]
        if pieces[-1].tag == "wbr" and _is_break(_neighbour(node, root, after=True)):
            pieces = pieces[:-1]
        if len(pieces) == 1 and not pieces[0].classes and pieces[0].tag == "span":
            continue
        fragment.replace(node, [_piece_node(piece) for piece in pieces])
    return fragment.inner_html(root)


LATIN_EM_CLASS = "latin-em"
_CJK_CHARACTER = re.compile(f"[{CJK}]")


def _latin_emphasis(root: etree._Element) -> None:
    """Emphasis dots are for Han and kana (clreq 3.2.5): an <em> without any (`<em>requirements.txt</em>` in a
    Chinese text) is marked, and the themes set it as Latin emphasis is set, in italics."""
    for em in fragment.tags(root, ["em"]):
        if not _CJK_CHARACTER.search(fragment.get_text(em)) and fragment.has_text(em):
            em.set("class", " ".join([*_classes(em), LATIN_EM_CLASS]))


def _piece_node(piece: Piece) -> str | etree._Element:
    if piece.tag == "wbr":
        return fragment.new("wbr")
    return fragment.new("span", " ".join(piece.classes), piece.text) if piece.classes else piece.text


def _is_break(node: fragment.Node | None) -> bool:
    return fragment.name(node) == "wbr"


def _neighbour(node: fragment.Node, root: etree._Element, after: bool) -> fragment.Node | None:
    """The node just before (or after) `node` in the text, out of the elements it opens (or closes)."""
    while (found := fragment.sibling(node, after)) is None and \
            (parent := fragment.parent_of(node)) is not None and parent is not root:
        node = parent
    return found


# --- Simplified <-> Traditional ----------------------------------------------------------------------------

# Character by character unless a phrase-level profile is chosen ([conversion] profile in anthology.toml): s2tw
# maps characters (its phrase table only picks among one-to-many mappings: 头发 -> 頭髮, 发展 -> 發展) to Taiwan's
# standard forms (為, 裡, 著: what the TC faces draw and zh-Hant readers expect, where s2t gives OpenCC's 爲, 裏,
# 着), and never replaces a word, where s2twp changes what a text says (支持 -> 支援, 程序 -> 程式).
PROFILES = {"hant": "s2tw", "hans": "tw2s"}  # the default OpenCC profile of each direction
# Where OpenCC's phrase table takes a measure word for a word (个中, "therein", -> 箇中): 一个中国 would read
# 一箇中國 in every profile. Fixed like a user's [conversion.words] entry; the user's own entries win.
KNOWN_SLIPS = {"hant": {"一个中": "一個中"}, "hans": {}}
# Quotation marks of Traditional editions (clreq 3.1.3): corner brackets, the double ones inside the single ones.
CORNERS = (("「", "」"), ("『", "』"))
QUOTE_ENDS = set("。．，、；：？！）］〕〉》」』】…—")  # what follows a closing quotation mark, never an opening one
LETTER = re.compile(f"[{LATIN}]")


class Conversion:
    """One edition's conversion: its OpenCC profile, the words it leaves as written (`protect`) or converts as
    the user says (`words`: 沈阳 -> 沈陽, the person, where OpenCC writes the city 瀋陽), its quotation marks."""

    def __init__(self, script: str, profile: str = "", protect: Iterable[str] = (), quotes: str = "corner",
                 words: Mapping[str, str] | None = None):
        import opencc  # noqa: PLC0415 - only needed for converted editions

        self.language = SCRIPT_LANGUAGES[script]
        self.profile = profile or PROFILES[script]
        self.corners = script == "hant" and quotes == "corner"
        self._opencc = opencc.OpenCC(self.profile)
        self._fixed = KNOWN_SLIPS[script] | {word: word for word in protect if word} | {
            k: v for k, v in (words or {}).items() if k}
        fixed = sorted(self._fixed, key=len, reverse=True)  # at one place, the longest word wins
        self._protected = re.compile("(" + "|".join(map(re.escape, fixed)) + ")") if fixed else None

    def convert(self, text: str) -> str:
        """`text` in the edition's script, with the user's words as they asked. The text is cut around those
        and the pieces converted apart: no placeholder that OpenCC could change or the text could already hold."""
        if self._protected is None:
            return self._opencc.convert(text)
        pieces = self._protected.split(text)  # odd indexes: the user's words
        return "".join(self._fixed[piece] if i % 2 else self._opencc.convert(piece) for i, piece in enumerate(pieces))

    def protected_in(self, text: str) -> int:
        return len(self._protected.findall(text)) if self._protected is not None else 0


def converter(script: str, profile: str = "", protect: Iterable[str] = (), quotes: str = "corner",
              words: Mapping[str, str] | None = None) -> Conversion:
    """The conversion to 'hant' or 'hans' (character by character unless `profile` names a phrase-level one)."""
    return Conversion(script, profile, protect, quotes, words)


def changes(old: str, new: str) -> list[tuple[str, str]]:
    """What a conversion changed, as (old, new) stretches: runs of differing characters when the lengths agree
    (character-level profiles), a diff's replacements when they do not (s2twp: 刷新 -> 重新整理)."""
    if old == new:
        return []
    if len(old) != len(new):
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        return [(old[i1:i2], new[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]
    runs, start = [], -1
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        if a != b and start < 0:
            start = i
        elif a == b and start >= 0:
            runs.append((old[start:i], new[start:i]))
            start = -1
    if start >= 0:
        runs.append((old[start:], new[start:]))
    return runs


def corner_quotes(texts: list[str]) -> tuple[list[str], int]:
    """“” and ‘’ as 「」 and 『』 in the text nodes of one block (a quotation may span markup); returns the texts
    and how many marks changed. Nesting decides, not the marks: a quotation inside one takes 『』, whatever it was
    written with. ’ closes only an open ‘ and never between two letters (Trump’s, don’t): else it is an apostrophe.
    An opening mark that ends a quotation (“…信息“。, a common slip in web text) is read as the closing one."""
    text = "".join(texts)
    out, changed = list(text), 0
    stack: list[str] = []  # the open marks, outermost first
    for i, mark in enumerate(text):
        slip = mark in stack and (i + 1 == len(text) or text[i + 1].isspace() or text[i + 1] in QUOTE_ENDS)
        if mark in "“‘" and not slip:
            out[i] = CORNERS[len(stack) % 2][0]
            stack.append(mark)
        elif mark == "”" or slip or (mark == "’" and "‘" in stack and not _between_letters(text, i)):
            opener = {"”": "“", "’": "‘"}.get(mark, mark)
            if opener in stack:
                del stack[len(stack) - 1 - stack[::-1].index(opener):]
            elif stack:
                stack.pop()
            out[i] = CORNERS[len(stack) % 2][1]
        else:
            continue
        changed += 1
    converted, start = [], 0
    for piece in texts:  # each mark is one character for one: the nodes keep their lengths
        converted.append("".join(out[start:start + len(piece)]))
        start += len(piece)
    return converted, changed


def _between_letters(text: str, i: int) -> bool:
    return 0 < i < len(text) - 1 and bool(LETTER.match(text[i - 1])) and bool(LETTER.match(text[i + 1]))


@dataclass
class Tally:
    """What a conversion did to one article, for the report."""

    characters: int = 0
    phrases: int = 0
    protected: int = 0
    quotes: int = 0

    def add(self, old: str, new: str, conversion: Conversion) -> None:
        runs = changes(old, new)
        self.characters += sum(max(len(a), len(b)) for a, b in runs)
        self.phrases += len(runs)
        self.protected += conversion.protected_in(old)


def convert_text(text: str, conversion: Conversion, tally: Tally, quotes: bool = True) -> str:
    """A title, an outlet, a caption: converted, counted, its quotation marks set (unless `quotes` is False)."""
    new = conversion.convert(text)
    tally.add(text, new, conversion)
    if quotes and conversion.corners:
        (new,), marks = corner_quotes([new])
        tally.quotes += marks
    return new


def convert_html(html: str, conversion: Conversion, tally: Tally) -> str:
    """Convert the text nodes (never tags, attributes, URLs or code) and set their quotation marks."""
    root = fragment.parse(html)
    skipped = _Skipped()
    nodes = [node for node in fragment.strings(root) if not skipped(node)]
    olds = [node.value for node in nodes]
    texts = []
    for old in olds:
        new = conversion.convert(old)
        tally.add(old, new, conversion)
        texts.append(new)
    if conversion.corners:
        # Quotation marks pair within a block: a paragraph's unclosed “ (a quotation over several paragraphs)
        # does not nest the next paragraph's quotations.
        start = 0
        for _, group in itertools.groupby(range(len(nodes)), key=lambda i: _block_of(nodes[i])):
            count = len(list(group))
            texts[start:start + count], marks = corner_quotes(texts[start:start + count])
            tally.quotes += marks
            start += count
    for node, old, new in zip(nodes, olds, texts, strict=True):
        if new != old:
            node.value = new
    return fragment.inner_html(root)


def convert_article(article: Article, conversion: Conversion) -> dict:
    """Convert one Chinese article in place; returns its report entry."""
    entry = {"to": conversion.language, "from": article.language or "", "profile": conversion.profile,
             "changed_characters": 0, "changed_phrases": 0, "protected": 0, "quotes": 0}
    if not (article.language or "").startswith("zh"):
        entry["skipped"] = "not a Chinese article"
        return entry
    tally = Tally()
    article.body = convert_html(article.body, conversion, tally)
    article.title = convert_text(article.title, conversion, tally)
    article.outlet = convert_text(article.outlet, conversion, Tally(), quotes=False)
    for image in article.images:  # the alt text is an attribute: its marks stay
        image.caption = convert_text(image.caption, conversion, tally)
        image.alt = convert_text(image.alt, conversion, Tally(), quotes=False)
    article.language = conversion.language
    entry.update(changed_characters=tally.characters, changed_phrases=tally.phrases, protected=tally.protected,
                 quotes=tally.quotes)
    return entry


# --- The pipeline stage -------------------------------------------------------------------------------------

def typeset(anthology: Anthology, script: str = "", *, profile: str = "", protect: Iterable[str] = (),
            quotes: str = "corner", words: Mapping[str, str] | None = None) -> dict[str, dict]:
    """Normalise languages, convert the script if asked (`profile`, `protect`, `quotes`, `words`: [conversion]
    in anthology.toml), add typographic markup. Returns per-article script reports (empty without `script`)."""
    conversion = converter(script, profile, protect, quotes, words) if script else None
    typeset_book(anthology, conversion)
    reports: dict[str, dict] = {}
    for article in anthology.articles:
        if (report := typeset_article(article, conversion)) is not None:
            reports[article.id] = report
    return reports


def typeset_book(anthology: Anthology, conversion: Conversion | None) -> None:
    """The book's own texts (title, sections ...): converted, not reported; its language normalised."""
    if conversion is not None:
        book = Tally()
        anthology.title = convert_text(anthology.title, conversion, book)
        anthology.subtitle = convert_text(anthology.subtitle, conversion, book)
        anthology.editor = convert_text(anthology.editor, conversion, book, quotes=False)
        if anthology.language.startswith("zh"):
            anthology.language = conversion.language
        for section in anthology.sections:
            section.title = convert_text(section.title, conversion, book)
    anthology.language = theme_language(anthology.language)


def typeset_article(article: Article, conversion: Conversion | None) -> dict | None:
    """One article, in place (it needs nothing of the others: the build does them in parallel); its script
    report, if it was converted."""
    article.language = theme_language(article.language)
    report = convert_article(article, conversion) if conversion is not None else None
    article.body = typeset_html(article.body, CENTRED if article.language.startswith("zh-Hant") else ())
    return report
