"""Split the book's one HTML document into independent chunks, and reduce it to the page "frame".

The whole book is rendered once as HTML (the theme's book.html.j2, through the same code as the one-pass
writer), then cut structurally, so that every chunk sees exactly the markup and the CSS context it would
see in the whole book:

- *units* are the pieces of body matter in document order: each article (found by its id), and each run
  of other elements that sit beside articles inside a container (a section's title page, an opener);
- *front and back matter* are the body's own children before the first / after the last unit holder
  (title page, table of contents, colophon): they are never chunked, except the book's parts after the
  articles (chronology, sources, outlet index) when the writer names them: each is a unit of its own;
- a *chunk* is a run of units, as its own HTML document: the same <head>, and for each unit its chain of
  ancestors (shallow copies, same tag and attributes) so that selectors like `.section > .article` and the
  theme's named pages still apply;
- the *frame* is the whole book with every unit reduced to its first element (an article's header: it
  carries the running-head strings, the bookmark and the anchor), hidden, plus one empty page-break filler
  per further page of that unit. Rendered with the theme's own CSS it has exactly the final sequence of
  pages, so its folios, running heads, blank pages, table of contents (target-counter), outline and
  named destinations are right by construction; the chunks' pages are then stamped onto it.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field

import lxml.html
from lxml import etree

FILL_PREFIX = "anthology-fill-"
UNIT_PREFIX = "anthology-unit-"
PRUNE = "data-anthology-prunable"  # what the frame hides and may leave out (frame_prune)
DOCTYPE = "<!DOCTYPE html>"


class NotChunkable(Exception):
    """The document's structure does not allow chunked rendering; the writer falls back to one pass."""


@dataclass
class Unit:
    id: str  # the id of its first element: the anchor that marks its first page
    kind: str  # "article" | "opener" | "part"
    elements: list = field(default_factory=list)

    @property
    def digest(self) -> str:
        return hashlib.sha1(self.id.encode()).hexdigest()


@dataclass
class Split:
    root: etree._Element  # the whole document, units marked with ids
    units: list[Unit]

    def chunk_html(self, units: list[Unit]) -> str:
        return serialize(chunk_document(self.root, units, {unit.id for unit in self.units}))

    def frame_html(self, pages: dict[str, int], prunable: bool = True, dropped: frozenset[str] = frozenset()) -> str:
        return serialize(frame_document(self.root, self.units, pages, prunable, dropped))


def parse(html: str) -> etree._Element:
    return lxml.html.document_fromstring(html)


def serialize(root: etree._Element) -> str:
    return lxml.html.tostring(root, doctype=DOCTYPE, encoding="unicode", method="html")


def split(html: str, article_ids: list[str], part_ids: frozenset[str] = frozenset()) -> Split:
    """The document cut into units; `part_ids`: the back matter's elements that are units too."""
    root = parse(html)
    body = root.find("body")
    if body is None:
        raise NotChunkable("the book template has no <body>")
    by_id = {el.get("id"): el for el in body.iter() if isinstance(el.tag, str) and el.get("id")}
    missing = [a for a in article_ids if a not in by_id]
    if missing:
        raise NotChunkable(f"article element(s) not found by id: {', '.join(missing[:3])}")
    # Elements themselves as keys: an lxml proxy keeps its identity only while something references it.
    articles = {by_id[a] for a in article_ids}
    holders: set = set()
    for element in articles:
        for ancestor in element.iterancestors():
            if ancestor is body:
                break
            if ancestor in articles:
                raise NotChunkable(f"article '{ancestor.get('id')}' contains another article")
            holders.add(ancestor)
    units = _units(body, articles, holders, part_ids)
    if [u.id for u in units if u.kind == "article"] != list(article_ids):
        raise NotChunkable("articles are not in book order in the template")
    return Split(root, units)


def _units(body, articles: set, holders: set, part_ids: frozenset[str]) -> list[Unit]:
    units: list[Unit] = []
    counter = [0]

    def opener(elements: list) -> None:
        first = elements[0]
        if not first.get("id"):
            counter[0] += 1
            first.set("id", f"{UNIT_PREFIX}{counter[0]}")
        units.append(Unit(first.get("id"), "opener", elements))

    def walk(container, top: bool) -> None:
        children = [c for c in container if isinstance(c.tag, str)]
        holding = [i for i, c in enumerate(children) if c in articles or c in holders]
        if not holding:
            return
        loose: list = []
        for index, child in enumerate(children):
            if child in articles or child in holders:
                if loose:
                    opener(loose)
                    loose = []
                if child in articles:
                    units.append(Unit(child.get("id"), "article", [child]))
                else:
                    walk(child, top=False)
            elif top and index > holding[-1] and child.get("id") in part_ids:
                units.append(Unit(child.get("id"), "part", [child]))
            elif top and (index < holding[0] or index > holding[-1]):
                continue  # front or back matter: rendered by the frame, never chunked
            else:
                loose.append(child)
        if loose:
            opener(loose)

    walk(body, top=True)
    return units


def _shallow(element, parent=None):
    copy_ = etree.Element(element.tag, attrib=dict(element.attrib)) if parent is None else \
        etree.SubElement(parent, element.tag, attrib=dict(element.attrib))
    return copy_


def chunk_document(root, units: list[Unit], unit_ids: set[str] | frozenset[str] = frozenset()):
    """A document holding only `units`, each under shallow copies of its ancestors.

    An ancestor that began before this chunk (the body, after the front matter; a section continued from
    the previous chunk) has its top edge on an earlier page of the book, so its copy gets no top margin,
    border or padding; likewise its bottom edge when it goes on after the chunk. Otherwise the body's
    8px UA margin would push the first page of every chunk down.
    """
    body = root.find("body")
    new_root = _shallow(root)
    head = root.find("head")
    if head is not None:
        new_head = copy.deepcopy(head)
        new_head.tail = None
        new_root.append(new_head)
    new_body = _shallow(body, new_root)
    copies = {body: new_body}
    whole = set()
    for unit in units:
        for element in unit.elements:
            whole.add(element)
            chain = []
            for ancestor in element.iterancestors():
                if ancestor is body:
                    break
                chain.append(ancestor)
            parent = new_body
            for ancestor in reversed(chain):
                if ancestor not in copies:
                    copies[ancestor] = _shallow(ancestor, parent)
                parent = copies[ancestor]
            piece = copy.deepcopy(element)
            piece.tail = None
            parent.append(piece)
    for original, made in copies.items():
        _cut_edges(original, made, copies, whole)
    for ancestor in (root,):
        _cut_edges(ancestor, new_root, {**copies, root: new_root}, whole)
    _link_stubs(new_body, unit_ids)
    return new_root


def _link_stubs(body, unit_ids: set[str] | frozenset[str]) -> None:
    """A link to a unit of another chunk (an article's "also reported by" names another article) would be
    dropped: WeasyPrint keeps links to anchors of the document it renders only. An empty anchor of that name
    keeps it, out of the flow; the frame has the name already (every unit's first element), so the merge
    leaves the link pointing at the unit's real first page."""
    present = {el.get("id") for el in body.iter() if isinstance(el.tag, str) and el.get("id")}
    linked = {href[1:] for link in body.iter("a") if (href := link.get("href") or "").startswith("#")}
    for name in sorted((linked & set(unit_ids)) - present):
        etree.SubElement(body, "span", id=name, style="position: absolute")


def _edge_inside(element, copies: dict, whole: set, first: bool, seen: dict) -> bool:
    """Whether `element`'s top (first=True) or bottom edge is part of the chunk."""
    if element in whole:
        return True
    if element not in copies:
        return False
    key = (element, first)
    if key not in seen:
        children = [c for c in element if isinstance(c.tag, str)]
        seen[key] = bool(children) and _edge_inside(children[0 if first else -1], copies, whole, first, seen)
    return seen[key]


def _cut_edges(original, made, copies: dict, whole: set) -> None:
    seen: dict = {}
    cuts = []
    for first, side in ((True, "top"), (False, "bottom")):
        if not _edge_inside(original, copies, whole, first, seen):
            cuts.append(f"margin-{side}: 0 !important; padding-{side}: 0 !important; "
                        f"border-{side}-width: 0 !important")
    if cuts:
        style = made.get("style", "").strip().rstrip(";")
        made.set("style", "; ".join(([style] if style else []) + cuts))


def _hide(element) -> None:
    style = element.get("style", "").strip()
    element.set("style", f"{style}{';' if style and not style.endswith(';') else ''} visibility: hidden")


def _prunable(element) -> None:
    """Mark a hidden element and its content: the frame lays out only what carries strings, bookmarks,
    anchors, counters or breaks (frame_prune)."""
    for node in element.iter():
        if isinstance(node.tag, str):
            node.set(PRUNE, "")


def _fillers(unit: Unit, count: int) -> list:
    fillers = []
    for k in range(1, count):
        filler = etree.Element("div", attrib={"id": f"{FILL_PREFIX}{unit.digest[:12]}-{k}",
                                              "style": "break-before: page; visibility: hidden"})
        fillers.append(filler)
    return fillers


def fill_id(unit: Unit, k: int) -> str:
    return f"{FILL_PREFIX}{unit.digest[:12]}-{k}"


def _copy_without_bodies(root, units: list[Unit]):
    """A copy of the book without what the frame drops from each article and part (all but its first element):
    copying the whole book first cost a long book ~0.15 s a frame, the skeleton's included. What is left out
    is detached while the book is copied and put back as it was."""
    detached = []
    for unit in units:
        if unit.kind not in ("article", "part"):
            continue
        element = unit.elements[0]
        keep = next((c for c in element if isinstance(c.tag, str)), None)
        children = list(element)
        detached.append((element, element.text, children))
        for child in children:
            if child is not keep:
                element.remove(child)  # its tail goes with it, and comes back with it
        element.text = None
    try:
        return copy.deepcopy(root)
    finally:
        for element, text, children in detached:
            for child in list(element):
                element.remove(child)
            element.text = text
            element.extend(children)


def frame_document(root, units: list[Unit], pages: dict[str, int], prunable: bool = True,
                   dropped: frozenset[str] = frozenset()):
    """The whole book with each unit reduced to its first element, hidden, plus page-break fillers; with
    `prunable`, what is hidden is marked for frame_prune (not when the theme reads text across the book
    with target-text(), which needs all of it). Articles in `dropped` are left out (the skeleton's)."""
    frame = _copy_without_bodies(root, units)
    by_id = {el.get("id"): el for el in frame.iter() if isinstance(el.tag, str) and el.get("id")}
    for unit in units:
        first = by_id[unit.id]
        if unit.id in dropped and unit.kind == "article":
            first.getparent().remove(first)
            continue
        count = pages[unit.id]
        if unit.kind in ("article", "part"):  # its first child (header, title) carries its strings and bookmark
            keep = next((c for c in first if isinstance(c.tag, str)), None)
            for child in list(first):
                if child is not keep:
                    first.remove(child)
            first.text = None
            if keep is not None:
                keep.tail = None
                if prunable:
                    _prunable(keep)
            _hide(first)
            first.extend(_fillers(unit, count))
        else:
            tree = root.getroottree()
            elements = [frame.getroottree().xpath(tree.getpath(e))[0] for e in unit.elements]
            for element in elements:
                _hide(element)
                if prunable:
                    _prunable(element)
            last = elements[-1]
            for filler in reversed(_fillers(unit, count)):
                last.addnext(filler)
    return frame
