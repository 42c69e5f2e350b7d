"""Vertical books printed by headless Chromium: WeasyPrint 70 has no `writing-mode: vertical-rl`.

The book is the HTML both PDF paths make (document.html_document) with the theme's print.css, printed by
Chromium's own print (`--print-to-pdf`): columns top to bottom, right to left, CSS paged media with margin
boxes. What Chromium lacks is made here, from the same document:

- running heads: Chromium has no `string-set`. Each article gets a named page (`page: a3`), and every margin
  box of the theme whose `content` is `string(article-title)` or `string(book-head)` is given, on that
  article's pages, the article's or the book's title. (No `first-except`: an article's opening page has its
  head too.)
- the contents' page numbers: Chromium has no `target-counter`. The book is printed twice: the first print
  says on which page each title is (its outline), the second sets the numbers where the first held a
  placeholder of the same size (an upright number takes one character's cell whatever its digits).
- `break-before: right` (or left) on a title in the outline: Chromium breaks to the next page, whatever its
  side; where a print puts such a title on the wrong side, the next print has a blank page before it.
- links and the outline point at the titles: Chromium anchors a vertical-rl element at its physical top-left
  corner, which is where a long article ends.
- the faces: CID TrueType subsets (faces.py), not the Type 3 fonts Chromium makes of CFF faces.
- right-to-left reading: /ViewerPreferences /Direction /R2L and page layout, set with pikepdf after printing,
  with the outline (sections and articles, as the WeasyPrint path makes it) and the document's information.

Chromium reads only the build's own files: the document is written to a private folder; an image outside the
theme and image folders is removed from it (and reported, like the WeasyPrint path's refused resources); a
Content-Security-Policy lets the page load files and nothing else, runs no script; host names resolve to
nothing; the profile is a fresh temporary folder. Each print has the PDF chunks' time limit, and Chromium's
processes are killed when it passes, on Ctrl-C, and when the build dies.

No Chromium, no vertical PDF (EngineMissing): the build says so and the CLI exits non-zero; it never falls
back to a horizontal book.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html
import pikepdf
import tinycss2
from lxml import etree

from compile import atomic, processes
from compile.text import theme_language
from compile.writers.context import Book, Output
from compile.writers.pdf import faces, prepress
from compile.writers.pdf.chunked.build import time_limit
from compile.writers.pdf.document import RenderTimeout, html_document

ENV = "ANTHOLOGY_CHROMIUM"  # a path or a command name, to use another Chromium (or Chrome) than the first found
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-pdf-header-footer",
         "--generate-pdf-document-outline", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--disable-background-networking", "--disable-sync", "--disable-default-apps",
         "--disable-component-update", "--mute-audio", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>")
# --no-sandbox: Chromium's sandbox needs user namespaces (or refuses to run as root), which containers and CI
# machines often lack; the page is our own sanitized document, runs no script and reaches no network.
# What the page may load: files (the theme's stylesheets, the images, the faces) and inline styles; no script.
POLICY = "default-src 'none'; img-src file: data:; font-src file:; style-src file: 'unsafe-inline'"
STRINGS = ("article-title", "book-head")  # the named strings whose margin boxes are filled here
PLACEHOLDER = "0"
BLANK = "blank-page"  # the named page of a blank page put before a title: nothing in its margins
BLANK_CSS = (f"div.{BLANK} {{ break-before: page; }}\n@page {BLANK} {{ "
             + " ".join(f"@{box} {{ content: none; }}" for box in ("top-left", "top-center", "top-right",
                                                                   "bottom-left", "bottom-center", "bottom-right"))
             + " }")


class EngineMissing(Exception):
    """No Chromium to print a vertical book: no PDF (the build warns, the CLI exits non-zero)."""


class EngineFailed(Exception):
    """Chromium ran and made no PDF."""


def executable() -> str | None:
    """Chromium's command: $ANTHOLOGY_CHROMIUM when set (a path or a name), else the first of NAMES found."""
    named = os.environ.get(ENV)
    for name in (named,) if named else NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def missing() -> str | None:
    """Why a vertical PDF cannot be made here, or None."""
    if executable() is not None:
        return None
    where = os.environ.get(ENV) or " / ".join(NAMES)
    return (f"PDF: a vertical theme's PDF is printed by Chromium (headless), and no Chromium was found "
            f"({where}); no PDF was written. Install it (Debian: apt-get install chromium) or set {ENV}; "
            "`--format epub` builds only the EPUB")


def write(book: Book, target: Path, image_roots: list[Path], cache_root: Path) -> Output:
    """The book at `target`, printed by Chromium; raises EngineMissing, EngineFailed or RenderTimeout."""
    engine = executable()
    if engine is None:
        raise EngineMissing(missing())
    clock = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="anthology-chromium-") as tmp:
        work = Path(tmp)
        page = Document(book, [book.theme.root, *image_roots], work, cache_root / "fonts")
        # Placeholders, then the numbers they made room for (again if a page moved); no outline from Chromium
        # (None): the contents go without numbers.
        numbers: dict[str, int] | None = {}
        for prints in range(1, 5):
            printed = _print(engine, page.write(numbers), work / f"print-{prints}.pdf", page.seconds)
            found = page.numbers(printed) or None
            if found == numbers:
                break
            numbers = found
        with atomic.replacing(target) as tmp_target:
            pages, creator = _finish(printed, tmp_target, book, page)
    notes = [f"refused resource: {url}" for url in page.refused] + page.unsupported
    details = {"engine": creator, "prints": prints, "seconds": round(time.perf_counter() - clock, 2),
               "faces": [f"{face.family} {face.weight}" for face in page.faces]}
    return Output(path=target, format="pdf", bytes=target.stat().st_size, pages=pages, notes=notes, details=details)


# ------------------------------------------------------------------------------------------------ the document

@dataclass
class Entry:
    """A line of the outline: a section's or an article's title, where it is once printed."""

    title: str
    level: int
    article: str = ""  # the article's id; "" for a section
    destination: pikepdf.Array | None = None
    page: int = 0  # 1-based
    side: int | None = None  # the page number's parity the theme asks its heading for (break-before: right = 1)
    blank: bool = False  # a blank page is put before it (Chromium breaks to the next page, not to a side)


@dataclass
class Document:
    """The book's HTML as Chromium prints it, and what printing it needs."""

    book: Book
    roots: list[Path]
    work: Path
    font_cache: Path | None
    refused: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    faces: list[faces.Embedded] = field(default_factory=list)
    seconds: float = 0.0

    def __post_init__(self):
        html = html_document(self.book)
        self.seconds = time_limit(html)
        self.tree = lxml.html.document_fromstring(html)
        self.sheets = [path.resolve() for path in self.book.theme.print_stylesheets()]
        self.css = "\n".join(path.read_text(encoding="utf-8") for path in self.sheets)
        self._lock()
        self._retarget_links()
        self.outline = self._outline()
        self.heads = _running_heads(self.css, self.book, self._name_pages())
        languages = {theme_language(el.get("lang")) for el in self.tree.iter(etree.Element) if el.get("lang")}
        code = bool(self.tree.xpath("//pre|//code|//kbd|//samp"))
        chars = set(self.tree.text_content()) | set(self.heads) | set(self.css) | set("0123456789")  # css: content
        self.faces = faces.make(self.css, languages, code, chars, self.work, self.font_cache)
        settings = self.book.settings.pdf
        if settings.bleed:
            self.unsupported.append("PDF: bleed and crop marks are not made for a vertical theme (Chromium prints "
                                    "the trimmed page only)")
        if settings.pdfa:
            self.unsupported.append("PDF: a vertical theme's PDF is not PDF/A (Chromium cannot make it); the "
                                    "sources are not attached")

    def _lock(self) -> None:
        """Only the build's own files: an element whose source lies elsewhere loses it (and is reported)."""
        for element in list(self.tree.iter(etree.Element)):
            if element.tag in ("base", "link", "script", "iframe", "object", "embed") or (
                    element.tag == "meta" and element.get("http-equiv")):
                self.refused.extend(v for v in (element.get("href"), element.get("src")) if v)
                element.drop_tree()
                continue
            for name in ("src", "srcset", "poster", "data"):
                value = element.get(name)
                if value is not None and not self._allowed(value, name == "srcset"):
                    self.refused.append(value)
                    del element.attrib[name]
            if "url(" in (element.get("style") or ""):
                self.refused.append(element.get("style"))
                del element.attrib["style"]

    def _allowed(self, value: str, several: bool) -> bool:
        urls = [part.strip().split()[0] for part in value.split(",") if part.strip()] if several else [value]
        return all(self._own_file(url) for url in urls)

    def _own_file(self, url: str) -> bool:
        if url.startswith("data:image/"):
            return True
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            return False
        path = Path(urllib.parse.unquote(parts.path)).resolve()
        return any(path.is_relative_to(root.resolve()) for root in self.roots)

    def _retarget_links(self) -> None:
        """A link to an element goes to its first heading: Chromium anchors a vertical-rl box at its physical
        top-left corner, which is where it ends (an article's last page)."""
        ids = {el.get("id"): el for el in self.tree.iter(etree.Element) if el.get("id")}
        for link in self.tree.iter("a"):
            href = link.get("href") or ""
            target = ids.get(href[1:]) if href.startswith("#") else None
            if target is None:
                continue
            heading = target.xpath(".//*[self::h1 or self::h2 or self::h3][1]")
            if heading:
                if not heading[0].get("id"):
                    heading[0].set("id", f"{href[1:]}-heading")
                link.set("href", f"#{heading[0].get('id')}")

    def _outline(self) -> list[Entry]:
        """The outline the WeasyPrint path makes: sections, their articles below them (a flat book: articles),
        each section's title with the side of the page the theme starts it on."""
        entries: list[Entry] = []
        sides = _sides(self.css)
        headings = [(el, sides[name]) for el in self.tree.iter("h1", "h2", "h3")
                    for name in (el.get("class") or "").split() if name in sides]
        for section in self.book.view().sections:  # titled as the templates title them
            if section.title:
                entry = Entry(section.title, 1)
                found = next((h for h in headings if _key(h[0].text_content()) == _key(section.title)), None)
                if found is not None:
                    headings = headings[headings.index(found) + 1:]
                    entry.side = found[1]
                    found[0].set("data-entry", str(len(entries)))
                entries.append(entry)
            level = 2 if section.title else 1
            entries.extend(Entry(a.title or a.source, level, a.id) for a in section.articles)
        return entries

    def _name_pages(self) -> dict[str, str]:
        """Each article on its own named page (for its running heads): page name -> the article's title."""
        titles = {entry.article: entry.title for entry in self.outline if entry.article}
        names = {}
        for index, article in enumerate(self.tree.xpath("//article[@id]")):
            if article.get("id") in titles:
                name = f"a{index}"
                article.set("style", f"page: {name}")
                names[name] = titles[article.get("id")]
        return names

    def numbers(self, pdf: Path) -> dict[str, int]:
        """Page numbers of the articles, from a print's outline; a title on the wrong side of a spread gets a
        blank page before it in the next print (or loses the one it had)."""
        with pikepdf.open(pdf) as document:
            _place(self.outline, document)
        shift = 0  # pages the blanks changed here add before the next title (one page each)
        for entry in self.outline:
            if entry.side is not None and entry.page and (entry.page + shift) % 2 != entry.side:
                entry.blank = not entry.blank
                shift += 1 if entry.blank else -1
        return {entry.article: entry.page for entry in self.outline if entry.article and entry.page} | {
            f"blank {index}": 1 for index, entry in enumerate(self.outline) if entry.blank}

    def write(self, numbers: dict[str, int] | None) -> Path:
        """The document with the contents' page numbers (`numbers`, placeholders where missing; None: none),
        ready to print."""
        tree = copy.deepcopy(self.tree)
        for heading in tree.xpath("//*[@data-entry]"):
            if self.outline[int(heading.get("data-entry"))].blank:
                heading.addprevious(etree.Element("div", {"class": "blank-page", "style": f"page: {BLANK}"}))
        pages = {f"#{_title_id(self.tree, entry.article)}": (numbers or {}).get(entry.article, 0)
                 for entry in self.outline if entry.article}
        # The contents' entries, and the parts' references to articles (writers/parts.py: `a.page-ref`).
        for link in tree.xpath("//*[contains(concat(' ', @class, ' '), ' toc ')]//a[@href]"
                               " | //a[contains(concat(' ', @class, ' '), ' page-ref ')][@href]"):
            if numbers is not None and link.get("href") in pages and link.getparent() is not None:
                number = etree.SubElement(link.getparent(), "span", {"class": "toc-page"})
                number.text = str(pages[link.get("href")] or PLACEHOLDER)
        head = tree.find("head")
        head.insert(0, etree.Element("meta", {"http-equiv": "Content-Security-Policy", "content": POLICY}))
        # The faces and running heads before the theme: its named pages (front, opener) that clear a margin box
        # come later and win, whatever Chromium makes of @page specificity; the page size asked for, after it.
        etree.SubElement(head, "style").text = "\n".join([*(face.rule() for face in self.faces), self.heads])
        for sheet in self.sheets:
            head.append(etree.Element("link", {"rel": "stylesheet", "href": sheet.as_uri()}))
        etree.SubElement(head, "style").text = "\n".join([BLANK_CSS, prepress.stylesheet(self.book.settings.pdf)])
        path = self.work / "book.html"
        path.write_text(lxml.html.tostring(tree, encoding="unicode", doctype="<!DOCTYPE html>"), encoding="utf-8")
        return path


def _title_id(tree, article_id: str) -> str:
    found = tree.xpath("//*[@id=$id]//*[self::h1 or self::h2 or self::h3][1]/@id", id=article_id)
    return found[0] if found else article_id


def _running_heads(css: str, book: Book, names: dict[str, str]) -> str:
    """Rules that fill the theme's `string(article-title)` / `string(book-head)` margin boxes."""
    rules = []
    for selector, box, string in _string_boxes(css):
        if string == "book-head":
            rules.append(f"@page {selector} {{ @{box} {{ content: {_css_string(book.anthology.title)}; }} }}")
        else:
            rules.extend(f"@page {name}{selector} {{ @{box} {{ content: {_css_string(title)}; }} }}"
                         for name, title in names.items())
    return "\n".join(rules)


def _string_boxes(css: str) -> list[tuple[str, str, str]]:
    """(page pseudo-class, margin box, string name) for each margin box of an unnamed @page rule whose
    `content` is one of STRINGS."""
    found = []
    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type != "at-rule" or rule.lower_at_keyword != "page" or rule.content is None:
            continue
        selector = tinycss2.serialize(rule.prelude).strip()
        if selector not in ("", ":left", ":right", ":first"):
            continue  # a named page (front, opener) chooses its own heads
        for box in tinycss2.parse_declaration_list(rule.content, skip_comments=True, skip_whitespace=True):
            if box.type != "at-rule" or box.content is None:
                continue
            for declaration in tinycss2.parse_declaration_list(box.content, skip_comments=True,
                                                               skip_whitespace=True):
                if declaration.type != "declaration" or declaration.lower_name != "content":
                    continue
                for token in declaration.value:
                    if token.type == "function" and token.lower_name == "string":
                        name = next((a.value for a in token.arguments if a.type == "ident"), "")
                        if name in STRINGS:
                            found.append((selector, box.lower_at_keyword, name))
    return found


def _sides(css: str) -> dict[str, int]:
    """Classes the theme starts on a given side (`.section-title { break-before: right }`): class -> the page
    number's parity (Chromium numbers from a right page: right and recto are odd, left and verso even)."""
    sides = {}
    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type != "qualified-rule":
            continue
        for declaration in tinycss2.parse_declaration_list(rule.content, skip_comments=True, skip_whitespace=True):
            if declaration.type == "declaration" and declaration.lower_name in ("break-before", "page-break-before"):
                value = tinycss2.serialize(declaration.value).strip().lower()
                if value in ("right", "recto", "left", "verso"):
                    for selector in tinycss2.serialize(rule.prelude).split(","):
                        if re.fullmatch(r"\s*[a-z0-9]*\.([\w-]+)\s*", selector):
                            sides[selector.strip().split(".")[-1]] = 1 if value in ("right", "recto") else 0
    return sides


def _css_string(text: str) -> str:
    return json.dumps(re.sub(r"\s+", " ", text).strip(), ensure_ascii=False)  # a JSON string is a CSS string


# ------------------------------------------------------------------------------------------------ printing

def _print(engine: str, html: Path, pdf: Path, seconds: float) -> Path:
    """`html` printed to `pdf` by Chromium, in a fresh profile, within `seconds`."""
    pdf.unlink(missing_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="profile-", dir=html.parent))
    log_path = html.parent / "chromium.log"
    command = [engine, *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={pdf}", html.as_uri()]
    with open(log_path, "wb") as log:
        # A session of its own: Chromium's processes are one group, killed together; the terminal's Ctrl-C
        # reaches the build, which kills them. They also die with the build (PR_SET_PDEATHSIG).
        die_with_build = functools.partial(processes.die_with, os.getpid())
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True, preexec_fn=die_with_build)
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            raise RenderTimeout([], seconds) from None
        finally:
            _kill(process)
    shutil.rmtree(profile, ignore_errors=True)
    if process.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        said = [line for line in log_path.read_text(errors="replace").splitlines()
                if "ERROR" in line and "dbus" not in line and "bus.cc" not in line][-3:]
        raise EngineFailed(f"PDF: Chromium ({engine}) made no PDF (exit code {process.returncode})"
                           + (f": {' | '.join(said)}" if said else ""))
    return pdf


def _kill(process: subprocess.Popen) -> None:
    """Chromium's whole process group (the browser, its zygotes and renderers), if any of it is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


# ------------------------------------------------------------------------------------------------ after printing

def _place(outline: list[Entry], document: pikepdf.Pdf) -> None:
    """Find each outline entry among the headings Chromium put in the PDF's outline, with its destination (in
    `document`) and page. Titles are compared without spaces, from the end: the contents repeat the sections'
    titles before the sections, and the last heading of a title before the next entry's is the entry's."""
    index: dict = {page.objgen: n for n, page in enumerate(document.pages, start=1)}  # (object, generation)
    printed = []
    with document.open_outline() as tree:
        stack = list(reversed(tree.root))
        while stack:
            item = stack.pop()
            printed.append((_key(item.title), item.destination))
            stack.extend(reversed(item.children))
    position = len(printed)
    for entry in reversed(outline):
        entry.page, entry.destination = 0, None
        for at in range(position - 1, -1, -1):
            title, destination = printed[at]
            if title == _key(entry.title) and isinstance(destination, pikepdf.Array) and len(destination):
                entry.page = index.get(destination[0].objgen, 0)
                entry.destination = pikepdf.Array(list(destination))
                position = at
                break


def _key(title: str) -> str:
    return re.sub(r"\s+", "", title or "")


def _finish(source: Path, target: Path, book: Book, page: Document) -> tuple[int, str]:
    """Right-to-left reading, our outline, the document information; returns the page count and the engine."""
    with pikepdf.open(source) as pdf:
        _place(page.outline, pdf)
        creator = str(pdf.docinfo.get("/Creator", "Chromium"))
        engine = re.search(r"(HeadlessChrome|Chrome|Chromium)/[\d.]+", creator)
        preferences = pdf.Root.get("/ViewerPreferences", pikepdf.Dictionary())
        preferences.Direction = pikepdf.Name.R2L  # spreads read right to left
        preferences.DisplayDocTitle = True
        pdf.Root.ViewerPreferences = preferences
        # Page 1 stands alone, as the first page of a book opened at its right-hand binding; then spreads.
        pdf.Root.PageLayout = pikepdf.Name.TwoPageRight
        pdf.Root.PageMode = pikepdf.Name.UseOutlines
        _outline(pdf, page.outline)
        anthology = book.anthology
        info = {"/Title": anthology.title, "/Author": anthology.editor, "/Subject": anthology.subtitle,
                "/Keywords": ", ".join(sorted({a.outlet for a in anthology.articles if a.outlet})),
                "/Creator": "anthology-compiler", "/Producer": f"{engine[0] if engine else 'Chromium'} (Skia/PDF)"}
        for key in list(pdf.docinfo.keys()):
            del pdf.docinfo[key]  # no dates: the same book gives the same file
        for key, value in info.items():
            if value:
                pdf.docinfo[key] = value
        pdf.save(target, deterministic_id=True)
        return len(pdf.pages), engine[0] if engine else creator


def _outline(pdf: pikepdf.Pdf, entries: list[Entry]) -> None:
    with pdf.open_outline() as tree:
        tree.root.clear()
        parent = None
        for entry in entries:
            if entry.destination is None:
                continue
            item = pikepdf.OutlineItem(entry.title, entry.destination)
            if entry.level == 1:
                tree.root.append(item)
                parent = item if not entry.article else None
            elif parent is not None:
                parent.children.append(item)
            else:
                tree.root.append(item)
