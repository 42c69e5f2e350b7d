"""What both writers share: the jinja2 environment, the book-level context and the article renderer."""

from __future__ import annotations

import collections
import copy
import datetime as dt
import functools
import re
import traceback
import types
from collections import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import jinja2
import markupsafe
from jinja2.sandbox import ImmutableSandboxedEnvironment
from lxml import etree

from compile import cachekey, fragment, locales
from compile.config import Settings, available_cpus
from compile.images.markup import LOCAL_HOST
from compile.locales import Strings
from compile.model import Anthology, Article, Image, Section, Story
from compile.sanitize import xml_text
from compile.theme import Theme, ThemeError
from compile.transforms.typeset import keep_end, typeset_html


@dataclass
class Output:
    path: Path
    format: str
    bytes: int
    pages: int | None = None
    notes: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)  # writer-specific facts for the report (EPUB: target, fonts)


@dataclass(frozen=True)
class Resources:
    """What every writer is given besides the book and its target (compile/writers/registry.py)."""

    cache_root: Path  # the build's cache folder: subset fonts (EPUB), rendered chunks (PDF)
    image_roots: tuple[Path, ...] = ()  # the folders the images' files are in: all a renderer may read them from


@dataclass
class Book:
    """The anthology plus everything the templates need, computed once."""

    anthology: Anthology
    theme: Theme
    settings: Settings
    slug: str
    attachments: list[tuple[str, bytes]] = field(default_factory=list)  # embedded in the PDF under --pdfa
    cache_root: Path | None = None  # where writers keep what a rebuild reuses (QR codes, chapters); None: nothing

    @property
    def zone(self) -> dt.tzinfo:
        return ZoneInfo(self.settings.timezone)

    @property
    def strings(self) -> Strings:
        """The edition's catalogue (compile/locales.py): the script converted to decides, else the language."""
        return locales.for_edition(self.anthology.language, self.settings.script or self.theme.script)

    def view(self) -> BookView:
        return BookView(self.anthology, self.zone, self.settings.sections == "none", self.strings)

    @property
    def workers(self) -> int:
        """Processes a writer may spread its per-article work over (`pdf.workers`: 0 = one per CPU)."""
        return self.settings.pdf.workers or available_cpus()

    def template_context(self) -> dict:
        return {"book": self.view()}


class BookView:
    """A read-only view of the anthology for templates, its sections named in the edition's language."""

    def __init__(self, anthology: Anthology, zone: dt.tzinfo, flat: bool, strings: Strings):
        self._a, self._zone, self.flat, self._strings = anthology, zone, flat, strings

    def __getattr__(self, name):
        return getattr(self._a, name)

    @property
    def sections(self) -> list[Section]:
        return [Section(section_title(s, self._strings), s.key, s.articles) for s in self._a.sections]

    @property
    def outlets(self) -> list[str]:
        return sorted({a.outlet for a in self._a.articles if a.outlet})

    def story_of(self, article: Article) -> Story | None:
        """The story across outlets the article is part of (compile/transforms/stories.py), if any."""
        return next((s for s in self._a.stories if any(a.id == article.id for a in s.articles)), None)

    @property
    def date_range_text(self) -> str:
        span = self._a.date_range
        if not span:
            return ""
        first, last = (self._strings.date(local_date(d, self._zone)) for d in span)
        return first if first == last else self._strings("date_range", first=first, last=last)


def section_title(section: Section, strings: Strings) -> str:
    """A section's heading: date and fallback sections are named from their key (compile/transforms/order.py),
    in the edition's language; an outlet's section by the outlet; the one section of a flat book not at all."""
    key = section.key
    if key == "undated":
        return strings("undated")
    if match := re.fullmatch(r"m(\d+)-(\d+)", key):
        return strings.month(int(match[1]), int(match[2]))
    if match := re.fullmatch(r"y(\d+)", key):
        return strings("year", year=int(match[1]))
    if key == "outlet-other":
        return strings("other")
    return section.title


def display_date(article: Article, zone: dt.tzinfo, strings: Strings | None = None) -> str:
    """The date as the reader expects it: 2021年5月22日, or May 22, 2021.

    An article's own language picks the form (an English article in a Chinese book keeps May 22, 2021),
    else the edition's. Shown in the offset the date was published with (RFI's Paris time stays Paris
    time), so that the printed date is the one on the original page; only values without an offset take
    the book's zone.
    """
    if article.published is None:
        return ""
    day = local_date(article.published, zone)
    strings = strings or locales.load("zh-Hans")
    own = (article.language or "").lower()
    if own.startswith("en") or (own.startswith("zh") and not strings.language.startswith("zh")):
        strings = locales.load(locales.edition_language(own))
    return strings.date(day)


def local_date(value: dt.datetime, zone: dt.tzinfo) -> dt.date:
    return value.date() if value.tzinfo is not None else value.astimezone(zone).date()


def display_url(url: str) -> str:
    """Percent-encoded Chinese paths, decoded for the eye; the link keeps the exact URL."""
    try:
        return unquote(url, errors="strict")
    except UnicodeDecodeError:
        return url


class ThemeSandbox(ImmutableSandboxedEnvironment):
    """Templates come with themes, and a theme may be any folder the user points at: they render in Jinja's
    sandbox, which refuses underscore attributes (`cycler.__init__.__globals__.os`), unsafe callables and
    mutating built-in containers. A template error stops the build with a `ThemeError` naming the theme and
    the template's line (the CLI exits with code 2), the jinja2 error chained."""

    def __init__(self, theme: Theme, **options):
        super().__init__(**options)
        self.theme = theme

    def is_safe_attribute(self, obj, attr: str, value) -> bool:
        """Jinja's rule, answered at once for this package's own values (~60 an article, ~5 µs each the long way):
        on them only underscore names are unsafe; everything else goes through Jinja's checks."""
        if attr.startswith("_"):
            return False
        plain = _PLAIN.get(type(obj))
        if plain is None:
            plain = _PLAIN[type(obj)] = _plain(type(obj))
        return plain or super().is_safe_attribute(obj, attr, value)

    def handle_exception(self, source: str | None = None):
        try:
            super().handle_exception(source)  # re-raises with the template's lines in the traceback
        except jinja2.TemplateError as exc:
            what = "stopped by the sandbox" if isinstance(exc, jinja2.exceptions.SecurityError) else "failed"
            raise ThemeError(f"theme '{self.theme.name}' ({self.theme.root}): {_template_line(exc)}{what}: "
                             f"{exc}") from exc


_PLAIN: dict[type, bool] = {}


def _plain(kind: type) -> bool:
    """A class of this package whose instances the sandbox has no rule for but underscores: not a function,
    method, class, code, frame or generator (internal attributes), nor a mutable container (its mutating
    methods)."""
    internal = (types.FunctionType, types.MethodType, type, types.CodeType, types.TracebackType, types.FrameType,
                types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)
    mutable = (abc.MutableSet, abc.MutableMapping, abc.MutableSequence, collections.deque)
    return kind.__module__.startswith("compile.") and not issubclass(kind, internal + mutable)


def _template_line(exc: BaseException) -> str:
    """`templates/article.html.j2:3, ` from the traceback jinja2 rewrote, or nothing."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
    return f"{frames[-1].filename}:{frames[-1].lineno}, " if frames else ""


class SealedBytecode(jinja2.BytecodeCache):
    """The templates compiled once per source and kept in the cache (~10 ms a template, every build and every
    writer's process). Jinja's own FileSystemBytecodeCache runs whatever its files hold as code: here a file
    not sealed with this user's key (cachekey.Entries) is a miss, and the template is compiled again. The
    key holds the template's name, file and source (Jinja's bucket) and this code, which sets the options
    the environment compiles with; the entry holds Python's bytecode version (Jinja checks it)."""

    def __init__(self, root: Path):
        self.entries = cachekey.Entries(root / "templates", "template", ".code")

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self.entries.get(self._key(bucket))
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.entries.put(self._key(bucket), bucket.bytecode_to_string())

    @staticmethod
    def _key(bucket: jinja2.bccache.Bucket) -> str:
        return cachekey.digest(cachekey.code_version(), bucket.key, bucket.checksum)


def environment(theme: Theme, zone: dt.tzinfo, strings: Strings | None = None,
                cache_root: Path | None = None) -> jinja2.Environment:
    """The templates' environment: `t("key", ...)` gives the edition's words (zh-Hans when not given);
    `cache_root`: where compiled templates are kept (none: compiled in each process)."""
    strings = strings or locales.load("zh-Hans")
    env = ThemeSandbox(
        theme,
        loader=jinja2.FileSystemLoader(theme.template_dirs),
        bytecode_cache=SealedBytecode(cache_root) if cache_root else None,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_xml_safe,
    )
    env.globals["t"] = _template_strings(strings)
    env.filters["display_date"] = lambda article: display_date(article, zone, strings)
    env.filters["date_origin"] = strings.date_origin
    env.filters["display_url"] = display_url
    env.filters["typeset"] = lambda text: markupsafe.Markup(typeset_html(str(markupsafe.escape(text))))
    env.filters["keep_end"] = lambda text: markupsafe.Markup(keep_end(str(text)))
    return env


def _template_strings(strings: Strings) -> Callable[..., str]:
    """`t` for templates: a key the catalogue lacks stops the build at the template's line (a ThemeError)."""

    def t(key: str, **values) -> str:
        try:
            return strings(key, **values)
        except (LookupError, IndexError) as exc:
            raise jinja2.exceptions.UndefinedError(str(exc)) from None

    return t


def _xml_safe(value):
    """Every value a template prints, without the characters XML cannot hold (a file name may carry them)."""
    if isinstance(value, str):
        cleaned = xml_text(value)
        return markupsafe.Markup(cleaned) if isinstance(value, markupsafe.Markup) else cleaned
    return value


def body_with_images(article: Article, image_src: Callable[[Image], str | None],
                     strings: Strings | None = None) -> str:
    """Point each figure at its local file, or replace it by a placeholder that keeps the caption (in the
    edition's words)."""
    strings = strings or locales.load("zh-Hans")
    if "<img" not in article.body:
        return article.body
    root = fragment.parse(article.body)
    by_url = {image.url: image for image in article.images}
    for img in list(root.iter("img")):
        url = img.get("src") or ""
        image = by_url.get(url)
        src = image_src(image) if image is not None and image.status == "ok" else None
        if src:
            img.set("src", src)
            img.set("alt", xml_text(img.get("alt") or (image.caption if image else "") or article.title))
            continue
        fragment.replace_element(img, _placeholder(strings("image_missing", host=_host(url))))
    return fragment.inner_html(root)


def _placeholder(words: str) -> etree._Element:
    """Where the image was, for the reader (why it failed is in the report); typeset like the body around it,
    which the pipeline has typeset already."""
    return copy.deepcopy(_placeholder_made(words))


@functools.lru_cache(maxsize=256)  # one per host (the words name it): an archive may miss thousands of a few hosts
def _placeholder_made(words: str) -> etree._Element:
    placeholder = fragment.new("div", "image-missing")
    text = fragment.parse(typeset_html(str(markupsafe.escape(words))))
    placeholder.text = text.text
    placeholder.extend(list(text))
    return placeholder


def render_article(env: jinja2.Environment, book: Book, article: Article, image_src,
                   mark: Callable[[str], str] | None = None) -> str:
    """`mark`: what print does to the body (its links as text with a marker or a footnote: writers/parts.py)."""
    template = env.get_template("article.html.j2")
    body = body_with_images(article, image_src, book.strings)
    if mark is not None:
        body = mark(body)
    return template.render(article=article, body=body, **book.template_context())


def _host(url: str) -> str:
    """Where a missing image was, for its placeholder: the host, or the file of a local image; "?" when the URL
    does not say."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "?"
    if parts.netloc == LOCAL_HOST:
        return unquote(parts.path.lstrip("/")) or "?"
    return parts.netloc or "?"
