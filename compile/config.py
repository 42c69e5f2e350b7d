"""anthology.toml: typed settings with defaults, loaded in one place, validated with clear errors.

Every field has a default and a comment; unknown keys and wrong types raise `ConfigError` naming the
file, the key, its line and, for near misses, the key that was probably meant.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from compile import pages, theme
from compile.errors import ConfigError


@dataclass
class ImageSettings:
    enabled: bool = True  # fetch images at all
    connect_timeout: float = 3.0  # seconds to open a connection
    read_timeout: float = 10.0  # seconds between bytes
    total_timeout: float = 30.0  # seconds for one image, all retries included
    retries: int = 2  # extra attempts on timeouts and 5xx
    max_bytes: int = 25_000_000  # a bigger download is aborted
    max_pixels: int = 60_000_000  # decompression-bomb guard
    concurrency: int = 16  # simultaneous downloads
    per_host: int = 8  # simultaneous downloads per host (image CDNs; browsers open 6 per host); <= concurrency
    allow_private_hosts: bool = False  # let loopback/private addresses through (tests, intranets)
    cache_dir: str = ""  # default: $ANTHOLOGY_CACHE or $XDG_CACHE_HOME/anthology or ~/.cache/anthology
    max_side: int = 1600  # long side of EPUB images, in pixels
    jpeg_quality: int = 80
    backoff: float = 0.5  # seconds before the first retry; doubled each time
    remember_failures: float = 3600.0  # seconds a failed download is not tried again (0 = try every build)
    epub_profile: str = "epub"  # images in the EPUB: "epub" (colour, 1600 px) or "eink" (gray, 1072×1448)
    print_ppi: int = 300  # PDF images: at most this many pixels per inch at the printed width
    print_width_mm: float = 0.0  # printed width of a full-width figure; 0 = theme's page width less margins
    print_quality: int = 88  # JPEG quality of PDF images
    epub_budget_mb: float = 50.0  # EPUB images recompressed to fit (Send-to-Kindle: 50, mail: 25; 0 = none)
    pdf_budget_mb: float = 0.0  # likewise for the PDF's images; 0 = no budget


@dataclass
class PdfSettings:
    page_size: str = ""  # "" = the theme's; A4 | A5 | B5 | JIS-B5 | Letter ... or "140mm x 203mm"
    bleed: bool = False  # 3 mm bleed with crop marks, TrimBox/BleedBox for the printer (--print)
    bleed_mm: float = 3.0
    pdfa: bool = False  # PDF/A-3a (tagged) with the sources and the report attached (--pdfa)
    tagged: bool = False  # a tagged PDF (PDF/UA-1): structure tree, reading order, languages, alt text (--tagged)
    pdfx: bool = False  # PDF/X-4 with a CMYK output intent, for the print shop's preflight (--print)
    output_profile: str = ""  # PDF/X-4's CMYK ICC profile (the print shop's); "" = Ghostscript's SWOP profile
    min_image_dpi: int = 300  # with pdfx (--print): images printed at fewer pixels per inch are listed in the report
    impose: str = ""  # "" | "booklet": also write a saddle-stitched imposition (--impose booklet)
    # How it is rendered; the pages are the same either way, only the time differs (writers/pdf/chunked/build.py).
    mode: str = "auto"  # auto | single | chunked
    workers: int = 0  # worker processes for chunked PDF rendering and for reading articles; 0 = one per CPU, 1 = serial
    chunk_articles: int = 16  # average articles per chunk (chunk boundaries are content-defined)


@dataclass
class VolumeSettings:
    """Split a large archive into numbered volumes; each is an independent unit of work."""

    by: str = ""  # "" (one book) | "year"
    max_articles: int = 0  # 0 = no limit
    max_pages: int = 0  # 0 = no limit; estimated from the text before rendering


@dataclass
class ConversionSettings:
    """How a Simplified <-> Traditional edition (`script`) is made: `[conversion]` in anthology.toml."""

    # "" = character by character: s2tw to Traditional (Taiwan's standard forms, as the TC faces draw them; words
    # are never replaced), tw2s to Simplified. A phrase-level OpenCC profile only by choice: s2twp (支持 -> 支援,
    # 程序 -> 程式), s2hk, s2hkp, tw2sp ... (`conversion_profiles` lists them).
    profile: str = ""
    protect: list[str] = field(default_factory=list)  # words never converted, as the source writes them: ["沈阳"]
    # Words converted as you say, not as OpenCC would: a person 沈阳 is 沈陽, not the city 瀋陽; 余慧明 not 餘慧明.
    words: dict[str, str] = field(default_factory=dict)  # [conversion.words] "沈阳" = "沈陽"
    quotes: str = "corner"  # Traditional editions: "corner" sets “” ‘’ as 「」 『』 (nested by depth); "keep"


@dataclass
class PartSettings:
    """The book's parts besides its articles (`[parts]`): each is made where the theme places it, unless switched
    off here, and only when it has something to say (compile/writers/parts.py)."""

    chronology: bool = True  # 大事记: date, outlets, headline and page, one line per story
    sources: bool = True  # each article's URL, outlet, date and where it came from, archive time
    outlets: bool = True  # each outlet's articles (not made for one outlet, or when sections are by outlet)
    qr: bool = True  # in print, a QR code of each article's URL in the sources


@dataclass
class StorySettings:
    """Articles of different outlets reporting one event, grouped as a story (`[stories]`,
    compile/transforms/stories.py): the book keeps each and says "also reported by" under the first."""

    enabled: bool = True
    threshold: float = 0.3  # share of the shorter text's 3-grams the other holds (rewrites ~0.4-0.7, copies ~1)
    days: float = 2.0  # published at most this many days apart; undated articles never join


@dataclass
class Override:
    """Per-article corrections, keyed by the source file name."""

    date: dt.date | dt.datetime | str | None = None
    title: str | None = None
    exclude: bool = False
    language: str | None = None


@dataclass
class Settings:
    title: str = ""  # "": the edition's own (新闻选集, 新聞選集, News anthology)
    subtitle: str = ""
    editor: str = ""
    language: str = ""  # "": the archive's, as most of its articles are written (compile/build/pipeline.py)
    theme: str = "book"
    formats: list[str] = field(default_factory=lambda: ["epub", "pdf"])
    sections: str = "year"  # year | month | outlet | none
    slug: str = ""  # output file name; default: from the source folder's name
    timezone: str = "Asia/Shanghai"  # how dates are shown, and the zone of date-only values
    include: list[str] = field(default_factory=lambda: ["**/*"])  # globs, relative to the source folder
    exclude: list[str] = field(default_factory=list)  # globs; a file matching both is excluded
    max_file_mb: float = 20.0  # a bigger source file is skipped (and reported), never read
    read_seconds: float = 30.0  # one article's reading time limit; a slower one is reported as failed
    volumes: VolumeSettings = field(default_factory=lambda: VolumeSettings())
    pdf: PdfSettings = field(default_factory=lambda: PdfSettings())
    script: str = ""  # "" keeps each article's script; "hant" / "hans": a Traditional / Simplified edition (OpenCC)
    conversion: ConversionSettings = field(default_factory=ConversionSettings)  # how `script` converts
    images: ImageSettings = field(default_factory=ImageSettings)
    epub_target: str = "generic"  # generic | kindle | apple | email: size budget and reader tweaks
    embed_fonts: bool = True  # embed the theme's CJK fonts in the EPUB, subset to the characters used
    parts: PartSettings = field(default_factory=PartSettings)  # chronology, sources, outlet index: on or off
    stories: StorySettings = field(default_factory=StorySettings)  # one event's reports across outlets
    overrides: dict[str, Override] = field(default_factory=dict)
    # Not from the file: set by the CLI.
    offline: bool = False
    retry_images: bool = False  # try again the images that failed in a recent build (images.remember_failures)
    strict: bool = False
    scheduler: str = ""  # a Dask scheduler address (tcp://host:8786): volumes are built on that cluster


FORMATS = ("epub", "pdf")
SECTIONS = ("year", "month", "outlet", "none")
EPUB_TARGETS = ("generic", "kindle", "apple", "email")  # writers/epub.TARGETS: what each changes
# Former targets still accepted (users' scripts name them): kobo was generic byte for byte, and now says so.
TARGET_ALIASES = {"kobo": "generic"}
# Keys the CLI sets; they are not allowed in the file.
_CLI_ONLY = {"offline", "retry_images", "strict", "scheduler"}


def load(path: Path | None, *, source: Path | None = None, **cli: object) -> Settings:
    """Read `path` (if any), apply CLI options that are not None, and validate.

    The file is untrusted (it travels with the archive, docs/security.md): its theme must be an installed
    theme's name and its cache folder must lie outside `source` (the archive; default: the file's folder).
    A theme given on the command line (`theme=`) may also be a theme folder: the user typed it.
    """
    settings = Settings()
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        where = _Where(path, text, "")
        settings = _build(Settings, data, where)
        if "per_host" not in data.get("images", {}):  # fewer downloads in all than the default per host
            settings.images.per_host = min(settings.images.per_host, settings.images.concurrency)
        archive = (source or path.parent).resolve()
        if path.resolve().is_relative_to(archive):  # the archive's own config: it may not loosen the tool's limits
            _check_untrusted(settings, where, data, archive)
        elif settings.images.cache_dir:  # a config file the user named, outside the archive: trusted
            settings.images.cache_dir = str(_cache_dir(settings.images.cache_dir, path, archive))
        if settings.pdf.output_profile:
            settings.pdf.output_profile = str(_output_profile(settings.pdf.output_profile, where, archive))
    if cli.get("theme") is not None:
        cli["theme"] = _cli_theme(str(cli["theme"]))
    for key, value in cli.items():
        if value is not None:
            setattr(settings, key, value)
    _check_values(settings, path)
    return settings


@dataclass
class _Where:
    path: Path
    text: str
    prefix: str

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def line(self, name: str) -> int | None:
        pattern = re.compile(rf'^\s*["\']?{re.escape(name)}["\']?\s*=|^\s*\[.*\b{re.escape(name)}\b.*\]', re.M)
        match = pattern.search(self.text)
        return self.text.count("\n", 0, match.start()) + 1 if match else None

    def error(self, name: str, message: str) -> ConfigError:
        line = self.line(name)
        at = f"{self.path}:{line}" if line else str(self.path)
        return ConfigError(f"{at}: key '{self.key(name)}': {message}")


def _build(cls: type, data: dict, where: _Where):
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _CLI_ONLY}
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        if name not in fields:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(sorted(fields))}"
            raise where.error(name, f"unknown key{hint}")
        values[name] = _convert(hints[name], value, name, where)
    return cls(**values)


def _convert(hint, value, name: str, where: _Where):
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise where.error(name, f"expected a table, got {type(value).__name__}")
        return _build(hint, value, _Where(where.path, where.text, f"{where.key(name)}."))
    if origin is dict:
        if not isinstance(value, dict):
            raise where.error(name, f"expected a table, got {type(value).__name__}")
        _, item = typing.get_args(hint)
        inner = _Where(where.path, where.text, f"{where.key(name)}.")
        return {k: _convert(item, v, k, inner) for k, v in value.items()}
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
            raise where.error(name, f"expected a list of {item.__name__}")
        return value
    allowed = typing.get_args(hint) if origin in (typing.Union, types.UnionType) else (hint,)
    allowed = tuple(t for t in allowed if t is not type(None))
    if float in allowed and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and bool not in allowed:
        raise where.error(name, f"expected {_names(allowed)}, got a boolean")
    if not isinstance(value, allowed):
        raise where.error(name, f"expected {_names(allowed)}, got {type(value).__name__} {value!r}")
    return value


def _names(types_: tuple) -> str:
    words = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
             dt.date: "a date", dt.datetime: "a date-time"}
    return " or ".join(words.get(t, t.__name__) for t in types_)


def check(settings: Settings) -> None:
    """Validate values set after loading (by CLI options)."""
    _check_values(settings, None)


# --- What only an (untrusted) file is held to ------------------------------------------------------------

# Limits an archive's own config may lower but not raise: they protect the machine from the archive.
RAISED_ONLY_BY_THE_USER = ("max_file_mb", "read_seconds")


def _check_untrusted(settings: Settings, where: _Where, data: dict, archive: Path) -> None:
    if not theme.is_installed(settings.theme):
        raise where.error("theme", f"{settings.theme!r} is not an installed theme; choose from "
                                   f"{', '.join(theme.available())} (a theme folder can be given only on the "
                                   "command line: --theme PATH)")
    trusted = "in a config file outside the archive (--config FILE)"
    if settings.images.cache_dir:
        # Where the tool writes, and what `anthology cache clean` empties, is the user's choice, never the archive's.
        raise _Where(where.path, where.text, "images.").error(
            "cache_dir", f"an archive's own config may not choose the cache folder; set it {trusted}, or "
                         "ANTHOLOGY_CACHE=FOLDER in the environment")
    defaults = Settings()
    for key in RAISED_ONLY_BY_THE_USER:
        if key in data and getattr(settings, key) > getattr(defaults, key):
            raise where.error(key, f"an archive's own config may only lower it (default {getattr(defaults, key)}); "
                                   f"set a higher value {trusted}")


_SYSTEM_TREES = ("etc", "usr", "bin", "sbin", "boot", "dev", "proc", "sys", "run", "var")
_SYSTEM_EXCEPTIONS = (Path("/var/tmp"),)  # and one folder down /var/cache (see is_system_folder)


def _cache_dir(value: str, path: Path, archive: Path) -> Path:
    """The cache folder a trusted config file names, relative to the file's folder. A system folder is refused
    all the same (`anthology cache clean` empties it), and so is one inside the archive (it would supply images)."""
    where = _Where(path, path.read_text(encoding="utf-8"), "images.")
    try:
        folder = (path.parent / Path(value).expanduser()).resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise where.error("cache_dir", f"{value!r} cannot be resolved: {exc}") from None
    if is_system_folder(folder):
        raise where.error("cache_dir", f"{value!r} is a system folder ({folder}); choose a folder of your own")
    if folder.is_relative_to(archive):
        raise where.error("cache_dir", f"{value!r} is inside the archive ({folder}); choose a folder outside it")
    return folder


def _output_profile(value: str, where: _Where, archive: Path) -> Path:
    """The ICC profile a config file names, relative to the file's folder; an archive's own config may name
    one of the archive's files only (it is embedded in the PDF: no file of the machine's may travel out)."""
    folder = where.path.parent
    profile = (folder / Path(value).expanduser()).resolve()
    if where.path.resolve().is_relative_to(archive) and not profile.is_relative_to(archive):
        raise _Where(where.path, where.text, "pdf.").error(
            "output_profile", f"{value!r} is outside the archive; an archive's own config may name only its "
                              "own files (another profile: in a config file outside the archive, --config FILE)")
    return profile


def _check_output_profile(value: str, where: str) -> None:
    """A CMYK output (printer) ICC profile, as PDF/X-4's output intent must be: read from its header."""
    try:
        with open(value, "rb") as file:
            header = file.read(128)
    except OSError as exc:
        raise ConfigError(f"{where}: key 'pdf.output_profile': {value!r} cannot be read: {exc.strerror}") from None
    if len(header) < 128 or header[36:40] != b"acsp":
        raise ConfigError(f"{where}: key 'pdf.output_profile': {value!r} is not an ICC profile")
    if header[12:16] != b"prtr" or header[16:20] != b"CMYK":
        raise ConfigError(f"{where}: key 'pdf.output_profile': {value!r} is a {header[16:20].decode('latin-1')} "
                          f"'{header[12:16].decode('latin-1')}' profile; PDF/X-4 needs a CMYK printer ('prtr') one")


def is_system_folder(folder: Path) -> bool:
    """`/`, anything under /etc, /usr, /lib*, /proc ... (/var too, but for /var/tmp and /var/cache/NAME),
    or exactly /root, /home or the user's home (their subfolders are the user's)."""
    parts = folder.parts
    if len(parts) < 2 or folder in {Path("/root"), Path("/home"), _home()}:
        return True
    if any(folder == ok or folder.is_relative_to(ok) for ok in _SYSTEM_EXCEPTIONS):
        return False
    if parts[1] == "var" and len(parts) >= 4 and parts[2] == "cache":
        return False
    return parts[1] in _SYSTEM_TREES or parts[1].startswith("lib")


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError):  # no $HOME and no passwd entry
        return None


def _cli_theme(value: str) -> str:
    """A theme the user typed: an installed theme's name, else a theme folder (made absolute)."""
    if theme.is_installed(value):
        return value
    folder = Path(value).expanduser()
    if not (folder / "theme.toml").is_file():
        raise ConfigError(f"options: --theme {value!r}: neither an installed theme ({', '.join(theme.available())})"
                          " nor a folder with a theme.toml")
    return str(folder.resolve())


# --- Values, from wherever they came ---------------------------------------------------------------------

# A well-formed BCP 47 tag (RFC 5646 section 2.1, without the grandfathered irregular tags): zh-Hans, en-US,
# zh-Hant-TW, de-CH-1901, x-private. It lands in attributes of the EPUB and the PDF: nothing else may pass.
LANGUAGE_TAG = re.compile(r"""
    (?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})   # language, extended language subtags
    (?:-[A-Za-z]{4})?                                       # script
    (?:-(?:[A-Za-z]{2}|[0-9]{3}))?                          # region
    (?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*          # variants
    (?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*           # extensions
    (?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?                        # private use
    |[Xx](?:-[A-Za-z0-9]{1,8})+                             # private use alone
""", re.X | re.A)


def is_language_tag(tag: str) -> bool:
    return bool(tag) and len(tag) <= 64 and LANGUAGE_TAG.fullmatch(tag) is not None


# Control characters have no place in a title and XML refuses most of them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
TEXT_MAX = 1000  # characters of a title, subtitle or editor


@dataclass(frozen=True)
class Bound:
    """The allowed range of a number. `high` may name another key (images.per_host <= images.concurrency) or be
    a function of the machine (pdf.workers)."""

    low: float
    high: float | str | Callable[[], int]
    above: bool = False  # `low` itself is not allowed (timeouts: > 0)
    note: str = ""  # what the range means, for the message


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


MB = 1_000_000
REMEMBER_AT_MOST = 7 * 24 * 3600  # seconds a failed image download may be remembered (the cache sweeps older ones)
BOUNDS: dict[str, Bound] = {
    "max_file_mb": Bound(0, 2000, above=True, note="MB"),
    "read_seconds": Bound(0, 3600, above=True, note="seconds"),
    "pdf.workers": Bound(0, lambda: 2 * available_cpus(), note="0 = one per CPU; at most 2 × CPU count"),
    "pdf.chunk_articles": Bound(1, 1000),
    "pdf.bleed_mm": Bound(0, 20),
    "pdf.min_image_dpi": Bound(0, 2400, note="0 = no check"),
    "images.concurrency": Bound(1, 64),
    "images.per_host": Bound(1, "images.concurrency"),
    "images.connect_timeout": Bound(0, 600, above=True, note="seconds"),
    "images.read_timeout": Bound(0, 600, above=True, note="seconds"),
    "images.total_timeout": Bound(0, 600, above=True, note="seconds"),
    "images.backoff": Bound(0, 60, note="seconds"),
    "images.retries": Bound(0, 10),
    "images.remember_failures": Bound(0, REMEMBER_AT_MOST, note="seconds; 0 = try failed images every build"),
    "images.max_bytes": Bound(1, 200 * MB, note="bytes"),
    "images.max_pixels": Bound(1, 200 * MB, note="pixels"),
    "images.max_side": Bound(16, 10_000, note="pixels"),
    "images.jpeg_quality": Bound(1, 100),
    "images.print_quality": Bound(1, 100),
    "images.print_ppi": Bound(50, 1200),
    "images.print_width_mm": Bound(0, 1000, note="0 = the theme's text width"),
    "images.epub_budget_mb": Bound(0, 10_000, note="0 = no budget"),
    "images.pdf_budget_mb": Bound(0, 10_000, note="0 = no budget"),
    "volumes.max_articles": Bound(0, 100_000, note="0 = no limit"),
    "volumes.max_pages": Bound(0, 1_000_000, note="0 = no limit"),
    "stories.threshold": Bound(0, 1, above=True, note="share of 3-grams"),
    "stories.days": Bound(0, 31, note="days"),
}


def _value(settings: Settings, key: str):
    value = settings
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _check_bounds(settings: Settings, where: str) -> None:
    for key, bound in BOUNDS.items():
        value = _value(settings, key)
        high = _value(settings, bound.high) if isinstance(bound.high, str) else bound.high
        high = high() if callable(high) else high
        low_ok = value > bound.low if bound.above else value >= bound.low
        if not (low_ok and value <= high):  # NaN fails both comparisons: refused too
            low = f"> {bound.low}" if bound.above else f">= {bound.low}"
            limit = f"{high} ({bound.high})" if isinstance(bound.high, str) else f"{high}"
            note = f"; {bound.note}" if bound.note else ""
            raise ConfigError(f"{where}: key '{key}': {value!r} is out of range: allowed {low} and <= {limit}{note}")


def _check_texts(settings: Settings, where: str) -> None:
    texts = {"title": settings.title, "subtitle": settings.subtitle, "editor": settings.editor}
    texts.update({f"overrides.{name}.title": o.title for name, o in settings.overrides.items() if o.title})
    for key, text in texts.items():
        if _CONTROL.search(text):
            raise ConfigError(f"{where}: key '{key}': control characters are not allowed")
        if len(text) > TEXT_MAX:
            raise ConfigError(f"{where}: key '{key}': {len(text)} characters; at most {TEXT_MAX}")


def _check_languages(settings: Settings, where: str) -> None:
    tags = {"language": settings.language} if settings.language else {}
    tags.update({f"overrides.{name}.language": o.language for name, o in settings.overrides.items()
                 if o.language is not None})
    for key, tag in tags.items():
        if not is_language_tag(tag):
            raise ConfigError(f"{where}: key '{key}': {tag!r} is not a BCP 47 language tag "
                              "(such as zh-Hans, zh-Hant-TW, en, en-US)")


PROTECT_MAX = 2_000  # protected words, and [conversion.words] (each costs time on every text)
WORD_MAX = 50  # characters of one protected word
QUOTES = ("corner", "keep")


def conversion_profiles(script: str) -> list[str]:
    """The installed OpenCC profiles that make a `script` edition: from Simplified (s2t, s2tw, s2twp, s2hk ...)
    for "hant", to Simplified (t2s, tw2s, tw2sp, hk2s ...) for "hans"."""
    import opencc  # noqa: PLC0415 - only when a profile is chosen

    stems = sorted(name.removesuffix(".json") for name in opencc.CONFIGS)
    return [s for s in stems if (s.startswith("s2") if script == "hant" else s.endswith(("2s", "2sp")))]


def _edition_script(settings: Settings) -> str:
    """The edition's script: the build's, else the theme's (the vertical theme is Traditional)."""
    if settings.script or not settings.conversion.profile:
        return settings.script
    try:
        return theme.load(settings.theme).script
    except ConfigError:  # an unknown theme is reported where the theme is loaded
        return ""


def _check_conversion(settings: Settings, where: str) -> None:
    conversion = settings.conversion
    if conversion.quotes not in QUOTES:
        raise ConfigError(f"{where}: key 'conversion.quotes': '{conversion.quotes}' is not one of {', '.join(QUOTES)}")
    if conversion.profile:
        script = _edition_script(settings)
        # Without a script the profile waits for --script; it must still make one of the two editions.
        known = conversion_profiles(script) if script else conversion_profiles("hant") + conversion_profiles("hans")
        if conversion.profile not in known:
            edition = {"hant": " for a Traditional edition", "hans": " for a Simplified edition"}.get(script, "")
            raise ConfigError(f"{where}: key 'conversion.profile': '{conversion.profile}' is not an OpenCC profile"
                              f"{edition}; choose from {', '.join(known)} (or \"\": character by character)")
    for key, words in (("protect", conversion.protect), ("words", [*conversion.words, *conversion.words.values()])):
        if len(words) > PROTECT_MAX:
            raise ConfigError(f"{where}: key 'conversion.{key}': {len(words)} words; at most {PROTECT_MAX}")
        for word in words:
            if not word.strip() or _CONTROL.search(word) or len(word) > WORD_MAX:
                raise ConfigError(f"{where}: key 'conversion.{key}': {word!r} must be a word of 1 to {WORD_MAX} "
                                  "characters, without control characters")


def _check_values(settings: Settings, path: Path | None) -> None:
    where = str(path) if path else "options"
    for fmt in settings.formats:
        if fmt not in FORMATS:
            raise ConfigError(f"{where}: key 'formats': unknown format '{fmt}'; choose from {', '.join(FORMATS)}")
    if settings.sections not in SECTIONS:
        raise ConfigError(f"{where}: key 'sections': '{settings.sections}' is not one of {', '.join(SECTIONS)}")
    if settings.volumes.by not in ("", "year"):
        raise ConfigError(f"{where}: key 'volumes.by': '{settings.volumes.by}' is not one of \"\", year")
    _check_bounds(settings, where)
    _check_languages(settings, where)
    _check_texts(settings, where)
    if settings.pdf.output_profile:
        _check_output_profile(settings.pdf.output_profile, where)
    if settings.pdf.impose not in ("", "booklet"):
        raise ConfigError(f"{where}: key 'pdf.impose': '{settings.pdf.impose}' is not one of \"\", booklet")
    if settings.pdf.page_size:
        try:
            pages.css_page_size(settings.pdf.page_size)
        except pages.PageSizeError as exc:
            raise ConfigError(f"{where}: key 'pdf.page_size': {exc}") from None
    if settings.images.epub_profile not in ("epub", "eink"):
        raise ConfigError(f"{where}: key 'images.epub_profile': '{settings.images.epub_profile}' is not epub or eink")
    settings.epub_target = TARGET_ALIASES.get(settings.epub_target, settings.epub_target)
    if settings.epub_target not in EPUB_TARGETS:
        raise ConfigError(f"{where}: key 'epub_target': '{settings.epub_target}' is not one of "
                          f"{', '.join(EPUB_TARGETS)}")
    if settings.script not in ("", "hant", "hans"):
        raise ConfigError(f"{where}: key 'script': '{settings.script}' is not one of hant, hans")
    _check_conversion(settings, where)
    if settings.pdf.mode not in ("auto", "single", "chunked"):
        raise ConfigError(f"{where}: key 'pdf.mode': '{settings.pdf.mode}' is not one of auto, single, chunked")
    if settings.slug and not re.fullmatch(r"[\w-][\w.-]{0,99}", settings.slug):  # not hidden, not "." or ".."
        raise ConfigError(f"{where}: key 'slug': '{settings.slug}' must be a plain file name (letters, digits, "
                          "'-', '_', '.'; not starting with a dot; at most 100 characters)")
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(settings.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: key 'timezone': unknown time zone '{settings.timezone}'") from None
