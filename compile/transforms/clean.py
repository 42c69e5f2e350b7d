"""Cleaning: boilerplate out, allow-list sanitizing, figures, CJK reflow, repeated blocks, language.

Order matters: boilerplate is found by the attributes the sanitizer removes, so it goes first
(compile/transforms/boilerplate.py, on the page's own tree); the sanitizer (nh3, an allow-list) then
guarantees that nothing but plain structural HTML reaches the writers; the structural passes here work on
that safe tree.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from bs4 import BeautifulSoup, NavigableString, PageElement, Tag

from compile import urls, walk
from compile.images import markup
from compile.model import Article, Image
from compile.pruning import Pruned
from compile.sanitize import attribute, iso_datetime, sanitize_html, xml_text
from compile.text import HAN, YIJING, declared_language
from compile.transforms import boilerplate

BLOCKS = {"p", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "pre", "figure", "figcaption", "table", "hr"}

CJK = HAN + YIJING
# A paragraph that ends with one of these is complete; without one, a long CJK paragraph followed by
# one starting with a CJK character was split by a hard wrap.
TERMINAL = "。！？!?…”’」』）)》】：:；;.—"
CJK_PUNCT = "，。、；：！？”“」「『』（）《》"
OPENING_PUNCT = "，。、；：？！）」』”’》〉】"


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
    tree = walk.first(BeautifulSoup(f"<div>{safe}</div>", "lxml"), "div")  # not `.div`: a find(), ~0.07 ms
    assert tree is not None  # the div written around the fragment
    # A pass whose elements the sanitized markup lacks (no pass adds them) is skipped: each walks the whole tree.
    if "<time" in safe:
        _valid_datetimes(tree)
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
    article.body = tree.decode_contents()
    article.language = declared_language(article.language) or detect_language(_prose(tree))
    if not tree.get_text(strip=True) and not article.images:
        article.warn("the article has no text after cleaning")
    return article


def _prose(tree: Tag) -> str:
    """The text outside code blocks: code is Latin whatever the language of the article around it."""
    return "".join(text for text in walk.strings(tree) if not _in_pre(text))


def _gone(tag: Tag) -> bool:
    """Whether the tag was decomposed. Not bs4's `tag.decomposed`: it reads `tag._decomposed`, which a live tag
    lacks, so `Tag.__getattr__` turns it into `tag.find("_decomposed")`, a search of the whole subtree on every
    call (cleaning was quadratic in nesting depth: 4,000 levels took 10 s)."""
    return vars(tag).get("_decomposed", False)


def _blocks_from_divs(tree: Tag) -> None:
    """Feeds wrap everything in divs: unwrap them, wrapping loose inline runs in paragraphs."""
    found = walk.tags(tree, ["div", "span"])
    # Each one's place among its parent's children, once: bs4 looks it up by a scan of the siblings on every
    # unwrap (quadratic in a wide body). In reverse document order, neither its parent nor its place changes
    # before it is reached: only its own descendants and later siblings have been handled.
    places = {id(child): i for parent in {id(d.parent): d.parent for d in found if d.parent is not None}.values()
              for i, child in enumerate(parent.contents)}
    for div in reversed(found):
        if (div.name == "span" or walk.first(div, BLOCKS | {"div"})
                or walk.ancestor(div, ["figcaption", "li", "td", "th"])):
            _unwrap(div, places[id(div)])
        elif div.get_text(strip=True) or walk.first(div, "img"):
            div.name = "p"
        else:
            div.decompose()
    _wrap_loose_inline(tree)


def _unwrap(tag: Tag, index: int) -> None:
    """`tag.unwrap()`, its place among its parent's children known."""
    parent = tag.parent
    assert parent is not None  # a tag found under the tree
    tag.extract(_self_index=index)
    for child in reversed(tag.contents[:]):
        parent.insert(index, child)


def _wrap_loose_inline(tree: Tag) -> None:
    """Runs of inline content between blocks become paragraphs; `<br>` between blocks goes. The children are
    taken out once and put back in order (one insert per run before its first node scanned every sibling)."""
    children = list(tree.children)
    for index in range(len(children) - 1, -1, -1):
        children[index].extract(_self_index=index)
    run: list = []

    def flush():
        if any(isinstance(n, Tag) or n.strip() for n in run):
            p = tree.new_tag("p") if hasattr(tree, "new_tag") else BeautifulSoup("", "lxml").new_tag("p")
            for node in run:
                p.append(node)
            tree.append(p)
        else:
            for node in run:  # white space between blocks stays as it was
                tree.append(node)
        run.clear()

    for node in children:
        if isinstance(node, Tag) and node.name in BLOCKS | {"p", "div"}:
            flush()
            tree.append(node)
        elif isinstance(node, Tag) and node.name == "br":
            flush()
            node.decompose()
        else:
            run.append(node)
    flush()


def _make_figures(tree: Tag) -> None:
    """Each image becomes a figure; a short paragraph of `<small>` right after it is its caption."""
    factory = None  # made for the first image only: most articles have none, and a soup costs ~0.2 ms
    for img in walk.tags(tree, "img"):
        if walk.ancestor(img, "figure"):
            continue
        container = walk.ancestor(img, "p")
        if factory is None:
            factory = BeautifulSoup("", "lxml")
        figure = factory.new_tag("figure")
        bare = container is not None and not container.get_text(strip=True)
        if container is None:
            img.insert_before(figure)
        elif bare:
            container.insert_before(figure)
        else:  # a figure never sits inside a paragraph (invalid, and it breaks the text): put it after
            container.insert_after(figure)
        figure.append(img.extract())
        if container is not None and bare and not walk.first(container, "img"):
            container.decompose()
        caption = walk.next_tag(figure)
        if caption is not None and caption.name == "p" and _is_caption(caption):
            caption.name = "figcaption"
            figure.append(caption.extract())
    for figure in walk.tags(tree, "figure"):
        for p in walk.tags(figure, "p"):
            if not p.get_text(strip=True):
                p.unwrap()  # <figure><p><img></p></figure>
        caption = walk.first(figure, "figcaption")
        following = walk.next_tag(figure)
        if caption is None and following is not None and following.name == "figcaption":
            figure.append(following.extract())  # Reuters closes the figure before its caption
            caption = following
        image = walk.first(figure, "img")
        if image is not None and caption is not None and not image.get("alt"):
            image["alt"] = caption.get_text(" ", strip=True)


def _is_caption(tag: Tag) -> bool:
    children = [c for c in tag.children if not (isinstance(c, NavigableString) and not c.strip())]
    return len(children) == 1 and getattr(children[0], "name", None) == "small"


def _drop_empty(tree: Tag) -> None:
    for tag in reversed(walk.tags(tree, ["p", "li", "blockquote", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b",
                                       "i", "a", "span", "figcaption"])):
        if not tag.get_text(strip=True) and not walk.first(tag, "img"):
            tag.decompose()
    for text in walk.strings(tree):
        if text.parent is not None and text.parent.name in ("p", "figcaption", "li"):
            stripped = re.sub(r"^[\s\u3000]+|[\s\u3000]+$", "", text) if _sole_child(text) else text
            if stripped != text:
                text.replace_with(stripped)


def _sole_child(node) -> bool:
    return len(node.parent.contents) == 1


def _drop_title_repeat(tree: Tag, title: str) -> None:
    """Feeds repeat the headline above the text (BBC's h1, VOA's caption of a player): drop it once."""
    key = _key(title)
    if len(key) < 4:
        return
    for block in walk.tags(tree, ["p", "h2", "h3", "figcaption"], limit=4):
        if _key(block.get_text()) == key:
            block.decompose()
            return


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


def _reflow(tree: Tag) -> None:
    """Join paragraphs that a hard wrap split mid-sentence (`首次会` / `晤，`)."""
    for p in walk.tags(tree, "p"):
        if p.parent is not tree or _gone(p):
            continue
        nxt = walk.next_tag(p)
        while nxt is not None and nxt.name == "p" and _split_mid_sentence(p, nxt):
            for child in list(nxt.contents):
                p.append(child.extract())
            nxt.decompose()
            nxt = walk.next_tag(p)
    for text in walk.strings(tree):  # hard wraps inside a paragraph; code keeps its lines
        if "\n" in text and not _in_pre(text):
            joined = re.sub(rf"(?<=[{CJK}{CJK_PUNCT}])[ \t]*\n\s*(?=[{CJK}{CJK_PUNCT}])", "", text)
            text.replace_with(joined.replace("\n", " "))


def _in_pre(node) -> bool:
    """Inside a code block, where every space and line break is the text (`<pre><code>`: the text's parent is
    the `code`, not the `pre`)."""
    return walk.ancestor(node, "pre") is not None


def _split_mid_sentence(p: Tag, nxt: Tag) -> bool:
    """Split by a hard wrap: prose that stops without punctuation, continued by a broken-off word.

    Headings and subtitles stop without punctuation too; they are told apart by being short, bold,
    spaced like headlines, or free of the commas prose has, and by the next paragraph starting a
    sentence of its own rather than finishing one (`晤，并签署` closes a clause in a few characters).
    """
    before, after = p.get_text().rstrip(), nxt.get_text().lstrip()
    if not before or not after or walk.first(p, "img") or walk.first(nxt, "img"):
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


def _all_emphasis(p: Tag) -> bool:
    children = [c for c in p.children if not (isinstance(c, NavigableString) and not c.strip())]
    return len(children) == 1 and getattr(children[0], "name", None) in ("strong", "b", "em")


def _trim_blocks(tree: Tag) -> None:
    """Feeds indent their paragraphs with spaces: trim each block's leading and trailing white space."""
    for block in walk.tags(tree, ["p", "li", "figcaption", "h2", "h3", "h4", "h5", "h6", "blockquote"]):
        texts = [text for text in walk.strings(block) if not _in_pre(text)]
        if not texts:
            continue
        _replace_text(texts[0], re.sub(r"^[\s\u3000]+", "", texts[0]))
        texts = [text for text in walk.strings(block) if not _in_pre(text)]  # trimming may remove one
        if texts:
            _replace_text(texts[-1], re.sub(r"[\s\u3000]+$", "", texts[-1]))


TEXT_BLOCKS = ["p", "li", "figcaption", "h2", "h3", "h4", "h5", "h6", "blockquote", "dd", "dt", "td", "th"]
CODE = ["pre", "code", "kbd", "samp"]
# Full-width marks carry their blank half with them: a space beside one is the source's, not the text's.
FULL_WIDTH = set("，。、；：？！（）《》〈〉「」『』【】〔〕［］")
SPACES = re.compile(r"[ \t\n\u00a0]+")
# A caption or paragraph that opens with a lone mark and a space (BBC's `。 ©BSIP`): the mark is left over
# from a caption the feed lost, and no line may start with it.
STRAY_MARK = re.compile(r"^[。．，、；：？！.,;:]\s+(?=\S)")


def _drop_edge_breaks(tree: Tag) -> None:
    """A `<br>` at the start or the end of a block draws a blank line, not a break between two: dropped."""
    for block in walk.tags(tree, TEXT_BLOCKS):
        if _in_pre(block):
            continue
        for last in (False, True):
            while isinstance(leaf := _edge_leaf(block, last), Tag) and leaf.name == "br":
                leaf.decompose()


def _edge_leaf(block: Tag, last: bool) -> PageElement | None:
    """The first (or last) node that shows something: text that is not blank, or an element without content."""
    for node in reversed(list(block.descendants)) if last else block.descendants:
        if isinstance(node, NavigableString):
            if node.strip():
                return node
        elif isinstance(node, Tag) and not node.contents:
            return node
    return None


def _drop_stray_marks(tree: Tag) -> None:
    for block in walk.tags(tree, ["p", "figcaption"]):
        texts = [text for text in walk.strings(block) if not _in_pre(text)]
        if texts and STRAY_MARK.match(texts[0]):
            _replace_text(texts[0], STRAY_MARK.sub("", texts[0]))


def _tighten_punctuation(tree: Tag) -> None:
    """Spaces beside full-width punctuation go (`（BSI） 和` is set `（BSI）和`), and beside “ ” between them and
    a Han character. Code keeps its spaces. Neighbouring text nodes of one block are read as one text."""
    for block in walk.tags(tree, TEXT_BLOCKS):
        texts = [text for text in walk.strings(block)
                 if walk.ancestor(text, CODE) is None and walk.ancestor(text, TEXT_BLOCKS) is block]
        for i, text in enumerate(texts):
            before = texts[i - 1][-1:] if i else ""
            after = texts[i + 1][:1] if i + 1 < len(texts) else ""
            _replace_text(text, _tightened(str(text), before, after))


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


def _replace_text(node: NavigableString, text: str) -> None:
    if text == node or node.parent is None:
        return
    if text:
        node.replace_with(text)
    else:
        node.extract()


def _drop_repeats(tree: Tag, article: Article) -> None:
    """Repeats that feeds and scrapers make, kept once: a block emitted twice in a row, a caption
    repeated as the paragraph next to its figure, the same image twice. A sentence the outlet
    itself writes twice, apart (a closing dateline of two sub-articles), is its text and stays.
    """
    previous = None
    names = ["p", "figcaption", "blockquote", "li", "h2", "h3", "h4"]
    # A full saved page read by an extractor (compile/readers/extract.py) shows what its reader saw, repeats included:
    # the extractors already drop their own duplicate artefacts. The rule is for feeds and scrapers.
    extracted = bool(article.meta.get("extraction"))
    for block in walk.tags(tree, names) if not extracted else ():
        if _gone(block) or walk.ancestor(block, names):
            continue
        key = _key(block.get_text())
        if previous is not None and key and key == previous[0] and _adjacent(previous[1], block):
            article.warn(f"dropped a repeated {block.name}: '{key[:30]}…'")
            block.decompose()
            continue
        previous = (key, block)
    for figure in walk.tags(tree, "figure"):
        caption = walk.first(figure, "figcaption")
        if caption is None:
            continue
        key = _key(caption.get_text())
        for sibling in (walk.previous_tag(figure), walk.next_tag(figure)):
            if sibling is not None and sibling.name == "p" and key and _key(sibling.get_text()) == key:
                article.warn(f"dropped a caption repeated as a paragraph: '{key[:30]}…'")
                sibling.decompose()
    seen: set[str] = set()
    for figure in walk.tags(tree, "figure"):
        img = walk.first(figure, "img")
        if img is None:
            continue
        src = attribute(img, "src")
        if src in seen:
            article.warn(f"dropped a repeated image: {src[:60]}")
            figure.decompose()
            continue
        seen.add(src)


def _resolve_links(tree: Tag, base_url: str) -> None:
    """Links that are the site's own (`/news/x.html`, `page.html`) are resolved against the article's URL: left
    relative, they would point inside the EPUB, or at a local file in the PDF. A link that cannot be resolved,
    or points at an anchor the article lacks, keeps its words and loses the link."""
    ids = {tag["id"] for tag in walk.tags(tree) if tag.has_attr("id")}
    web = bool(urls.web_url(base_url))
    for link in walk.tags(tree, "a"):
        href = attribute(link, "href").strip()
        if href.startswith(("http://", "https://", "mailto:")) or (href.startswith("#") and href[1:] in ids):
            continue
        if href.startswith("//"):
            link["href"] = "https:" + href
        elif href and not href.startswith("#") and web and (resolved := _joined(base_url, href)):
            link["href"] = resolved
        else:
            link.unwrap()


def _valid_datetimes(tree: Tag) -> None:
    """`<time datetime="Wed Nov 20 2019 …">` from any source fails EPUBCheck: rewritten as ISO 8601, or dropped."""
    for stamp in [time for time in walk.tags(tree, "time") if time.has_attr("datetime")]:
        value = iso_datetime(attribute(stamp, "datetime"))
        if value:
            stamp["datetime"] = value
        else:
            del stamp["datetime"]


def _joined(base_url: str, href: str) -> str:
    """`href` resolved against `base_url`, or "" when either is malformed (`http://[::1/`)."""
    try:
        return urljoin(base_url, href)
    except ValueError:
        return ""


SPLITTABLE = ["p", "li", "blockquote", "figcaption", "td", "th", "dd"]
SENTENCE = re.compile(r"[^。！？.!?]*[。！？.!?]+[”’」』）)\"']*|[^。！？.!?]+")


def _split_long_blocks(tree: Tag, article: Article) -> None:
    """A text block longer than MAX_BLOCK characters becomes several paragraphs, cut at sentence ends
    (else at MAX_BLOCK): a paragraph is laid out as one unit by the PDF engine."""
    for block in walk.tags(tree, SPLITTABLE):
        size = len(block.get_text())
        if size <= MAX_BLOCK or walk.first(block, [*SPLITTABLE, *BLOCKS, "div"]):  # inner blocks are split themselves
            continue
        parts = _paragraphs(list(block.contents))
        article.warn(f"a {block.name} of {size:,} characters split into {len(parts)} paragraphs")
        if block.name == "p":
            block.replace_with(*parts)
        else:
            block.clear()
            block.extend(parts)


def _paragraphs(nodes: list) -> list[Tag]:
    """The nodes of one block in paragraphs of at most MAX_BLOCK characters (an inline tag is not cut)."""
    factory = BeautifulSoup("", "lxml")
    parts, size = [factory.new_tag("p")], 0
    for node in nodes:
        node.extract()
        pieces = _sentences(str(node)) if isinstance(node, NavigableString) else [node]
        for piece in pieces:
            length = len(piece) if isinstance(piece, str) else len(piece.get_text())
            if size and size + length > MAX_BLOCK:
                parts.append(factory.new_tag("p"))
                size = 0
            parts[-1].append(NavigableString(piece) if isinstance(piece, str) else piece)
            size += length
    return parts


def _sentences(text: str) -> list[str]:
    """Sentences, none longer than MAX_BLOCK (a longer run without a sentence end is cut at MAX_BLOCK)."""
    return [sentence[i:i + MAX_BLOCK] for sentence in SENTENCE.findall(text)
            for i in range(0, len(sentence), MAX_BLOCK)]


def _adjacent(first: Tag, second: Tag) -> bool:
    """Nothing with text between two blocks."""
    for node in first.next_elements:
        if node is second:
            return True
        if isinstance(node, NavigableString) and node.strip() and first not in node.parents:
            return False
        if isinstance(node, Tag) and node.name == "img":
            return False
    return False


def _collect_images(tree: Tag, located: dict[str, tuple[str, str]]) -> list[Image]:
    found: dict[str, Image] = {}
    for figure in walk.tags(tree, "figure"):
        img = walk.first(figure, "img")
        if img is None or not img.get("src"):
            continue
        caption = walk.first(figure, "figcaption")
        url, proxied = markup.unwrap_proxy(attribute(img, "src"))
        img["src"] = url
        local, written = located.get(url, ("", ""))
        if url not in found:
            found[url] = Image(url=url, found_url=written or proxied, alt=attribute(img, "alt"), local=local,
                               caption=caption.get_text(" ", strip=True) if caption else "")
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
