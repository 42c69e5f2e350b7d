"""anthology.toml: typed settings with defaults, loaded in one place, validated with clear errors.

Every field has a default and a comment; unknown keys and wrong types raise `ConfigError` naming the
file, the key, its line and, for near misses, the key that was probably meant.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(Exception):
    """A bad configuration: the CLI exits with code 2 and prints this message."""


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
    per_host: int = 8  # simultaneous downloads per host (image CDNs; browsers open 6 per host)
    allow_private_hosts: bool = False  # let loopback/private addresses through (tests, intranets)
    cache_dir: str = ""  # default: $ANTHOLOGY_CACHE or $XDG_CACHE_HOME/anthology or ~/.cache/anthology
    max_side: int = 1600  # long side of EPUB images, in pixels
    jpeg_quality: int = 80
    backoff: float = 0.5  # seconds before the first retry; doubled each time
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
    pdfa: bool = False  # PDF/A-3b with the sources and the report attached (--pdfa)
    impose: str = ""  # "" | "booklet": also write a saddle-stitched imposition (--impose booklet)
    # How it is rendered; the pages are the same either way, only the time differs (compile/writers/pdf_chunks.py).
    mode: str = "auto"  # auto | single | chunked
    workers: int = 0  # worker processes for chunked rendering; 0 = one per available CPU
    chunk_articles: int = 16  # average articles per chunk (chunk boundaries are content-defined)


@dataclass
class VolumeSettings:
    """Split a large archive into numbered volumes; each is an independent unit of work."""

    by: str = ""  # "" (one book) | "year"
    max_articles: int = 0  # 0 = no limit
    max_pages: int = 0  # 0 = no limit; estimated from the text before rendering


@dataclass
class Override:
    """Per-article corrections, keyed by the source file name."""

    date: dt.date | dt.datetime | str | None = None
    title: str | None = None
    exclude: bool = False
    language: str | None = None


@dataclass
class Settings:
    title: str = "新闻选集"
    subtitle: str = ""
    editor: str = ""
    language: str = "zh-Hans"
    theme: str = "book"
    formats: list[str] = field(default_factory=lambda: ["epub", "pdf"])
    sections: str = "year"  # year | month | outlet | none
    slug: str = ""  # output file name; default: from the source folder's name
    timezone: str = "Asia/Shanghai"  # how dates are shown, and the zone of date-only values
    include: list[str] = field(default_factory=lambda: ["**/*"])  # globs, relative to the source folder
    exclude: list[str] = field(default_factory=list)  # globs; a file matching both is excluded
    volumes: VolumeSettings = field(default_factory=lambda: VolumeSettings())
    pdf: PdfSettings = field(default_factory=lambda: PdfSettings())
    script: str = ""  # "" keeps each article's script; "hant" / "hans": a Traditional / Simplified edition (OpenCC)
    images: ImageSettings = field(default_factory=ImageSettings)
    epub_target: str = "generic"  # generic | kindle | kobo | apple | email: size budget and reader tweaks
    embed_fonts: bool = True  # embed the theme's CJK fonts in the EPUB, subset to the characters used
    overrides: dict[str, Override] = field(default_factory=dict)
    # Not from the file: set by the CLI.
    offline: bool = False
    strict: bool = False
    scheduler: str = ""  # a Dask scheduler address (tcp://host:8786): volumes are built on that cluster


FORMATS = ("epub", "pdf")
SECTIONS = ("year", "month", "outlet", "none")
EPUB_TARGETS = ("generic", "kindle", "kobo", "apple", "email")
# Keys the CLI sets; they are not allowed in the file.
_CLI_ONLY = {"offline", "strict", "scheduler"}


def load(path: Path | None, **cli: object) -> Settings:
    """Read `path` (if any), apply CLI options that are not None, and validate."""
    settings = Settings()
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        settings = _build(Settings, data, _Where(path, text, ""))
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
    if dataclasses.is_dataclass(hint):
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


def _check_values(settings: Settings, path: Path | None) -> None:
    where = str(path) if path else "options"
    for fmt in settings.formats:
        if fmt not in FORMATS:
            raise ConfigError(f"{where}: key 'formats': unknown format '{fmt}'; choose from {', '.join(FORMATS)}")
    if settings.sections not in SECTIONS:
        raise ConfigError(f"{where}: key 'sections': '{settings.sections}' is not one of {', '.join(SECTIONS)}")
    if settings.volumes.by not in ("", "year"):
        raise ConfigError(f"{where}: key 'volumes.by': '{settings.volumes.by}' is not one of \"\", year")
    if settings.volumes.max_articles < 0 or settings.volumes.max_pages < 0:
        raise ConfigError(f"{where}: key 'volumes': limits must be 0 (none) or positive")
    if settings.pdf.impose not in ("", "booklet"):
        raise ConfigError(f"{where}: key 'pdf.impose': '{settings.pdf.impose}' is not one of \"\", booklet")
    if settings.pdf.page_size:
        from compile.writers.prepress import css_page_size

        try:
            css_page_size(settings.pdf.page_size)
        except ConfigError as exc:
            raise ConfigError(f"{where}: key 'pdf.page_size': {exc}") from None
    if settings.images.epub_profile not in ("epub", "eink"):
        raise ConfigError(f"{where}: key 'images.epub_profile': '{settings.images.epub_profile}' is not epub or eink")
    if settings.epub_target not in EPUB_TARGETS:
        raise ConfigError(f"{where}: key 'epub_target': '{settings.epub_target}' is not one of "
                          f"{', '.join(EPUB_TARGETS)}")
    if settings.script not in ("", "hant", "hans"):
        raise ConfigError(f"{where}: key 'script': '{settings.script}' is not one of hant, hans")
    if settings.pdf.mode not in ("auto", "single", "chunked"):
        raise ConfigError(f"{where}: key 'pdf.mode': '{settings.pdf.mode}' is not one of auto, single, chunked")
    if settings.pdf.workers < 0 or settings.pdf.chunk_articles < 1:
        raise ConfigError(f"{where}: key 'pdf': workers must be >= 0 and chunk_articles >= 1")
    if settings.slug and not re.fullmatch(r"[\w.-]+", settings.slug):
        raise ConfigError(f"{where}: key 'slug': '{settings.slug}' must be a plain file name")
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(settings.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: key 'timezone': unknown time zone '{settings.timezone}'") from None
