"""An HTML fragment as an lxml tree, read and written exactly as BeautifulSoup ("lxml", minimal formatter) does.

Typesetting walks every body and title; BeautifulSoup's own tree costs ~1 ms to build and as much to write for
an article (its Python object per node, its searches). This reads the fragment with the same lxml push parser
and writes the same bytes, so a pass moved here changes no output:
- a text of ASCII blanks only (outside <pre>, <textarea>) is one newline if it holds one, else one space;
- multi-valued attributes (`class`, `rel` ...) are their words joined by one space;
- attributes are written sorted, quoted with " (or ' when the value holds " only), `&`, `<`, `>` escaped;
- void elements are written `<br/>`, text inside <script> and <style> as it is.
Where they part, and why it does not matter here (bodies come out of the sanitizer and cleaning first):
- nesting deeper than 2,048 levels: libxml2 builds a tree that deep at most, where BeautifulSoup, fed lxml's
  events, has no limit; cleaning flattens a body to 64 levels;
- an HTML 4 boolean attribute written without a value (`<option selected>`) reads as its name in libxml2's tree,
  as "" in BeautifulSoup; the sanitizer writes every attribute with its value;
- characters XML cannot hold (C0 controls, U+FFFE) are dropped before parsing: lxml refuses to put them back in
  a tree (a title from anthology.toml may hold one), and no output may hold them (templates drop them too).

Text lives in lxml as an element's `text` and `tail`; `Text` names one of those slots, which is what
BeautifulSoup calls a string. `strings` lists those BeautifulSoup makes `NavigableString`, in document order.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import TypeAlias

from bs4.builder import HTMLTreeBuilder
from lxml import etree

from compile.sanitize import xml_text

ROOT_ID = "fragment-root"
VOID = frozenset(HTMLTreeBuilder.DEFAULT_EMPTY_ELEMENT_TAGS or ())
LIST_ATTRIBUTES = {tag: frozenset(names) for tag, names in HTMLTreeBuilder.DEFAULT_CDATA_LIST_ATTRIBUTES.items()}
KEEP_BLANKS = frozenset(HTMLTreeBuilder.DEFAULT_PRESERVE_WHITESPACE_TAGS)
NOT_PLAIN = frozenset(HTMLTreeBuilder.DEFAULT_STRING_CONTAINERS)  # their strings are another class
RAW_TEXT = frozenset({"script", "style"})  # the minimal formatter's cdata_containing_tags
ASCII_BLANKS = " \n\t\x0c\r"
CHARSET = re.compile(r"((^|;)\s*charset=)([^;]*)", re.M)


@dataclass(slots=True)
class Text:
    """One string of the tree: `owner`'s text, or its tail (the text after it, in its parent)."""

    owner: etree._Element
    tail: bool

    @property
    def value(self) -> str:
        return (self.owner.tail if self.tail else self.owner.text) or ""

    @value.setter
    def value(self, text: str | None) -> None:
        if self.tail:
            self.owner.tail = text or None
        else:
            self.owner.text = text or None

    @property
    def parent(self) -> etree._Element:
        parent = self.owner.getparent() if self.tail else self.owner
        assert parent is not None  # a tail is always some element's: parse() wraps the fragment
        return parent


Node: TypeAlias = "etree._Element | Text"  # what BeautifulSoup calls a child: an element (or comment) or a string


def parse(html: str) -> etree._Element:
    """`html` inside a div, as BeautifulSoup reads `<div>{html}</div>` (the div is returned; markup that closes
    it early leaves the rest outside, as there)."""
    document = _parsed(f"<div id='{ROOT_ID}'>{xml_text(html)}</div>")
    assert document is not None  # the div, at least
    root = next(document.iter("div"))
    assert root.get("id") == ROOT_ID  # the first div is the one written around the fragment
    return root


def parse_document(html: str) -> etree._Element:
    """`html` as BeautifulSoup reads a whole document (`BeautifulSoup(html, "lxml")`): its <html> element, an
    empty one for markup without any. What XML cannot hold (`&#1;`, `&#12;`) is dropped here, where BeautifulSoup
    keeps it until the sanitizer's output loses it (a string of a form feed only is no string here, a space there)."""
    document = _parsed(xml_text(html))
    return etree.Element("html") if document is None else document


def _parsed(source: str) -> etree._Element | None:
    parser = etree.HTMLParser(recover=True, huge_tree=True)
    if source:  # fed whole, as BeautifulSoup feeds it: fed in pieces, libxml2 takes time quadratic in elements
        parser.feed(source)
    try:
        document = parser.close()
    except etree.XMLSyntaxError:  # nothing to build a tree of
        return None
    if document is None:
        return None
    if "&#" in source:  # a character reference may name what XML cannot hold (&#1;): lxml would not write it back
        _drop_non_xml(document)
    _as_soup(document)
    return document


def _drop_non_xml(document: etree._Element) -> None:
    for element in document.iter():
        for name, value in element.attrib.items():
            element.set(name, xml_text(value))
        element.text = xml_text(element.text or "") or None
        element.tail = xml_text(element.tail or "") or None


def _as_soup(document: etree._Element) -> None:
    """The tree as BeautifulSoup builds it: blank strings squeezed, multi-valued attributes normalised. Found by
    XPath, in C (a walk in Python cost as much as parsing): the strings of XML blanks only (the tree holds no
    form feed, the one ASCII blank XML lacks: xml_text and _drop_non_xml take it out), those inside <pre> and
    <textarea> kept; the elements with attributes."""
    kept = {inner for outer in document.iter(*KEEP_BLANKS) for inner in outer.iter()}  # held: one proxy each
    for blank in _BLANK_STRINGS(document):
        owner = blank.getparent()
        if blank.is_tail:
            if owner is not document and not (kept and owner.getparent() in kept):
                owner.tail = _squeezed(blank)
        elif not (kept and owner in kept):
            owner.text = _squeezed(blank)
    for element in _BLANK_OTHERS(document):  # comments and processing instructions: their own text
        text = element.text or ""
        if text.strip(ASCII_BLANKS) or (kept and element in kept):
            continue
        if text or element.tag is etree.Comment:  # even an empty comment: BeautifulSoup writes <!-- -->
            element.text = _squeezed(text)
    for element in _WITH_ATTRIBUTES(document):
        _normalise_lists(element)
        if element.tag == "meta":
            _declare_utf8(element)


_BLANK_STRINGS = etree.XPath("descendant-or-self::text()[not(normalize-space())]", smart_strings=True)
_BLANK_OTHERS = etree.XPath("descendant-or-self::comment() | descendant-or-self::processing-instruction()")
_WITH_ATTRIBUTES = etree.XPath("descendant-or-self::*[@*]")


def _squeezed(text: str) -> str:
    return "\n" if "\n" in text else " "


def _declare_utf8(meta: etree._Element) -> None:
    """A <meta> that declares an encoding declares the one written (BeautifulSoup's substitution)."""
    if meta.get("charset") is not None:
        meta.set("charset", "utf-8")
    elif meta.get("content") is not None and (meta.get("http-equiv") or "").lower() == "content-type":
        meta.set("content", CHARSET.sub(lambda match: match.group(1) + "utf-8", meta.get("content") or ""))


def _normalise_lists(element: etree._Element) -> None:
    names = _list_names(element.tag)
    for name, value in element.items():
        if name in names:
            words = " ".join(value.split())  # str.split's blanks are re's \s: str.isspace
            if words != value:
                element.set(name, words)


@functools.cache
def _list_names(tag: str) -> frozenset[str]:
    """The multi-valued attributes of `tag`: every tag's and its own."""
    return LIST_ATTRIBUTES.get("*", frozenset()) | LIST_ATTRIBUTES.get(tag.lower(), frozenset())


# ------------------------------------------------------------------------------------------------ the tree

def name(node: Node | None) -> str | None:
    """A node's tag name; None for a string, a comment, a processing instruction."""
    return node.tag if isinstance(node, etree._Element) and isinstance(node.tag, str) else None


def strings(root: etree._Element) -> list[Text]:
    """The strings under `root` (not its tail) that BeautifulSoup makes NavigableStrings, in document order: not
    comments, nothing inside <script>, <style>, <template>, <rt>, <rp>."""
    return list(_strings(root))


def _strings(root: etree._Element) -> Iterator[Text]:
    if not isinstance(root.tag, str):  # a comment or an instruction holds no string (its tail is not inside it)
        return
    hidden = sum(1 for element in ancestors(root) if element.tag in NOT_PLAIN)
    for event, node in etree.iterwalk(root, events=("start", "end", "comment", "pi")):  # in C
        if event == "start":
            hidden += node.tag in NOT_PLAIN
            if node.text and not hidden:
                yield Text(node, False)
            continue
        if event == "end":
            hidden -= node.tag in NOT_PLAIN
            if node is root:
                return
        if node.tail and not hidden:  # an element's, a comment's or an instruction's (their own text is none)
            yield Text(node, True)


def ancestors(node: Node) -> Iterator[etree._Element]:
    """The elements around `node`, nearest first (`.parents`)."""
    element = node.parent if isinstance(node, Text) else node.getparent()
    while element is not None:
        yield element
        element = element.getparent()


def parent_of(node: Node) -> etree._Element | None:
    return node.parent if isinstance(node, Text) else node.getparent()


def children(element: etree._Element) -> list[Node]:
    """`element`'s children as BeautifulSoup has them: its strings between its elements."""
    nodes: list[Node] = [Text(element, False)] if element.text else []
    for child in element:
        nodes.append(child)
        if child.tail:
            nodes.append(Text(child, True))
    return nodes


def sibling(node: Node, after: bool) -> Node | None:
    """The node just after (or before) `node` among its parent's children (in constant time: a wide paragraph
    has thousands)."""
    if isinstance(node, Text):
        if after:
            return node.owner.getnext() if node.tail else (node.owner[0] if len(node.owner) else None)
        return node.owner if node.tail else None
    if after:
        return Text(node, True) if node.tail else node.getnext()
    previous = node.getprevious()
    if previous is not None:
        return Text(previous, True) if previous.tail else previous
    parent = node.getparent()
    return Text(parent, False) if parent is not None and parent.text else None


def first_string(element: etree._Element) -> Text | None:
    return next(_strings(element), None)


def new(tag: str, css_class: str = "", text: str = "") -> etree._Element:
    element = etree.Element(tag)
    if css_class:
        element.set("class", css_class)
    element.text = text or None
    return element


def replace(text: Text, pieces: list[str | etree._Element]) -> None:
    """Put `pieces` (strings and new elements, in order) where the string `text` is."""
    parent = text.parent
    text.value = None
    previous: etree._Element | None = text.owner if text.tail else None
    for piece in pieces:
        if isinstance(piece, str):
            if previous is None:
                parent.text = (parent.text or "") + piece or None
            else:
                previous.tail = (previous.tail or "") + piece or None
            continue
        if previous is None:
            parent.insert(0, piece)
        else:
            previous.addnext(piece)  # its tail is empty here: what follows comes after the new piece
        previous = piece


def get_text(element: etree._Element) -> str:
    """BeautifulSoup's `get_text()`: the element's strings, joined."""
    return "".join(string.value for string in strings(element))


def short_text(element: etree._Element, limit: int) -> str | None:
    """`get_text(element)` when it is at most `limit` characters, else None; a long text is not walked whole."""
    pieces, length = [], 0
    for string in _strings(element):
        length += len(string.value)
        if length > limit:
            return None
        pieces.append(string.value)
    return "".join(pieces)


def insert_after(element: etree._Element, new: etree._Element) -> None:
    """`new` just after `element`, before the text that follows it."""
    new.tail, element.tail = element.tail, None
    element.addnext(new)


def replace_element(old: etree._Element, new: etree._Element) -> None:
    """`new` where `old` was; the text after `old` stays where it was."""
    new.tail, old.tail = old.tail, None
    parent = old.getparent()
    assert parent is not None  # parse() wraps the fragment: every element in it has a parent
    parent.replace(old, new)


def wrap(nodes: list[Node], wrapper: etree._Element, offset: int = 0) -> None:
    """Put `nodes`, siblings that follow one another, into `wrapper` where they are; of a first string, only
    what follows `offset` (its head stays before the wrapper)."""
    first, last = nodes[0], nodes[-1]
    parent = parent_of(first)
    assert parent is not None  # parse() wraps the fragment: every node in it has a parent
    if isinstance(first, Text):
        value = first.value
        first.value = value[:offset]
        wrapper.text = value[offset:] or None
        index = parent.index(first.owner) + 1 if first.tail else 0
    else:
        index = parent.index(first)
    parent.insert(index, wrapper)
    moved = [node for node in nodes if isinstance(node, etree._Element)]  # a string after one moves with it
    for element in moved:
        wrapper.append(element)
    if isinstance(last, etree._Element):  # its tail stays after the wrapper
        wrapper.tail, last.tail = last.tail, None


# ------------------------------------------------------------------------------------------------ searching, pruning
# What cleaning does to a sanitized body (no comments, no <script>: its strings are all text and tails). lxml keeps
# one string where BeautifulSoup, after an unwrap or a removal, kept two side by side (compile/transforms/clean.py
# says where that shows).

def names(wanted: str | Collection[str]) -> Collection[str]:
    """Tag names as a collection (one name may be given alone)."""
    return (wanted,) if isinstance(wanted, str) else tuple(wanted)


def elements(root: etree._Element, wanted: str | Collection[str] | None = None) -> Iterator[etree._Element]:
    """The elements under `root` (not itself) named one of `wanted` (any for None), in document order."""
    for element in root.iter(*names(wanted)) if wanted is not None else root.iter():
        if element is not root and isinstance(element.tag, str):
            yield element


def tags(root: etree._Element, wanted: str | Collection[str] | None = None, limit: int = 0) -> list[etree._Element]:
    """`elements`, as a list of at most `limit` (compile/walk.py's `tags`, for lxml)."""
    found = elements(root, wanted)
    return list(itertools.islice(found, limit) if limit else found)


def first(root: etree._Element, names: str | Collection[str] | None = None) -> etree._Element | None:
    found = tags(root, names, limit=1)
    return found[0] if found else None


def ancestor(node: Node, wanted: str | Collection[str]) -> etree._Element | None:
    """The nearest element around `node` named one of `wanted` (lxml walks up past the parent, in C)."""
    tags_wanted = names(wanted)
    parent = parent_of(node)
    if parent is None or not tags_wanted:
        return None
    if parent.tag in tags_wanted:
        return parent
    return next(parent.iterancestors(*tags_wanted), None)


def within(node: Node, element: etree._Element) -> bool:
    """Whether `element` is around `node` (or, for a tree's root, whether `node` is still in the tree)."""
    return any(parent is element for parent in ancestors(node))


def text(element: etree._Element, separator: str = "", strip: bool = False) -> str:
    """`get_text(separator, strip=strip)`: the element's strings (text and tails, in C), joined."""
    pieces = element.itertext()
    if strip:
        return separator.join(stripped for piece in pieces if (stripped := piece.strip()))
    return separator.join(pieces)


def has_text(element: etree._Element) -> bool:
    """Any string that is not blank (`get_text(strip=True)` is not empty)."""
    return any(not piece.isspace() for piece in element.itertext() if piece)


def extract(element: etree._Element) -> etree._Element:
    """Take `element` out of the tree; the text after it stays where it was."""
    _text_before(element, element.tail)
    element.tail = None
    parent = element.getparent()
    assert parent is not None  # parse() wraps the fragment: every element in it has a parent
    parent.remove(element)
    return element


def unwrap(element: etree._Element) -> None:
    """What `element` holds takes its place."""
    _text_before(element, element.text)
    element.text = None
    for child in list(element):
        element.addprevious(child)  # with the text after it
    extract(element)


def _text_before(element: etree._Element, value: str | None) -> None:
    """Add `value` to the string just before `element`."""
    if not value:
        return
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + value
        return
    parent = element.getparent()
    assert parent is not None
    parent.text = (parent.text or "") + value


# ------------------------------------------------------------------------------------------------ writing

def inner_html(element: etree._Element) -> str:
    """`element`'s contents as BeautifulSoup's `decode_contents()` writes them (walked by lxml, in C)."""
    out: list[str] = []
    append = out.append
    raws: list[bool | None] = [element.tag in RAW_TEXT]  # per open element: its text is raw; None: written whole
    if element.text:
        append(element.text if raws[0] else escaped(element.text))
    walk = etree.iterwalk(element, events=("start", "end", "comment", "pi"))
    next(walk)  # the element itself
    for event, node in walk:
        if event == "start":
            raws.append(_open(node, append))
            continue
        if event == "end":
            if node is element:
                break
            if raws.pop() is not None:
                append(f"</{node.tag}>")
        elif event == "comment":
            append(f"<!--{node.text or ''}-->")
        else:
            append(f"<?{node.target} {node.text or ''}>")
        if node.tail:
            append(node.tail if raws[-1] else escaped(node.tail))
    return "".join(out)


def _open(node: etree._Element, append) -> bool | None:
    """Write the element's start tag and text: whether its text is raw, or None for a void element, written whole."""
    if node.tag in VOID and not node.text and not len(node):
        append(start_tag(node, void=True))
        return None
    append(start_tag(node))
    raw = node.tag in RAW_TEXT
    if node.text:
        append(node.text if raw else escaped(node.text))
    return raw


def start_tag(node: etree._Element, void: bool = False) -> str:
    """`<tag a="v">` as BeautifulSoup writes it; `<tag/>` for a void element without contents."""
    items = node.items()
    attributes = "".join(f" {key}={_quoted(escaped(value))}" for key, value in sorted(items)) if items else ""
    return f"<{node.tag}{attributes}{'/' if void else ''}>"


def escaped(text: str) -> str:
    """`&`, `<`, `>` as references (three replaces: str.translate is ~7x slower on long CJK texts)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _quoted(value: str) -> str:
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return '"' + value.replace('"', "&quot;") + '"'
