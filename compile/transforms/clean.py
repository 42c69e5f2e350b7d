"""Cleaning: boilerplate out, allow-list sanitizing, figures, CJK reflow, repeated blocks, language.

Order matters: boilerplate is found by the attributes the sanitizer removes, so it goes first
(compile/transforms/boilerplate.py, on the page's own tree); the sanitizer (nh3, an allow-list) then
guarantees that nothing but plain structural HTML reaches the writers; the structural passes here work on
that safe tree, an lxml tree (compile/fragment.py) read and written as BeautifulSoup read and wrote it.

Where they part: an unwrap or a removal joins the strings on either side into one, where BeautifulSoup kept two
side by side. The passes read the joined text as the reader sees it: a paragraph indented by a blank string
before an unwrapped <span> is trimmed like any other, a hard wrap between two Han characters split across two
strings is joined without a space, a caption's words in two <span>s are read as the caption shows them
(`Credit` `Jane Doe` is `CreditJane Doe` in the alt text, as in the caption; "照片：" "路透社" no longer gets a
space). 85 of 693 real and hostile articles read differently so, 78 of them in white space only; seeds and
corpus-dev not at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TypeAlias
from urllib.parse import urljoin

from lxml import etree

from compile import fragment, urls
from compile.fragment import Text
from compile.images import markup
from compile.model import Article, Image
from compile.pruning import Pruned
from compile.sanitize import iso_datetime, sanitize_html, xml_text
from compile.text import HAN, YIJING, declared_language
from compile.transforms import boilerplate

Element: TypeAlias = etree._Element

BLOCKS = {"p", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "pre", "figure", "figcaption", "table", "hr"}

CJK = HAN + YIJING
# A paragraph that ends with one of these is complete; without one, a long CJK paragraph followed by
# one starting with a CJK character was split by a hard wrap.
TERMINAL = "。！？!?…”’」』）)》】：:；;.—"
CJK_PUNCT = "，。、；：！？”“」「『』（）《》"
OPENING_PUNCT = "，。、；：？！）」』”’》〉】"
# Compiled once: each is asked of every string, or every block, of every article.
BLANKS = re.compile(r"\s+")
LEADING_BLANKS = re.compile(r"^[\s\u3000]+")
TRAILING_BLANKS = re.compile(r"[\s\u3000]+$")
EDGE_BLANKS = re.compile(r"^[\s\u3000]+|[\s\u3000]+$")
HARD_WRAP = re.compile(rf"(?<=[{CJK}{CJK_PUNCT}])[ \t]*\n\s*(?=[{CJK}{CJK_PUNCT}])")  # a line break inside Han text


# Deepest tag nesting kept: parsers and tree passes slow down with depth (`'<div>' * 50000` never finished);
# real articles stay under ~30 levels.
MAX_DEPTH = 64
# Longest paragraph, in characters: a longer block is cut at sentence ends (a 1.7 M-character line never
# finished the PDF: a paragraph is laid out as a whole).
MAX_BLOCK = 5000
TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)[^>]*>")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "code", "em", "font", "i", "kbd", "mark", "q", "s", "samp", "small",
          "span", "strong", "sub", "sup", "time", "u", "var"}
# An opening tag that ends an open one without its end tag, as HTML parsers do (`<p>a<p>b`, `<li>`, `<td>`).
IMPLIED_END = {"p": {"p"}, "li": {"li"}, "dt": {"dt", "dd"}, "dd": {"dt", "dd"}, "td": {"td", "th"},
               "th": {"td", "th"}, "tr": {"tr", "td", "th"}, "option": {"option"}}


def flatten_deep(html: str, limit: int = MAX_DEPTH) -> tuple[str, int]:
    """Drop the tags nested deeper than `limit` (their text stays), before any parser builds the tree;
    returns the HTML and how many tags were dropped. One pass over the tags, with a stack of open ones."""
    if html.count("<") <= limit:
        return html, 0
    stack: list[tuple[str, bool]] = []  # (name, kept)
    open_count: dict[str, int] = {}
    out, position, dropped = [], 0, 0
    for match in TAG.finditer(html):
        closing, name = match[1] == "/", match[2].lower()
        if name in VOID:
            continue
        if closing:
            kept = _close(stack, open_count, name)
        else:
            for _ in range(_implied_ends(stack, name)):
                _pop(stack, open_count)
            kept = len(stack) < limit
            stack.append((name, kept))
            open_count[name] = open_count.get(name, 0) + 1
        if not kept:
            out.append(html[position:match.start()])
            position = match.end()
            dropped += not closing
    out.append(html[position:])
    return "".join(out), dropped


def _implied_ends(stack: list[tuple[str, bool]], name: str) -> int:
    """How many open tags an opening `name` closes: down through inline tags to the deepest it ends."""
    ends, count = IMPLIED_END.get(name), 0
    if not ends:
        return 0
    for depth in range(len(stack) - 1, -1, -1):
        open_name = stack[depth][0]
        if open_name in ends:
            count = len(stack) - depth
        elif open_name not in INLINE:
            break
    return count


def _close(stack: list[tuple[str, bool]], open_count: dict[str, int], name: str) -> bool:
    """An end tag closes the innermost open tag of its name (and what is open inside it); a stray one is kept
    (the parser ignores it). Each tag is pushed and popped once: linear overall."""
    if not open_count.get(name):
        return True
    while True:
        open_name, kept = _pop(stack, open_count)
        if open_name == name:
            return kept


def _pop(stack: list[tuple[str, bool]], open_count: dict[str, int]) -> tuple[str, bool]:
    name, kept = stack.pop()
    open_count[name] -= 1
    return name, kept


def clean_article(article: Article, parsed: tuple[str, Pruned] | None = None) -> Article:
    """`parsed`: a markup and its tree, already built (dating's signals): taken over when it is this body's."""
    body, flattened = flatten_deep(article.body)
    if flattened:  # readers that make HTML (markdown) may nest again what read_file flattened
        article.warn(f"{flattened} tag(s) nested deeper than {MAX_DEPTH} levels dropped, their text kept")
    page = parsed[1] if parsed is not None and parsed[0] == body else Pruned(body)
    located = boilerplate.prune(page, article)
    safe = xml_text(sanitize_html(page.inner_html(page.top)))  # top-level text escaped, comments dropped
    tree = fragment.parse(safe)
    # A pass whose elements the sanitized markup lacks (no pass adds them) is skipped: each walks the whole tree.
    if "<time" in safe:
        _valid_datetimes(tree)
    if "<li" in safe or "<pre" in safe:
        _valid_structure(tree)
    _blocks_from_divs(tree)
    if "<img" in safe or "<figure" in safe:
        _make_figures(tree)
    if "<br" in safe:
        _drop_edge_breaks(tree)
    _drop_empty(tree)
    _drop_title_repeat(tree, article.title)
    _reflow(tree)
    _trim_blocks(tree)
    _drop_stray_marks(tree)
    _tighten_punctuation(tree)
    _drop_repeats(tree, article)
    if "<a" in safe:
        _resolve_links(tree, article.url)
    if len(safe) > MAX_BLOCK:  # no block's text is longer than the markup
        _split_long_blocks(tree, article)
    article.images = _collect_images(tree, located)
    article.body = fragment.inner_html(tree)
    article.language = declared_language(article.language) or detect_language(_prose(tree))
    if not fragment.has_text(tree) and not article.images:
        article.warn("the article has no text after cleaning")
    elif said := error_page(article.title, tree):
        article.warn(f"looks like an error page ({said!r}), not an article: the page was saved after its link died?")
    return article


# A page saved where the article was no longer: a short text that opens (or is titled) with an HTTP error, or
# says in its first lines that the page is not there. Flagged, not dropped: the reader decides.
ERROR_STATUS = re.compile(r"^\W*(?:error|错误|錯誤)?\s*(?:404|410)\b[\s\W]*(?:(?:page\s+)?not\s+found|gone|"
                          r"页面不存在|頁面不存在|页面未找到|找不到页面|找不到網頁|未找到)?[\s\W]*$", re.I)
ERROR_WORDS = re.compile(r"page (?:you (?:are|were|'re) looking for|you requested)|page (?:was )?not found|"
                         r"页面不存在|頁面不存在|页面未找到|頁面未找到|找不到(?:您|你)?(?:要|所)?(?:查找|访问|訪問|请求|請求)?的?"
                         r"(?:页面|頁面|网页|網頁)|不是您要查找的页面", re.I)
ERROR_PAGE_CHARS = 1500  # an article about error pages is longer


def error_page(title: str, tree: Element) -> str:
    """What makes the article look like an error page (ERROR_STATUS, ERROR_WORDS), or ""."""
    text = fragment.short_text(tree, ERROR_PAGE_CHARS)
    if text is None:
        return ""
    first = next((block for block in fragment.tags(tree, BLOCKS) if fragment.has_text(block)), None)
    opening = fragment.get_text(first).strip() if first is not None else ""
    for candidate in (title.strip(), opening):
        if ERROR_STATUS.match(candidate):
            return candidate[:40]
    found = ERROR_WORDS.search(text[:300])
    return found.group(0) if found else ""


def _prose(tree: Element) -> str:
    """The text outside code blocks: code is Latin whatever the language of the article around it."""
    return "".join(text.value for text in fragment.strings(tree) if not _in_pre(text))


def _blocks_from_divs(tree: Element) -> None:
    """Feeds wrap everything in divs: unwrap them, wrapping loose inline runs in paragraphs. In reverse document
    order: what an unwrap moves has been handled already."""
    for div in reversed(fragment.tags(tree, ["div", "span"])):
        if (div.tag == "span" or fragment.first(div, BLOCKS | {"div"}) is not None
                or fragment.ancestor(div, ["figcaption", "li", "td", "th"]) is not None):
            fragment.unwrap(div)
        elif fragment.has_text(div) or fragment.first(div, "img") is not None:
            div.tag = "p"
        else:
            fragment.extract(div)
    _wrap_loose_inline(tree)


def _wrap_loose_inline(tree: Element) -> None:
    """Runs of inline content between blocks become paragraphs; `<br>` between blocks goes. The children are
    taken out once and put back in order."""
    children = _taken_out(tree)
    out = _Appender(tree)
    run: list[Element | str] = []

    def flush():
        if any(isinstance(node, etree._Element) or node.strip() for node in run):
            p = _Appender(fragment.new("p"))
            for node in run:
                p.add(node)
            out.add(p.element)
        else:
            for node in run:  # white space between blocks stays as it was
                out.add(node)
        run.clear()

    for node in children:
        if isinstance(node, etree._Element) and node.tag in BLOCKS | {"p", "div"}:
            flush()
            out.add(node)
        elif isinstance(node, etree._Element) and node.tag == "br":
            flush()
        else:
            run.append(node)
    flush()


def _taken_out(element: Element) -> list[Element | str]:
    """`element`'s children (elements, and strings), taken out of it, in order."""
    children = [node if isinstance(node, etree._Element) else node.value for node in fragment.children(element)]
    element.text = None
    for child in list(element):
        child.tail = None  # listed above, as a string of its own
        element.remove(child)
    return children


class _Appender:
    """Appends elements and strings to `element`, in order (a string goes to its text or its last child's tail)."""

    def __init__(self, element: Element):
        self.element = element

    def add(self, node: Element | str) -> None:
        if isinstance(node, str):
            last = self.element[-1] if len(self.element) else None
            if last is None:
                self.element.text = (self.element.text or "") + node
            else:
                last.tail = (last.tail or "") + node
        else:
            self.element.append(node)


# Blocks whose content is phrasing only: a figure never sits inside one (`<h3><img></h3>` in real archives).
PHRASING_BLOCKS = ["p", "h2", "h3", "h4", "h5", "h6"]


def _make_figures(tree: Element) -> None:
    """Each image becomes a figure; a short paragraph of `<small>` right after it is its caption."""
    for img in fragment.tags(tree, "img"):
        if fragment.ancestor(img, "figure") is not None:
            continue
        container = fragment.ancestor(img, PHRASING_BLOCKS)
        figure = fragment.new("figure")
        bare = container is not None and not fragment.has_text(container)
        if container is None:
            img.addprevious(figure)
        elif bare:
            container.addprevious(figure)
        else:  # a figure never sits inside a paragraph (invalid, and it breaks the text): put it after
            fragment.insert_after(container, figure)
        figure.append(fragment.extract(img))
        if container is not None and bare and fragment.first(container, "img") is None:
            fragment.extract(container)
        caption = figure.getnext()
        if caption is not None and caption.tag == "p" and _is_caption(caption):
            caption.tag = "figcaption"
            figure.append(fragment.extract(caption))
    for figure in fragment.tags(tree, "figure"):
        for p in fragment.tags(figure, "p"):
            if not fragment.has_text(p):
                fragment.unwrap(p)  # <figure><p><img></p></figure>
        caption = fragment.first(figure, "figcaption")
        following = figure.getnext()
        if caption is None and following is not None and following.tag == "figcaption":
            figure.append(fragment.extract(following))  # Reuters closes the figure before its caption
            caption = following
        image = fragment.first(figure, "img")
        if image is not None and caption is not None and not image.get("alt"):
            image.set("alt", fragment.text(caption, " ", strip=True))


def _valid_structure(tree: Element) -> None:
    """What HTML parsers accept and XHTML does not (EPUBCheck, strict readers): a list item outside any list is
    put in one (a run of them in one `<ul>`); a block inside `<pre>` (`<pre><p>…</p></pre>`) gives it its text,
    a line each."""
    for item in fragment.tags(tree, "li"):
        parent = item.getparent()
        if parent is None or parent.tag in ("ul", "ol"):
            continue
        previous = item.getprevious()
        if previous is not None and previous.tag == "ul" and not (previous.tail or "").strip():
            _Appender(previous).add(previous.tail or "")  # the blank between them goes inside too
            previous.tail = None
            previous.append(item)
        else:
            wrapper = fragment.new("ul")
            item.addprevious(wrapper)
            wrapper.append(item)
    for pre in fragment.tags(tree, "pre"):
        if pre.getparent() is None or fragment.ancestor(pre, "pre") is not None:
            continue  # handled with the outer one
        for block in reversed([e for e in fragment.tags(pre) if e.tag in BLOCKS | {"div", "li", "pre"}]):
            _own_line(block)
            fragment.unwrap(block)


def _own_line(block: Element) -> None:
    """A line break before and after `block`'s text, where none is (inside <pre>, a block was a line)."""
    previous = block.getprevious()
    before = previous.tail if previous is not None else block.getparent().text
    after_break = previous is not None and previous.tag == "br" and not previous.tail
    if (before or previous is not None) and not (before or "").endswith("\n") and not after_break:
        block.text = "\n" + (block.text or "")
    if (block.tail or block.getnext() is not None) and not (block.tail or "").startswith("\n"):
        block.tail = "\n" + (block.tail or "")


def _is_caption(tag: Element) -> bool:
    children = [c for c in fragment.children(tag) if not (isinstance(c, Text) and not c.value.strip())]
    return len(children) == 1 and fragment.name(children[0]) == "small"


def _drop_empty(tree: Element) -> None:
    for tag in reversed(fragment.tags(tree, ["p", "li", "blockquote", "h2", "h3", "h4", "h5", "h6", "strong", "em",
                                             "b", "i", "a", "span", "figcaption"])):
        if not fragment.has_text(tag) and fragment.first(tag, "img") is None:
            fragment.extract(tag)
    for text in fragment.strings(tree):
        if not text.tail and not len(text.owner) and text.owner.tag in ("p", "figcaption", "li"):  # its sole child
            text.value = EDGE_BLANKS.sub("", text.value)


def _drop_title_repeat(tree: Element, title: str) -> None:
    """Feeds repeat the headline above the text (BBC's h1, VOA's caption of a player): drop it once."""
    key = _key(title)
    if len(key) < 4:
        return
    for block in fragment.tags(tree, ["p", "h2", "h3", "figcaption"], limit=4):
        if _key(fragment.text(block)) == key:
            fragment.extract(block)
            return


def _key(text: str) -> str:
    return BLANKS.sub("", text or "")


def _reflow(tree: Element) -> None:
    """Join paragraphs that a hard wrap split mid-sentence (`首次会` / `晤，`)."""
    for p in fragment.tags(tree, "p"):
        if p.getparent() is not tree:
            continue
        nxt = p.getnext()
        while nxt is not None and nxt.tag == "p" and _split_mid_sentence(p, nxt):
            _Appender(p).add(nxt.text or "")
            for child in list(nxt):
                p.append(child)  # with the text after it
            fragment.extract(nxt)
            nxt = p.getnext()
    code = fragment.first(tree, "pre") is not None  # most bodies have none: no text need look up for one
    for text in fragment.strings(tree):  # hard wraps inside a paragraph; code keeps its lines
        if "\n" in text.value and not (code and _in_pre(text)):
            joined = HARD_WRAP.sub("", text.value)
            text.value = joined.replace("\n", " ")


def _in_pre(node: fragment.Node) -> bool:
    """Inside a code block, where every space and line break is the text (`<pre><code>`: the text's parent is
    the `code`, not the `pre`)."""
    return fragment.ancestor(node, "pre") is not None


def _split_mid_sentence(p: Element, nxt: Element) -> bool:
    """Split by a hard wrap: prose that stops without punctuation, continued by a broken-off word.

    Headings and subtitles stop without punctuation too; they are told apart by being short, bold,
    spaced like headlines, or free of the commas prose has, and by the next paragraph starting a
    sentence of its own rather than finishing one (`晤，并签署` closes a clause in a few characters).
    """
    before, after = fragment.text(p).rstrip(), fragment.text(nxt).lstrip()
    if not before or not after or fragment.first(p, "img") is not None or fragment.first(nxt, "img") is not None:
        return False
    if len(before) < 20 or before[-1] in TERMINAL or re.search(r"\S(\s{2,}|\u3000)\S", before):
        return False
    if _all_emphasis(p) or _all_emphasis(nxt):
        return False
    if not (re.match(rf"[{CJK}]|[{OPENING_PUNCT}]", after[0]) and re.match(rf"[{CJK}]", before[-1])):
        return False
    prose = re.search(r"[，、；：,;]", before) is not None
    closes_soon = re.match(rf"[{CJK}]{{0,6}}[{OPENING_PUNCT}]", after) is not None
    return prose or closes_soon


def _all_emphasis(p: Element) -> bool:
    children = [c for c in fragment.children(p) if not (isinstance(c, Text) and not c.value.strip())]
    return len(children) == 1 and fragment.name(children[0]) in ("strong", "b", "em")


def _trim_blocks(tree: Element) -> None:
    """Feeds indent their paragraphs with spaces: trim each block's leading and trailing white space."""
    for block in fragment.tags(tree, ["p", "li", "figcaption", "h2", "h3", "h4", "h5", "h6", "blockquote"]):
        texts = [text for text in fragment.strings(block) if not _in_pre(text)]
        if not texts:
            continue
        texts[0].value = LEADING_BLANKS.sub("", texts[0].value)
        texts = [text for text in fragment.strings(block) if not _in_pre(text)]  # trimming may empty one
        if texts:
            texts[-1].value = TRAILING_BLANKS.sub("", texts[-1].value)


TEXT_BLOCKS = ["p", "li", "figcaption", "h2", "h3", "h4", "h5", "h6", "blockquote", "dd", "dt", "td", "th"]
CODE = ["pre", "code", "kbd", "samp"]
# Full-width marks carry their blank half with them: a space beside one is the source's, not the text's.
FULL_WIDTH = set("，。、；：？！（）《》〈〉「」『』【】〔〕［］")
SPACES = re.compile(r"[ \t\n\u00a0]+")
# A caption or paragraph that opens with a lone mark and a space (BBC's `。 ©BSIP`): the mark is left over
# from a caption the feed lost, and no line may start with it.
STRAY_MARK = re.compile(r"^[。．，、；：？！.,;:]\s+(?=\S)")


def _drop_edge_breaks(tree: Element) -> None:
    """A `<br>` at the start or the end of a block draws a blank line, not a break between two: dropped."""
    for block in fragment.tags(tree, TEXT_BLOCKS):
        if _in_pre(block):
            continue
        for last in (False, True):
            while isinstance(leaf := _edge_leaf(block, last), etree._Element) and leaf.tag == "br":
                fragment.extract(leaf)


def _edge_leaf(block: Element, last: bool) -> fragment.Node | None:
    """The first (or last) node that shows something: text that is not blank, or an element without content."""
    for node in _descendants_backwards(block) if last else _descendants(block):  # lazily: a run of <br> is long
        if isinstance(node, Text):
            if node.value.strip():
                return node
        elif node.text is None and not len(node):
            return node
    return None


def _descendants(root: Element) -> Iterator[fragment.Node]:
    """Every element and string under `root`, in document order (BeautifulSoup's `.descendants`)."""
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if event == "start":
            if element is not root:
                yield element
            if element.text:
                yield Text(element, False)
        elif element is not root and element.tail:
            yield Text(element, True)


def _descendants_backwards(root: Element) -> Iterator[fragment.Node]:
    """`_descendants` from the last."""
    for child in root.iterchildren(reversed=True):
        if child.tail:
            yield Text(child, True)
        yield from _descendants_backwards(child)
        yield child
    if root.text:
        yield Text(root, False)


def _following(first: Element, tree: Element) -> Iterator[fragment.Node]:
    """What comes after `first` begins, in document order, to the end of `tree` (BeautifulSoup's
    `.next_elements`), lazily: a repeat is looked for just after its twin."""
    yield from _descendants(first)
    node = first
    while node is not tree:
        if node.tail:
            yield Text(node, True)
        for sibling in node.itersiblings():
            yield sibling
            yield from _descendants(sibling)
            if sibling.tail:
                yield Text(sibling, True)
        parent = node.getparent()
        assert parent is not None  # `first` is in `tree`
        node = parent  # then the text after the parent, and what follows it


def _drop_stray_marks(tree: Element) -> None:
    code = fragment.first(tree, "pre") is not None
    for block in fragment.tags(tree, ["p", "figcaption"]):
        texts = [text for text in fragment.strings(block) if not (code and _in_pre(text))]
        if texts and STRAY_MARK.match(texts[0].value):
            texts[0].value = STRAY_MARK.sub("", texts[0].value)


def _tighten_punctuation(tree: Element) -> None:
    """Spaces beside full-width punctuation go (`（BSI） 和` is set `（BSI）和`), and beside “ ” between them and
    a Han character. Code keeps its spaces. Neighbouring text nodes of one block are read as one text."""
    code = fragment.first(tree, CODE) is not None
    for block in fragment.tags(tree, TEXT_BLOCKS):
        texts = [text for text in fragment.strings(block)
                 if not (code and fragment.ancestor(text, CODE) is not None)
                 and fragment.ancestor(text, TEXT_BLOCKS) is block]
        values = [text.value for text in texts]  # as they were: each is tightened beside its neighbours' own
        for i, text in enumerate(texts):
            before = values[i - 1][-1:] if i else ""
            after = values[i + 1][:1] if i + 1 < len(values) else ""
            text.value = _tightened(values[i], before, after)


def _tightened(text: str, before: str, after: str) -> str:
    out, position = [], 0
    for match in SPACES.finditer(text):
        start, end = match.span()
        prev = text[start - 1] if start else before
        nxt = text[end] if end < len(text) else after
        out.append(text[position:start] + ("" if _tight(prev, nxt) else match.group()))
        position = end
    return "".join(out) + text[position:]


CJK_CHARACTER = re.compile(f"[{CJK}]")


def _tight(prev: str, nxt: str) -> bool:
    """No space between these two characters (either may be empty: the block's edge, where it stays). Asked of
    every space of every text: the cheap tests come first."""
    if not (prev and nxt):
        return False
    if prev in FULL_WIDTH or nxt in FULL_WIDTH:
        return True
    return (nxt in "“‘”’" and CJK_CHARACTER.match(prev) is not None) or \
        (prev in "“‘”’" and CJK_CHARACTER.match(nxt) is not None)


def _drop_repeats(tree: Element, article: Article) -> None:
    """Repeats that feeds and scrapers make, kept once: a block emitted twice in a row, a caption
    repeated as the paragraph next to its figure, the same image twice. A sentence the outlet
    itself writes twice, apart (a closing dateline of two sub-articles), is its text and stays.
    """
    previous = None
    names = ["p", "figcaption", "blockquote", "li", "h2", "h3", "h4"]
    # A full saved page read by an extractor (compile/readers/extract.py) shows what its reader saw, repeats included:
    # the extractors already drop their own duplicate artefacts. The rule is for feeds and scrapers.
    extracted = bool(article.meta.get("extraction"))
    for block in fragment.tags(tree, names) if not extracted else ():
        if fragment.ancestor(block, names) is not None or not fragment.within(block, tree):
            continue
        key = _key(fragment.text(block))
        if previous is not None and key and key == previous[0] and _adjacent(tree, previous[1], block):
            article.warn(f"dropped a repeated {block.tag}: '{key[:30]}…'")
            fragment.extract(block)
            continue
        previous = (key, block)
    for figure in fragment.tags(tree, "figure"):
        caption = fragment.first(figure, "figcaption")
        if caption is None or not fragment.within(figure, tree):
            continue
        key = _key(fragment.text(caption))
        for sibling in (figure.getprevious(), figure.getnext()):
            if sibling is not None and sibling.tag == "p" and key and _key(fragment.text(sibling)) == key:
                article.warn(f"dropped a caption repeated as a paragraph: '{key[:30]}…'")
                fragment.extract(sibling)
    seen: set[str] = set()
    for figure in fragment.tags(tree, "figure"):
        img = fragment.first(figure, "img")
        if img is None or not fragment.within(figure, tree):
            continue
        src = img.get("src") or ""
        if src in seen:
            article.warn(f"dropped a repeated image: {src[:60]}")
            fragment.extract(figure)
            continue
        seen.add(src)


def _adjacent(tree: Element, first: Element, second: Element) -> bool:
    """Nothing with text between two blocks."""
    for node in _following(first, tree):
        if node is second:
            return True
        if isinstance(node, Text) and node.value.strip() and not fragment.within(node, first):
            return False
        if isinstance(node, etree._Element) and node.tag == "img":
            return False
    return False



def _resolve_links(tree: Element, base_url: str) -> None:
    """Links that are the site's own (`/news/x.html`, `page.html`) are resolved against the article's URL: left
    relative, they would point inside the EPUB, or at a local file in the PDF. A link that cannot be resolved,
    or points at an anchor the article lacks, keeps its words and loses the link."""
    ids = {element.get("id") for element in fragment.tags(tree) if element.get("id") is not None}
    web = bool(urls.web_url(base_url))
    for link in fragment.tags(tree, "a"):
        href = (link.get("href") or "").strip()
        if href.startswith(("http://", "https://", "mailto:")) or (href.startswith("#") and href[1:] in ids):
            target = link.get("href") or ""  # as written
        elif href.startswith("//"):
            target = "https:" + href
        elif href and not href.startswith("#") and web and (resolved := _joined(base_url, href)):
            target = resolved
        else:
            fragment.unwrap(link)
            continue
        if (target := urls.one_fragment(target)) != link.get("href"):
            link.set("href", target)


def _valid_datetimes(tree: Element) -> None:
    """`<time datetime="Wed Nov 20 2019 …">` from any source fails EPUBCheck: rewritten as ISO 8601, or dropped."""
    for stamp in fragment.tags(tree, "time"):
        if stamp.get("datetime") is None:
            continue
        value = iso_datetime(stamp.get("datetime") or "")
        if value:
            stamp.set("datetime", value)
        else:
            del stamp.attrib["datetime"]


def _joined(base_url: str, href: str) -> str:
    """`href` resolved against `base_url`, or "" when either is malformed (`http://[::1/`)."""
    try:
        return urljoin(base_url, href)
    except ValueError:
        return ""


SPLITTABLE = ["p", "li", "blockquote", "figcaption", "td", "th", "dd"]
SENTENCE = re.compile(r"[^。！？.!?]*[。！？.!?]+[”’」』）)\"']*|[^。！？.!?]+")


def _split_long_blocks(tree: Element, article: Article) -> None:
    """A text block longer than MAX_BLOCK characters becomes several paragraphs, cut at sentence ends
    (else at MAX_BLOCK): a paragraph is laid out as one unit by the PDF engine."""
    for block in fragment.tags(tree, SPLITTABLE):
        size = len(fragment.text(block))
        if size <= MAX_BLOCK or fragment.first(block, [*SPLITTABLE, *BLOCKS, "div"]) is not None:
            continue  # inner blocks are split themselves
        parts = _paragraphs(_taken_out(block))
        article.warn(f"a {block.tag} of {size:,} characters split into {len(parts)} paragraphs")
        if block.tag == "p":
            for part in parts:
                block.addprevious(part)
            fragment.extract(block)
        else:
            for part in parts:
                block.append(part)


def _paragraphs(nodes: list[Element | str]) -> list[Element]:
    """The nodes of one block in paragraphs of at most MAX_BLOCK characters (an inline tag is not cut)."""
    parts, size = [_Appender(fragment.new("p"))], 0
    for node in nodes:
        pieces = _sentences(node) if isinstance(node, str) else [node]
        for piece in pieces:
            length = len(piece) if isinstance(piece, str) else len(fragment.text(piece))
            if size and size + length > MAX_BLOCK:
                parts.append(_Appender(fragment.new("p")))
                size = 0
            parts[-1].add(piece)
            size += length
    return [part.element for part in parts]


def _sentences(text: str) -> list[str]:
    """Sentences, none longer than MAX_BLOCK (a longer run without a sentence end is cut at MAX_BLOCK)."""
    return [sentence[i:i + MAX_BLOCK] for sentence in SENTENCE.findall(text)
            for i in range(0, len(sentence), MAX_BLOCK)]


def _collect_images(tree: Element, located: dict[str, tuple[str, str]]) -> list[Image]:
    found: dict[str, Image] = {}
    for figure in fragment.tags(tree, "figure"):
        img = fragment.first(figure, "img")
        if img is None or not img.get("src"):
            continue
        caption = fragment.first(figure, "figcaption")
        url, proxied = markup.unwrap_proxy(img.get("src") or "")
        img.set("src", url)
        local, written = located.get(url, ("", ""))
        if url not in found:
            found[url] = Image(url=url, found_url=written or proxied, alt=img.get("alt") or "", local=local,
                               caption=fragment.text(caption, " ", strip=True) if caption is not None else "")
    return list(found.values())


# Characters whose simplified and traditional forms differ, in pairs: frequent enough to decide.
_SIMPLIFIED = "这个们说时国会对发经现长门问东车马书买卖语话见后来实变开关过还进边为与专业网务报总统战争军选举华觉认识让产动员关系"  # noqa: E501
_TRADITIONAL = "這個們說時國會對發經現長門問東車馬書買賣語話見後來實變開關過還進邊為與專業網務報總統戰爭軍選舉華覺認識讓產動員關係"  # noqa: E501
_ONLY_S = {s for s, t in zip(_SIMPLIFIED, _TRADITIONAL, strict=True) if s != t}
_ONLY_T = {t for s, t in zip(_SIMPLIFIED, _TRADITIONAL, strict=True) if s != t}


WEB_ADDRESS = re.compile(r"(https?://|www\.)[^\s\u3000-\u303f\uff00-\uffef]+", re.I)
# What is not Han, not Latin: taken out, what is left is counted (findall made a string of each character).
NOT_HAN = re.compile(f"[^{CJK}]+")
NOT_LATIN = re.compile(r"[^A-Za-z]+")


def detect_language(text: str) -> str:
    text = WEB_ADDRESS.sub("", text)  # an address is Latin in any language
    han = len(NOT_HAN.sub("", text))
    latin = len(NOT_LATIN.sub("", text))
    if han == 0 and latin == 0:
        return ""
    if han * 2 < latin:
        return "en"
    simplified = sum(text.count(c) for c in _ONLY_S)
    traditional = sum(text.count(c) for c in _ONLY_T)
    return "zh-Hant" if traditional > simplified else "zh-Hans"
