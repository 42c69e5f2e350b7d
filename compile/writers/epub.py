"""EPUB writer: EPUB 3 (with an NCX for older readers), valid, accessible, self-contained and reproducible.

Book order: cover page, title page, table of contents (the nav document), one XHTML file per article.
Every XHTML document is built here as a whole (ebooklib would re-parse and rewrap body fragments, and drop
what it does not know); ebooklib writes the package document, the NCX and the container. The zip is then
rewritten with fixed timestamps, so that the same inputs give the same bytes.

Decisions, and why:
- Article pages end with one small line of links (previous · contents · next). Every reader turns pages
  across articles by itself, but jumping to the next *article* from the middle of a long one, or back to the
  contents, takes several taps in most reader menus; one quiet line at the end costs nothing while reading.
- Fonts: the theme's CJK faces, subset to the characters the book uses (fonts.py), declared with @font-face
  under the very family names the theme's CSS asks for, so the theme needs no EPUB-specific CSS and a reader
  without Chinese fonts still shows the book as designed.
- `dcterms:modified` is not the wall clock: it is SOURCE_DATE_EPOCH when set (the reproducible-builds
  convention), else the newest article date.
- Identity: `dc:identifier` is a version 5 UUID of the book's content (`book_identifier`), so a rebuilt book
  replaces itself in a reader's library and another book never collides with it; `dc:creator` is never empty
  (`creators`: the editor, else up to three outlets, else the edition's word for many hands), without a role,
  which is what Calibre lists as authors.
- Every word the writer adds (navigation, landmarks, cover, accessibility summary) is the edition's, from
  compile/locales.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import json
import os
import posixpath
import re
import secrets
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import lxml.html
from ebooklib import epub
from lxml import etree

from compile import atomic, cachekey, processes
from compile import cover as cover_art
from compile import fonts as font_tools
from compile.config import EPUB_TARGETS, is_language_tag
from compile.locales import Strings
from compile.model import Article, Image
from compile.sanitize import xml_text
from compile.transforms import typeset
from compile.writers import parts as book_parts
from compile.writers.context import Book, Output, Resources, environment, render_article

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MB = 1_000_000


@dataclass(frozen=True)
class Target:
    """What one kind of reader needs: a size budget and whether embedded fonts are worth their bytes."""

    name: str
    budget: int | None  # bytes; over it, fonts are dropped first, then the report warns
    embed_fonts: bool
    applied: tuple[str, ...]  # what this target changes, in words, for the report
    display_options: bool = False  # Apple's META-INF display options file, when fonts are embedded


# Every target's file differs from generic's in what its list says (tests/test_epub_identity.py builds them all).
# No "kobo" target: all it listed (fonts embedded, the NCX and the EPUB 2 cover meta Kobo's renderer reads, no
# kobo spans) is what generic does, so its files were generic's byte for byte.
TARGETS = {
    "generic": Target("generic", None, True, (
        "subset CJK fonts embedded", "ibooks:specified-fonts so Apple Books uses them",
        "NCX and the EPUB 2 cover meta for older readers (Kobo's EPUB renderer reads them)")),
    "kindle": Target("kindle", 50 * MB, False, (
        "no embedded fonts: Kindle devices and apps ship CJK fonts, and Send to Kindle's conversion does "
        "not need them", "50 MB budget (Send to Kindle by e-mail)")),
    "apple": Target("apple", None, True, (
        "subset CJK fonts embedded", "ibooks:specified-fonts so Apple Books uses them instead of its own",
        "META-INF/com.apple.ibooks.display-options.xml (specified-fonts), which older Apple Books and iBooks "
        "read instead of the package's meta"), display_options=True),
    "email": Target("email", 18 * MB, True, (
        "18 MB budget: base64 grows a file by a third, and mail services refuse messages over 25 MB; embedded "
        "fonts are dropped first",)),
}
assert set(TARGETS) == set(EPUB_TARGETS), "config.EPUB_TARGETS and writers/epub.TARGETS must agree"

# Apple's display options: the file iBooks reads for embedded fonts (EPUB 2 books, and versions before the
# package's `ibooks:specified-fonts`). Outside the manifest, as Apple specifies.
APPLE_OPTIONS = ("META-INF/com.apple.ibooks.display-options.xml",
                 b'<?xml version="1.0" encoding="UTF-8"?>\n<display_options>\n<platform name="*">\n'
                 b'<option name="specified-fonts">true</option>\n</platform>\n</display_options>\n')
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/anthology-compiler/book-identifier")


def book_identifier(book: Book) -> str:
    """The same book gets the same id on every build, another book another: a name-based UUID (version 5) of
    the edition's language, the title, the volume and each article's title and words, in book order.

    Only letters and digits of the text count, so typesetting, quotes, spacing and markup (which improve
    from one version of the compiler to the next) leave a reader's library seeing the same book, while
    another text, another selection of articles or another script is another book. File names, the theme and
    the target do not count: a book moved to another folder, or made for another reader, is the same book."""
    digest = hashlib.sha256()
    for field_ in (book.anthology.language, book.strings.language, book.anthology.title,
                   str(book.anthology.volume or "")):
        _update(digest, field_)
    for article in book.anthology.articles:
        _update(digest, _words(article.title))
        _update(digest, _words(article.body))
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, digest.hexdigest())}"


def _update(digest, text: str) -> None:
    data = text.encode("utf-8")
    digest.update(len(data).to_bytes(8, "big") + data)  # length-prefixed: no two lists give one stream


def _words(markup: str) -> str:
    return "".join(re.findall(r"[^\W_]+", html.unescape(re.sub(r"<[^>]+>", "", markup))))


def creators(book: Book) -> list[str]:
    """Who the book is by, as `dc:creator` (no role: Calibre lists only creators without one, or `aut`, as
    authors, and shows "Unknown" for a book whose only creator is an editor): the editor when set; else the
    outlets, when there are one to three (corporate authors: "新华社 & 美国之音" in Calibre); else the
    edition's word for an anthology of many hands ("多位作者", "Various")."""
    if book.anthology.editor:
        return [book.anthology.editor]
    outlets = book.view().outlets
    return outlets if 0 < len(outlets) <= 3 else [book.strings("creator_fallback")]


def modified_time(book: Book) -> dt.datetime:
    """The package's last-modified time, without the wall clock: SOURCE_DATE_EPOCH, else the newest date."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC)
    stamps = [d for a in book.anthology.articles for d in (a.published, a.archived) if d is not None]
    return max(stamps).astimezone(dt.UTC) if stamps else dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


# ---------------------------------------------------------------- documents


@dataclass
class Doc:
    """One XHTML content document, before packaging."""

    uid: str
    file_name: str  # inside EPUB/
    title: str
    lang: str
    body: str  # well-formed XHTML body content
    styles: list[str] = field(default_factory=list)  # hrefs relative to the document
    body_class: str = ""
    properties: list[str] = field(default_factory=list)
    epub_type: str = ""  # structural semantics of the whole document (bodymatter, frontmatter ...)

    def xhtml(self) -> bytes:
        links = "".join(f'<link rel="stylesheet" type="text/css" href="{html.escape(href)}"/>\n'
                        for href in self.styles)
        body_class = f' class="{self.body_class}"' if self.body_class else ""
        body_class += f' epub:type="{self.epub_type}"' if self.epub_type else ""
        lang = html.escape(self.lang)  # a well-formed tag already (see _documents); escaped all the same
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
            '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" '
            f'lang="{lang}" xml:lang="{lang}">\n<head>\n<meta charset="utf-8"/>\n'
            f"<title>{html.escape(self.title, quote=False)}</title>\n{links}</head>\n"
            f"<body{body_class}>\n{self.body}\n</body>\n</html>\n"
        ).encode()


def to_xhtml(fragment: str, base_url: str | None = None) -> str:
    """An HTML fragment (as the shared templates render it) as well-formed XHTML: void elements closed,
    entities resolved, and `xml:lang` beside every `lang` (older readers match :lang() on xml:lang only).

    With `base_url` (an article page), the fragment is also made valid for a package: heading levels that
    skip (h1 then h3) are closed up, as screen readers navigate by them, blocks are lifted out of paragraphs
    and `datetime` values made valid. (Site-relative links were resolved by clean.py, for both writers.)"""
    parts = lxml.html.fragments_fromstring(fragment) if fragment.strip() else []
    if base_url is not None:
        elements = [p for p in parts if not isinstance(p, str)]
        _heading_order(elements)
        _blocks_out_of_paragraphs(elements)
        _valid_datetimes(elements)
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(html.escape(part, quote=False))
            continue
        for element in part.iter():
            if isinstance(element.tag, str) and element.get("lang"):
                element.set(XML_LANG, element.get("lang"))
        out.append(etree.tostring(part, method="xml", encoding="unicode", with_tail=True))
    return "".join(out)


def _heading_order(elements: list) -> None:
    previous = 0
    for root in elements:
        for heading in [e for e in root.iter() if isinstance(e.tag, str) and re.fullmatch(r"h[1-6]", e.tag)]:
            level = min(int(heading.tag[1]), previous + 1)
            heading.tag, previous = f"h{level}", level


BLOCKS = {"figure", "div", "table", "ul", "ol", "dl", "blockquote", "pre", "section", "article", "aside",
          "header", "footer", "nav", "hr", "p", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption", "address"}


def _blocks_out_of_paragraphs(elements: list) -> None:
    """`<p>text<figure/>more</p>` (archives do this) is invalid XHTML: split the paragraph around the block,
    or, when the block sits deeper inside inline markup, make the paragraph a div."""
    for root in elements:
        for para in reversed([e for e in root.iter("p")]):
            if any(child.tag in BLOCKS for child in para.iterdescendants() if isinstance(child.tag, str)):
                if any(child.tag in BLOCKS for child in para.iterdescendants()
                       if isinstance(child.tag, str) and child.getparent() is not para):
                    para.tag = "div"
                    continue
                _split(para)


def _split(para) -> None:
    pieces, current = [], lxml.html.Element("p", dict(para.attrib))
    current.text = para.text
    for child in list(para):
        if isinstance(child.tag, str) and child.tag in BLOCKS:
            tail, child.tail = child.tail, None
            pieces += [current, child]
            current = lxml.html.Element("p", {k: v for k, v in para.attrib.items() if k != "id"})
            current.text = tail
        else:
            current.append(child)
    pieces.append(current)
    if para.getparent() is None:
        para.tag = "div"  # a top-level paragraph has nowhere to put the pieces
        return
    anchor = para
    for piece in pieces:
        empty = piece.tag == "p" and not (piece.text or "").strip() and all(
            isinstance(c.tag, str) and c.tag == "br" and not (c.tail or "").strip() for c in piece)
        if not empty:
            anchor.addnext(piece)
            anchor = piece
    anchor.tail = para.tail
    para.getparent().remove(para)


def _valid_datetimes(elements: list) -> None:
    """HTML allows at most three digits of fractional seconds; Python's isoformat() writes six."""
    for root in elements:
        for stamp in root.iter("time"):
            value = stamp.get("datetime") or ""
            stamp.set("datetime", re.sub(r"(T\d\d:\d\d:\d\d)\.\d+", r"\1", value))


class RawXhtml(epub.EpubHtml):
    """A content document whose bytes are written as they are (ebooklib would rebuild them)."""

    def get_content(self, default=None):
        return self.content


@dataclass
class Parts:
    docs: list[Doc]
    chapters: list[Doc]
    images: dict[str, tuple[str, bytes]]  # file name -> (media type, bytes)
    toc: list  # ebooklib's toc structure, for the NCX
    parts: dict = field(default_factory=dict)  # the book's parts (writers/parts.py), for the report
    characters: dict = field(default_factory=dict)  # characters_by_role of all the documents, for the fonts


STYLES = ("styles/epub.css", "styles/book.css")  # writer's own rules first, so the theme can override them
FONT_CSS = "styles/fonts.css"


def _documents(book: Book, strings: Strings) -> Parts:
    anthology, env = book.anthology, environment(book.theme, book.zone, strings, book.cache_root)
    lang = anthology.language
    images: dict[str, tuple[str, bytes]] = {}
    by_path: dict[Path, str] = {}

    def image_name(path: Path, media_type: str) -> str:
        if path not in by_path:
            name = f"images/{path.name}"
            while name in images:
                name = f"images/{len(images)}-{path.name}"
            images[name] = (media_type, path.read_bytes())
            by_path[path] = name
        return "../" + by_path[path]

    styles = [f"../{s}" for s in STYLES]
    cover_doc = Doc("cover", "text/cover.xhtml", strings("cover"), lang, _cover_body(anthology.title, strings),
                    styles, "cover-page")
    title_doc = Doc("titlepage", "text/titlepage.xhtml", anthology.title, lang,
                    to_xhtml(env.get_template("titlepage.html.j2").render(**book.template_context())), styles,
                    "titlepage-page", epub_type="frontmatter titlepage")
    articles = [a for section in anthology.sections for a in section.articles]
    kept = cachekey.Entries(book.cache_root / "chapters", "chapter") if book.cache_root else None
    chapter = _Chapter(book, env, articles, strings, secrets.token_hex(8), kept)
    chapters: list[Doc] = []
    characters: dict[tuple[str, str, bool], set[str]] = {}
    for made_chapter, typeset_titles in processes.forked_map(typeset.recording(chapter.make), range(len(articles)),
                                                             book.workers):
        typeset.learn(typeset_titles)  # the titles' markup, for the contents and the parts below
        _merge_characters(characters, made_chapter.characters)
        chapters.append(chapter.with_images(made_chapter, image_name))
    made = book_parts.build(book, book_parts.EPUB)
    # Each part lists every article: a large book's are made side by side, in workers that inherit the titles'
    # markup typeset above.
    placed = [(part, "frontmatter") for part in made.front] + [(part, "backmatter") for part in made.back]
    workers = book.workers if len(articles) >= processes.MIN_FORKED else 1
    docs = processes.forked_map(lambda item: _part_doc(env, book, made, *item), placed, workers, batch=1, minimum=2)
    front, back = docs[:len(made.front)], docs[len(made.front):]
    toc: list = [epub.Link(doc.file_name, doc.title, doc.uid) for doc in front]
    by_id = {doc.uid: doc for doc in chapters}
    for section in book.view().sections:
        links = [epub.Link(by_id[f"a-{a.id}"].file_name, by_id[f"a-{a.id}"].title, f"a-{a.id}")
                 for a in section.articles]
        if section.title and links:
            toc.append((epub.Section(section.title, links[0].href), links))
        else:
            toc.extend(links)
    toc.extend(epub.Link(doc.file_name, doc.title, doc.uid) for doc in back)
    nav_doc = Doc("nav", "nav.xhtml", strings("toc"), lang, _nav_body(book, chapters, strings, front, back),
                  list(STYLES), "toc-page", ["nav"], epub_type="frontmatter")
    docs = [cover_doc, title_doc, nav_doc, *front, *chapters, *back]
    _cross_document_links(docs)
    _merge_characters(characters, characters_by_role([cover_doc, title_doc, nav_doc, *front, *back]))
    return Parts(docs, chapters, images, toc, made.summary(), characters)


@dataclass(frozen=True)
class _MadeChapter:
    """An article's document as a worker makes it, its images not yet named; and what the build keeps of it."""

    doc: Doc
    images: list[tuple[Path, str]]  # (file, media type) of each image token in the body, in order
    characters: dict[tuple[str, str, bool], set[str]]


# What stands for the build's nonce in a kept chapter (the nonce is new each build; the chapter's XHTML is not).
KEPT_TOKEN = "anthology-kept-image-token"


@dataclass(frozen=True)
class _Chapter:
    """An article's document, made in a worker process (processes.forked_map): the templates, the XHTML and the
    characters it sets are an article's alone. Its images are named after, in book order, by the build's
    process: the token in each `src` (with this build's `nonce`, which no archive can guess) stands for one.

    The templates are rendered each build (they read the book: neighbours, stories, settings); what is made of
    their HTML (its XHTML and the characters it sets, ~2/3 of a chapter's time) is kept in `kept`, by that HTML."""

    book: Book
    env: Any
    articles: list[Article]
    strings: Strings
    nonce: str
    kept: cachekey.Entries | None = None

    def make(self, index: int) -> _MadeChapter:
        article, found = self.articles[index], []

        def image_src(image: Image) -> str | None:
            if image.path is None or not image.path.is_file():
                return None
            found.append((image.path, image.media_type))
            return f"{self.nonce}-{len(found) - 1}"

        rendered = render_article(self.env, self.book, article, image_src)
        doc = Doc(f"a-{article.id}", f"text/{article.id}.xhtml", xml_text(article.title or article.source),
                  _language(article, self.book.anthology.language), "", [f"../{s}" for s in STYLES], "chapter",
                  epub_type="bodymatter")
        body, characters = self._xhtml(rendered, article.url, _chapter_nav(self.articles, index, self.strings), doc)
        return _MadeChapter(replace(doc, body=body), found, characters)

    def _xhtml(self, rendered: str, base_url: str | None, nav: str, doc: Doc) -> tuple[str, dict]:
        """The body's XHTML (`rendered` made XHTML, then `nav`) and its characters_by_role, kept or made."""
        key, kept = None, self.kept
        if kept is not None and KEPT_TOKEN not in rendered:
            key = cachekey.digest(cachekey.code_version(), cachekey.installed("lxml"), str(etree.LIBXML_VERSION),
                                  rendered.replace(self.nonce, KEPT_TOKEN), repr(base_url), nav, doc.lang)
            hit = _kept_chapter(kept.get(key))
            if hit is not None:
                return hit[0].replace(KEPT_TOKEN, self.nonce), hit[1]
        body = to_xhtml(rendered, base_url=base_url) + nav
        characters = characters_by_role([replace(doc, body=body)])
        # KEPT_TOKEN in the XHTML though not in the HTML: an entity spelled it out. Such a chapter is not kept.
        if kept is not None and key is not None and KEPT_TOKEN not in body:
            chars = [[*role, "".join(sorted(found))] for role, found in characters.items()]
            payload = {"body": body.replace(self.nonce, KEPT_TOKEN), "characters": chars}
            kept.put(key, json.dumps(payload, ensure_ascii=False).encode())
        return body, characters

    def with_images(self, made: _MadeChapter, image_name: Callable[[Path, str], str]) -> Doc:
        if not made.images:
            return made.doc
        names = [image_name(path, media_type) for path, media_type in made.images]
        body = re.sub(f'src="{self.nonce}-(\\d+)"', lambda m: f'src="{names[int(m[1])]}"', made.doc.body)
        return replace(made.doc, body=body)


def _kept_chapter(payload: bytes | None) -> tuple[str, dict] | None:
    """A kept chapter's XHTML body and characters, if `payload` holds them as _Chapter._xhtml wrote them."""
    if payload is None:
        return None
    try:
        data = json.loads(payload)
        body, stored = data["body"], [tuple(entry) for entry in data["characters"]]
        fits = isinstance(body, str) and all(
            isinstance(v, str) and isinstance(r, str) and isinstance(b, bool) and isinstance(c, str)
            for v, r, b, c in stored)
    except (ValueError, KeyError, TypeError):
        return None
    return (body, {(v, r, b): set(c) for v, r, b, c in stored}) if fits else None


def _merge_characters(into: dict, more: dict) -> None:
    for key, chars in more.items():
        into.setdefault(key, set()).update(chars)


# The landmark of each part (EPUB structural semantics); the chronology is an appendix only at the back.
PART_LANDMARKS = {"sources": "bibliography", "outlets": "index", "chronology": "appendix"}


def _part_doc(env, book: Book, made: book_parts.Parts, part: book_parts.Part, matter: str) -> Doc:
    """A part of the book (writers/parts.py) as a document of its own, beside the nav document; its links point
    at the articles' documents."""
    body = env.get_template(part.template).render(part=part, parts=made, **book.template_context())
    return Doc(f"part-{part.name}", part.file, part.title, book.anthology.language, to_xhtml(body), list(STYLES),
               f"part-page {part.name}-page", epub_type=matter)


ANCHOR = re.compile(r'\sid="([^"]+)"')
FRAGMENT_LINK = re.compile(r'href="#([^"]+)"')


def _cross_document_links(docs: list[Doc]) -> None:
    """The shared templates link within the book as one document does (`#id`, as the PDF is); here each article
    is a document of its own, so a fragment that another document defines is pointed at that document."""
    where: dict[str, str] = {}
    for doc in docs:
        for anchor in ANCHOR.findall(doc.body):
            where.setdefault(anchor, doc.file_name)
    for doc in docs:
        own = set(ANCHOR.findall(doc.body))
        folder = posixpath.dirname(doc.file_name) or "."

        def point(link: re.Match, own: set[str] = own, folder: str = folder) -> str:
            target = where.get(link[1])
            if link[1] in own or target is None:
                return link[0]
            return f'href="{posixpath.relpath(target, folder)}#{link[1]}"'

        doc.body = FRAGMENT_LINK.sub(point, doc.body)


def _chapter_nav(articles: list[Article], index: int, strings: Strings) -> str:
    esc = html.escape
    links = []
    if index > 0:
        links.append(f'<a href="{articles[index - 1].id}.xhtml" rel="prev">‹ {esc(strings("prev"))}</a>')
    links.append(f'<a href="../nav.xhtml">{esc(strings("toc"))}</a>')
    if index + 1 < len(articles):
        links.append(f'<a href="{articles[index + 1].id}.xhtml" rel="next">{esc(strings("next"))} ›</a>')
    return (f'\n<nav class="chapter-nav" aria-label="{esc(strings("chapter_nav"))}"><p>'
            + '<span class="sep"> · </span>'.join(links) + "</p></nav>")


def _nav_body(book: Book, chapters: list[Doc], strings: Strings, front: list[Doc], back: list[Doc]) -> str:
    """The nav document: the table of contents grouped by section, between the parts placed before and after the
    articles, and hidden landmarks."""
    esc = html.escape
    by_id = {doc.uid: doc for doc in chapters}
    items = [f'<li class="toc-part"><a href="{doc.file_name}">{esc(doc.title)}</a></li>' for doc in front]
    for section in book.view().sections:
        entries = "".join(f'<li><a href="{by_id[f"a-{a.id}"].file_name}">{esc(by_id[f"a-{a.id}"].title)}</a></li>'
                          for a in section.articles)
        if not entries:
            continue
        if section.title:
            first = by_id[f"a-{section.articles[0].id}"].file_name
            items.append(f'<li class="toc-section"><a href="{first}">{esc(section.title)}</a>\n<ol>{entries}</ol></li>')
        else:
            items.append(entries)
    items += [f'<li class="toc-part"><a href="{doc.file_name}">{esc(doc.title)}</a></li>' for doc in back]
    first = chapters[0].file_name if chapters else "text/titlepage.xhtml"
    landmarks = "".join(f'<li><a epub:type="{PART_LANDMARKS[doc.uid.removeprefix("part-")]}" href="{doc.file_name}">'
                        f'{esc(doc.title)}</a></li>\n' for doc in back)
    return (
        f'<nav epub:type="toc" role="doc-toc" id="toc" aria-labelledby="toc-title">\n'
        f'<h1 id="toc-title" class="toc-title">{esc(strings("toc"))}</h1>\n<ol class="toc-list">\n'
        + "\n".join(items) + "\n</ol>\n</nav>\n"
        f'<nav epub:type="landmarks" id="landmarks" hidden="hidden" aria-label="{esc(strings("landmarks"))}">\n'
        f'<h2>{esc(strings("landmarks"))}</h2>\n<ol>\n'
        f'<li><a epub:type="cover" href="text/cover.xhtml">{esc(strings("cover"))}</a></li>\n'
        f'<li><a epub:type="titlepage" href="text/titlepage.xhtml">{esc(strings("titlepage"))}</a></li>\n'
        f'<li><a epub:type="toc" href="nav.xhtml">{esc(strings("toc"))}</a></li>\n'
        f'<li><a epub:type="bodymatter" href="{first}">{esc(strings("start"))}</a></li>\n'
        f"{landmarks}</ol>\n</nav>"
    )


# ---------------------------------------------------------------- fonts


@dataclass
class EmbeddedFont:
    family: str
    weight: int
    face: font_tools.Face
    file_name: str
    data: bytes
    characters: int


@dataclass
class FontPlan:
    fonts: list[EmbeddedFont] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def css(self) -> str:
        rules = [
            f'@font-face {{ font-family: "{f.family}"; font-weight: {f.weight}; font-style: normal; '
            f'src: url("../{f.file_name}"); }}'
            for f in self.fonts
        ]
        return "/* The theme's faces, subset to the characters of this book. */\n" + "\n".join(rules) + "\n"


HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
BOLD = HEADINGS | {"strong", "b", "th"}


def characters_by_role(docs: Iterable[Doc]) -> dict[tuple[str, str, bool], set[str]]:
    """(script variant "hans"/"hant", role "body"/"heading", bold) -> the characters set that way.

    The roles follow what book CSS does everywhere (headings in the heading face, bold, the rest in the body
    face). The regular body face gets *every* visible character: whatever a theme does with headings or
    <strong>, any text can be shown with an embedded face (at worst in another weight), never with tofu."""
    found: dict[tuple[str, str, bool], set[str]] = {}
    for doc in docs:
        root = etree.fromstring(doc.xhtml())
        body = root.find("{http://www.w3.org/1999/xhtml}body")
        texts: dict[_Style, list[str]] = {}  # the document's texts in each style, their characters counted at once
        _collect(texts, body, _inside((doc.lang, False, False, False), root))
        for (lang, heading, bold, _), strings in texts.items():
            variant = "hant" if lang.startswith(("zh-Hant", "zh-TW", "zh-HK", "zh-MO")) else "hans"
            chars = set("".join(strings))
            found.setdefault((variant, "body", False), set()).update(chars)
            if heading:
                found.setdefault((variant, "heading", True), set()).update(chars)
            elif bold:
                found.setdefault((variant, "body", True), set()).update(chars)
    return found


# What a text inherits from the elements around it: the nearest language, heading, bold, hidden.
_Style = tuple[str, bool, bool, bool]


def _inside(outer: _Style, element) -> _Style:
    name = element.tag.rpartition("}")[2]
    return (element.get("lang") or outer[0], outer[1] or name in HEADINGS, outer[2] or name in BOLD,
            outer[3] or element.get("hidden") is not None)


def _collect(texts: dict[_Style, list[str]], element, outer: _Style) -> None:
    """Each text under `element` with the style it is set in (a tail is set as its parent's text); nothing
    under a hidden element (never rendered: the hidden landmarks list)."""
    style = _inside(outer, element)
    if style[3]:
        return
    found = texts.setdefault(style, [])
    if element.text and not element.text.isspace():
        found.append(element.text)
    for child in element:
        if isinstance(child.tag, str):  # comments and processing instructions: neither text nor tail is shown
            _collect(texts, child, style)
            if child.tail and not child.tail.isspace():
                found.append(child.tail)


def _family_for(book: Book, variant: str, role: str, bold: bool, css: str) -> font_tools.Face | None:
    """The first family of the theme's list for this role that is installed, has CJK glyphs and is named in
    the theme's EPUB stylesheet (a face the CSS never asks for would be dead weight)."""
    families = book.theme.fonts.get(f"{role}-{variant}") or book.theme.fonts.get(role) or []
    for family in families:
        if family.lower() not in css.lower():
            continue
        face = font_tools.find_face(family, bold)
        if face is not None and 0x4E00 in font_tools.cmap(face):
            return face
    return None


def _unembedded_note(book: Book, variant: str, role: str, css: str) -> str:
    """Why no face was embedded for a role: a theme whose stylesheet never names the role's fonts is not the
    same problem as a machine without them (the first used to be reported as the second)."""
    families = book.theme.fonts.get(f"{role}-{variant}") or book.theme.fonts.get(role) or []
    named = [f for f in families if f.lower() not in font_tools.GENERIC_FAMILIES and f.lower() in css.lower()]
    if not named:
        return (f"the theme's EPUB stylesheet names none of its {role} ({variant}) fonts "
                f"({', '.join(families) or 'none listed'}); not embedded")
    return f"no installed CJK face among the theme's {role} ({variant}) fonts ({', '.join(named)}); not embedded"


def plan_fonts(book: Book, characters: dict[tuple[str, str, bool], set[str]], cache_dir: Path | None) -> FontPlan:
    """The faces to embed and their subsets, from the characters each role sets (Parts.characters)."""
    start = time.perf_counter()
    plan = FontPlan()
    css = book.theme.css("epub").read_text(encoding="utf-8")
    wanted: dict[tuple[str, int], tuple[font_tools.Face, set[str]]] = {}
    for (variant, role, bold), chars in sorted(characters.items()):
        if not any(ord(c) >= 0x2E80 for c in chars):
            continue  # no CJK here: the reader's own fonts do
        face = _family_for(book, variant, role, bold, css)
        if face is None:
            plan.notes.append(_unembedded_note(book, variant, role, css))
            continue
        weight = 700 if bold else 400
        key = (face.family, weight)
        wanted.setdefault(key, (face, set()))[1].update(chars)
    for (family, weight), (face, chars) in sorted(wanted.items()):
        data = font_tools.subset(face, chars, cache_dir=cache_dir)
        slug = re.sub(r"[^A-Za-z0-9]+", "", family) or "font"
        plan.fonts.append(EmbeddedFont(family, weight, face, f"fonts/{slug}-{weight}.{face.kind}", data, len(chars)))
    plan.seconds = time.perf_counter() - start
    return plan


# ---------------------------------------------------------------- package


def _accessibility(ebook: epub.EpubBook, strings: Strings, has_images: bool) -> None:
    def meta(prop: str, value: str) -> None:
        ebook.add_metadata(None, "meta", value, {"property": f"schema:{prop}"})

    meta("accessMode", "textual")
    if has_images:
        meta("accessMode", "visual")
    meta("accessModeSufficient", "textual")
    if has_images:
        meta("accessModeSufficient", "textual,visual")
    for feature in ("structuralNavigation", "tableOfContents", "readingOrder", "displayTransformability"):
        meta("accessibilityFeature", feature)
    if has_images:
        meta("accessibilityFeature", "alternativeText")
    meta("accessibilityHazard", "none")
    meta("accessibilitySummary", strings("summary", images=strings("summary_images") if has_images else ""))


def _package(book: Book, parts: Parts, cover: bytes, plan: FontPlan, strings: Strings, when: dt.datetime,
             profile: Target) -> bytes:
    anthology, theme = book.anthology, book.theme
    ebook = epub.EpubBook()
    ebook.set_identifier(book_identifier(book))
    ebook.set_title(anthology.title)
    ebook.set_language(anthology.language)
    for index, name in enumerate(creators(book)):
        ebook.add_author(name, uid=f"creator-{index}")
    if anthology.subtitle:
        ebook.add_metadata("DC", "description", anthology.subtitle)
    span = anthology.date_range
    if span:
        ebook.add_metadata("DC", "date", span[1].astimezone(book.zone).date().isoformat())
    for outlet in book.view().outlets:
        ebook.add_metadata("DC", "source", outlet)
    _accessibility(ebook, strings, bool(parts.images))
    if plan.fonts:
        ebook.prefixes.append("ibooks: http://vocabulary.itunes.apple.com/rdf/ibooks/vocabulary-extensions-1.0/")
        ebook.add_metadata(None, "meta", "true", {"property": "ibooks:specified-fonts"})
    if theme.writing_mode.startswith("vertical"):
        # Kindle's documented switch for vertical CJK books; other readers take it from the CSS.
        ebook.add_metadata(None, "meta", "", {"name": "primary-writing-mode", "content": theme.writing_mode})
    if theme.page_progression == "rtl":
        ebook.set_direction("rtl")  # only the spine's page-progression-direction (see the write options)

    ebook.add_item(epub.EpubItem(uid="style-epub", file_name=STYLES[0], media_type="text/css",
                                 content=_writer_css().encode("utf-8")))
    ebook.add_item(epub.EpubItem(uid="style-theme", file_name=STYLES[1], media_type="text/css",
                                 content=theme.css("epub").read_bytes()))
    if plan.fonts:
        ebook.add_item(epub.EpubItem(uid="style-fonts", file_name=FONT_CSS, media_type="text/css",
                                     content=plan.css().encode("utf-8")))
        for index, font in enumerate(plan.fonts):
            ebook.add_item(epub.EpubItem(uid=f"font-{index}", file_name=font.file_name,
                                         media_type=f"font/{font.face.kind}", content=font.data))
    cover_item = epub.EpubCover(uid="cover-img", file_name="images/cover.jpg")
    cover_item.content = cover
    ebook.add_item(cover_item)
    ebook.add_metadata(None, "meta", "", {"name": "cover", "content": "cover-img"})  # EPUB 2 readers, Kindle
    for index, (name, (media_type, data)) in enumerate(parts.images.items()):
        ebook.add_item(epub.EpubItem(uid=f"img-{index}", file_name=name, media_type=media_type, content=data))

    items = {}
    for doc in parts.docs:
        if plan.fonts:  # a copy: the documents are packaged again without the fonts when the book is over budget
            doc = replace(doc, styles=[*doc.styles, ("" if doc.file_name.count("/") == 0 else "../") + FONT_CSS])
        item = RawXhtml(uid=doc.uid, file_name=doc.file_name, title=doc.title, lang=doc.lang)
        item.content = doc.xhtml()
        item.properties = list(doc.properties)
        ebook.add_item(item)
        items[doc.uid] = item
    ebook.spine = [items[doc.uid] for doc in parts.docs]
    ebook.toc = parts.toc or [epub.Link("text/titlepage.xhtml", anthology.title, "titlepage")]
    ebook.guide = [
        {"type": "cover", "href": "text/cover.xhtml", "title": strings("cover")},
        {"type": "toc", "href": "nav.xhtml", "title": strings("toc")},
        {"type": "text", "href": (parts.chapters[0] if parts.chapters else parts.docs[1]).file_name,
         "title": strings("start")},
    ]
    ebook.add_item(epub.EpubNcx())
    raw = io.BytesIO()
    # ebooklib's container is only read back by normalize_zip, which compresses every entry itself: level 0
    # here (deflate's stored blocks) spares compressing the book twice.
    epub.write_epub(raw, ebook, {"epub3_pages": False, "epub3_landmark": False, "mtime": when,
                                 "package_direction": False, "spine_direction": True, "compresslevel": 0})
    extra = [APPLE_OPTIONS] if profile.display_options and plan.fonts else []
    return normalize_zip(raw.getvalue(), anthology.language, when, extra)


def _language(article: Article, book_language: str) -> str:
    """The article's language when it is a well-formed BCP 47 tag (an archive's front matter or `<html lang>`
    says what it likes), else the book's (validated by config)."""
    return article.language if is_language_tag(article.language or "") else book_language


def _cover_body(title: str, strings: Strings) -> str:
    alt = html.escape(strings("cover_alt", title=title))
    return (f'<section class="cover" aria-label="{html.escape(strings("cover"))}">'
            f'<img src="../images/cover.jpg" alt="{alt}" epub:type="cover" role="doc-cover"/></section>')


def _writer_css() -> str:
    """Rules for what the writer itself adds (cover page, article links); the theme's stylesheet follows."""
    return (
        "/* Added by the EPUB writer; the theme's stylesheet comes after and may override. */\n"
        ".cover-page { margin: 0; padding: 0; text-align: center; }\n"
        ".cover-page .cover { margin: 0; padding: 0; height: 100%; }\n"
        ".cover-page img { display: block; margin: 0 auto; max-width: 100%; max-height: 100vh; height: auto; }\n"
        ".chapter-nav { margin: 2em 0 0; text-align: center; font-size: .75em; }\n"
        ".chapter-nav p { margin: 0; text-indent: 0; }\n"
        ".chapter-nav a { color: inherit; }\n"
        ".toc-page ol { list-style: none; padding-left: 0; }\n"
        ".toc-page ol ol { padding-left: 1.5em; margin-bottom: .6em; }\n"
        ".toc-page a { color: inherit; text-decoration: none; }\n"
        ".toc-page .toc-section > a { color: #555; font-size: .9em; }\n"
    )


def _opf_with_lang(data: bytes, language: str) -> bytes:
    """ebooklib puts no xml:lang on <package>; accessibility checkers (and screen readers) want it."""
    root = etree.fromstring(data)
    root.set(XML_LANG, language)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def _ncx_with_depth(data: bytes) -> bytes:
    """ebooklib writes dtb:depth 0; the NCX spec wants the depth of the navMap (2 with sections)."""
    root = etree.fromstring(data)
    ns = {"n": root.nsmap.get(None, "")}

    def depth(node) -> int:
        return 1 + max((depth(child) for child in node.findall("n:navPoint", ns)), default=0)

    nav_map = root.find("n:navMap", ns)
    for meta in root.iterfind("n:head/n:meta[@name='dtb:depth']", ns):
        meta.set("content", str(depth(nav_map) - 1 if nav_map is not None else 1))
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def normalize_zip(data: bytes, language: str, when: dt.datetime,
                  extra: list[tuple[str, bytes]] | None = None) -> bytes:
    """Rewrite the container reproducibly: `mimetype` first and stored, every entry with the same timestamp,
    permissions and system, in the order ebooklib wrote them (which follows the book); `extra` files (outside
    the manifest: Apple's display options) after META-INF/container.xml."""
    stamp = max(when, dt.datetime(1980, 1, 2, tzinfo=dt.UTC)).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        names = source.namelist()
        entries = [(name, source.read(name)) for name in ["mimetype", *[n for n in names if n != "mimetype"]]]
        at = next((i + 1 for i, (name, _) in enumerate(entries) if name == "META-INF/container.xml"), 1)
        entries[at:at] = extra or []
        for name, content in entries:
            if name.endswith(".opf"):
                content = _opf_with_lang(content, language)
            elif name.endswith(".ncx"):
                content = _ncx_with_depth(content)
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            target.writestr(info, content, compresslevel=9)
    return out.getvalue()


def _cover(book: Book, strings: Strings, css: str, cache_dir: Path | None = None) -> bytes:
    """The cover JPEG (compile/cover.py), kept under `cache_dir`: drawing it is ~0.1 s of a rebuild."""
    anthology = book.anthology
    view = book.view()
    text = cover_art.CoverText(
        title=anthology.title,
        subtitle=anthology.subtitle,
        dates=view.date_range_text,
        count=strings("count", n=len(anthology.articles)),
        editor=strings("editor", name=anthology.editor) if anthology.editor else "",
    )
    variant = "hant" if strings.language == "zh-Hant" else "hans"
    heading = _family_for(book, variant, "heading", True, css) or _family_for(book, variant, "body", True, css)
    body = _family_for(book, variant, "body", False, css) or heading
    palette = cover_art.Palette.from_theme(getattr(book.theme, "cover", None))
    vertical = book.theme.writing_mode.startswith("vertical")
    kept = cachekey.Entries(cache_dir, "cover", ".jpg") if cache_dir else None
    faces = [font_tools.identity(face) if face else "none" for face in (heading, body)]  # a font upgraded: redrawn
    key = cachekey.digest(cachekey.code_version(), cachekey.installed("PIL"), cover_art.engine(vertical),
                          repr((text, palette, vertical)), *faces)
    found = kept.get(key) if kept else None
    if found is None:
        found = cover_art.render(text, heading, body, vertical=vertical, palette=palette)
        if kept:
            kept.put(key, found)
    return found


def write(book: Book, target: Path, resources: Resources) -> Output:
    settings = book.settings
    profile = TARGETS[settings.epub_target]
    strings = book.strings
    parts = _documents(book, strings)
    css = book.theme.css("epub").read_text(encoding="utf-8")
    cover = _cover(book, strings, css, resources.cache_root / "covers")
    when = modified_time(book)
    notes: list[str] = []
    applied = list(profile.applied)
    plan = FontPlan()
    if settings.embed_fonts and profile.embed_fonts:
        plan = plan_fonts(book, parts.characters, resources.cache_root / "fonts")
        notes.extend(plan.notes)
    elif not settings.embed_fonts:
        applied.append("fonts not embedded (--no-embed-fonts)")
    data = _package(book, parts, cover, plan, strings, when, profile)
    if profile.budget and len(data) > profile.budget and plan.fonts:
        applied.append(f"embedded fonts dropped to fit the {profile.budget / MB:.0f} MB budget")
        plan = FontPlan(seconds=plan.seconds)
        data = _package(book, parts, cover, plan, strings, when, profile)
    if profile.budget and len(data) > profile.budget:
        notes.append(f"EPUB is {len(data) / MB:.1f} MB, over the {profile.budget / MB:.0f} MB budget of the "
                     f"'{profile.name}' target")
    atomic.write_bytes(target, data)
    details = {
        "target": profile.name,
        "budget_bytes": profile.budget,
        "applied": applied,
        "cover_bytes": len(cover),
        "fonts": [{"family": f.family, "weight": f.weight, "file": f.file_name, "source": str(f.face.path),
                   "face_index": f.face.index, "characters": f.characters, "bytes": len(f.data)}
                  for f in plan.fonts],
        "font_subset_seconds": round(plan.seconds, 2),
        "identifier": book_identifier(book),
        "parts": parts.parts,
        "modified": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return Output(path=target, format="epub", bytes=len(data), notes=notes, details=details)


