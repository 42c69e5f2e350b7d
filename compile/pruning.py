"""A whole HTML document as an lxml tree, read, pruned and written as BeautifulSoup ("lxml") does.

Dating reads an article's body and cleaning prunes it before the sanitizer: players, widgets, junk blocks and
datelines go, containers that hold text are unwrapped. BeautifulSoup built that tree in Python (~1 ms an
article) and wrote it out again (~0.3 ms); lxml does both in C. What BeautifulSoup does that lxml does not, this
keeps:
- the tree is read as `BeautifulSoup(html, "lxml")` reads it (the same push parser, fed the same pieces, blank
  strings squeezed: compile/fragment.py);
- a pruned element is not taken out of the lxml tree, only marked (`drop`, `unwrap`): lxml would join the strings
  on either side of it, where BeautifulSoup keeps two, which `text(..., " ")` reads as two words. Searches and
  texts skip what is dropped and see through what is unwrapped; `inner_html` writes what BeautifulSoup's
  `decode_contents()` wrote of the pruned tree, byte for byte.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator

from lxml import etree

from compile import fragment

Strings = list[str]


class Pruned:
    """A parsed document and what was pruned of it. `dropped` holds every element under a dropped one (as
    BeautifulSoup's decompose marks them all), so that `gone` is a set lookup."""

    def __init__(self, html: str):
        self.root = fragment.parse_document(html)
        self.dropped: set[etree._Element] = set()  # held: lxml keeps one proxy per element while it is referenced
        self.unwrapped: set[etree._Element] = set()
        # Strings under <script>, <style>, <template>, <rt>, <rp> are of another class: never a text's.
        self.hidden = {inner for outer in self.root.iter(*fragment.NOT_PLAIN) for inner in outer.iter()}

    @property
    def top(self) -> etree._Element:
        """The body (the document, if it has none: `soup.body or soup`)."""
        return next(self.root.iter("body"), self.root)

    # ------------------------------------------------------------------------------------------- pruning

    def drop(self, element: etree._Element) -> None:
        """BeautifulSoup's `decompose()`: the element and all it holds go; the text after it stays."""
        self.dropped.update(element.iter())

    def unwrap(self, element: etree._Element) -> None:
        """BeautifulSoup's `unwrap()`: the element goes, what it held takes its place."""
        self.unwrapped.add(element)

    def gone(self, element: etree._Element) -> bool:
        return element in self.dropped

    def replace(self, old: etree._Element, new: etree._Element) -> None:
        """BeautifulSoup's `replace_with()`: `new` (taken from where it was, without the text after it) where `old`
        was; the text after `old` stays."""
        new.tail = None
        old.addprevious(new)
        self.drop(old)

    # ------------------------------------------------------------------------------------------- searching

    def tags(self, root: etree._Element, names: str | Collection[str] | None = None,
             limit: int = 0) -> list[etree._Element]:
        """The elements under `root` named one of `names` (any for None), in document order: compile/walk.tags."""
        kept = (e for e in fragment.elements(root, names) if e not in self.dropped and e not in self.unwrapped)
        return list(itertools.islice(kept, limit) if limit else kept)

    def first(self, root: etree._Element, names: str | Collection[str]) -> etree._Element | None:
        found = self.tags(root, names, limit=1)
        return found[0] if found else None

    def contents(self, element: etree._Element) -> Iterator[etree._Element | str]:
        """`element`'s children as BeautifulSoup has them after the pruning: elements, and the strings that are
        NavigableStrings (not comments, not hidden); an unwrapped child's own children in its place."""
        hidden = element in self.hidden
        if element.text and not hidden:
            yield element.text
        for child in element:
            if child in self.unwrapped:
                yield from self.contents(child)
            elif isinstance(child.tag, str) and child not in self.dropped:
                yield child
            if child.tail and not hidden:
                yield child.tail

    def children(self, element: etree._Element, names: str | Collection[str]) -> list[etree._Element]:
        wanted = fragment.names(names)
        return [node for node in self.contents(element) if not isinstance(node, str) and node.tag in wanted]

    # ------------------------------------------------------------------------------------------- reading

    def strings(self, element: etree._Element) -> Strings:
        """The element's strings, in document order, as BeautifulSoup's `get_text` finds them."""
        if element in self.dropped:
            return []
        found: Strings = []
        hidden, dropped = self.hidden, self.dropped
        walker = etree.iterwalk(element, events=("start", "end", "comment", "pi"))  # in C
        for event, node in walker:
            if event == "start":
                if node in dropped:
                    walker.skip_subtree()  # its end event still comes: the text after it is its parent's
                elif node.text and node not in hidden:
                    found.append(node.text)
                continue
            if node is element:
                break
            if node.tail and not (hidden and node.getparent() in hidden):
                found.append(node.tail)
        return found

    def text(self, element: etree._Element, separator: str = "", strip: bool = False) -> str:
        """BeautifulSoup's `get_text(separator, strip=strip)`."""
        strings = self.strings(element)
        if strip:
            strings = [stripped for string in strings if (stripped := string.strip())]
        return separator.join(strings)

    # ------------------------------------------------------------------------------------------- writing

    def inner_html(self, element: etree._Element) -> str:
        """What BeautifulSoup's `decode_contents()` writes of `element` pruned (fragment.inner_html, which this
        follows, says how)."""
        out: list[str] = []
        append = out.append
        # Per open element: whether its strings are written raw, and its end tag ("" for none: a void element
        # written whole, one dropped or unwrapped).
        stack: list[tuple[bool, str]] = [(element.tag in fragment.RAW_TEXT, "")]
        if element.text:
            append(_written(element.text, stack[-1][0]))
        walker = etree.iterwalk(element, events=("start", "end", "comment", "pi"))
        next(walker)  # the element itself
        for event, node in walker:
            if event == "start":
                stack.append(self._open(node, walker, stack[-1][0], append))
                continue
            if event == "end":
                if node is element:
                    break
                append(stack.pop()[1])
            elif event == "comment":
                append(f"<!--{node.text or ''}-->")
            else:
                append(f"<?{node.target} {node.text or ''}>")
            if node.tail:
                append(_written(node.tail, stack[-1][0]))
        return "".join(out)

    def _open(self, node: etree._Element, walker, raw: bool, append) -> tuple[bool, str]:
        if node in self.dropped:
            walker.skip_subtree()
            return raw, ""
        if node in self.unwrapped:  # its strings are its parent's now
            if node.text:
                append(_written(node.text, raw))
            return raw, ""
        if node.tag in fragment.VOID and self._empty(node):
            append(fragment.start_tag(node, void=True))
            walker.skip_subtree()
            return raw, ""
        append(fragment.start_tag(node))
        raw = node.tag in fragment.RAW_TEXT
        if node.text:
            append(_written(node.text, raw))
        return raw, f"</{node.tag}>"

    def _empty(self, element: etree._Element) -> bool:
        """No contents left: BeautifulSoup writes a void element so (`<br/>`) only then."""
        return not element.text and all(child in self.dropped and not child.tail for child in element)


def _written(text: str, raw: bool) -> str:
    return text if raw else fragment.escaped(text)
