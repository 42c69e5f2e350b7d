"""Themes are data: `themes/<name>/theme.toml`, jinja2 templates and CSS. This module only loads them.

A theme is an installed theme's name, or a folder the user named on the command line (`config.load` lets a
path through only from there, never from an archive's anthology.toml). Its templates render sandboxed
(writers/context.py); templates that plainly reach for Python internals are refused here, before the build.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import jinja2
from jinja2 import nodes

from compile import cachekey
from compile.errors import ConfigError

PACKAGE = Path(__file__).resolve().parent
NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")  # an installed theme: a plain folder name, no dots, no separators
PARTS = ("chronology", "sources", "outlets")  # the book's parts besides its articles (compile/writers/parts.py)
LINK_STYLES = ("markers", "footnotes")  # how a link in an article prints: see ThemeParts.links


class ThemeError(ConfigError):
    """A theme that cannot be used (the CLI exits with code 2): a template stopped by the sandbox, for one."""


def themes_root() -> Path:
    """The repository's themes/ in a checkout or editable install; the packaged copy otherwise."""
    for candidate in (PACKAGE.parent / "themes", PACKAGE / "_data" / "themes"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no themes folder found")


@dataclass
class ThemeParts:
    """Where the theme puts the book's parts (`[parts]` in theme.toml); anthology.toml's `[parts]` switches them."""

    front: list[str] = field(default_factory=list)  # after the table of contents, in this order
    back: list[str] = field(default_factory=list)  # after the last article
    # In print, a link in an article stays text: "markers" adds a number that the sources list with the URL,
    # "footnotes" sets the URL at the foot of the page (the theme's print.css styles `.link-note`).
    links: str = "markers"


@dataclass
class Theme:
    name: str
    root: Path
    description: str = ""
    language: str = "zh-Hans"
    languages: list[str] = field(default_factory=lambda: ["zh-Hans"])
    page_size: str = "A5"
    writing_mode: str = "horizontal-tb"
    page_progression: str = "ltr"
    fonts: dict[str, list[str]] = field(default_factory=dict)
    cover: dict[str, str] = field(default_factory=dict)  # cover colours: background, ink, muted, accent
    notes: list[str] = field(default_factory=list)
    # The print text block, as declared (print.css must agree; tests measure it on the PDF).
    font_size: float = 10.5  # body size in pt
    measure: int = 31  # line length in whole body characters (clreq): the block is measure x font_size wide
    line_height: float = 1.8
    margins: str = ""  # CSS shorthand of the page margins, for the record
    script: str = ""  # "hant"/"hans": the edition this theme is made for, when the build does not say
    extends: str = ""  # a theme whose templates/ are used for any template this theme does not have
    extends_print_css: bool = False  # apply the `extends` theme's print.css before this theme's own
    pdf_notes: list[str] = field(default_factory=list)  # said in the build report whenever a PDF is made
    parts: ThemeParts = field(default_factory=ThemeParts)  # no [parts] table: a book of articles only

    @property
    def measure_pt(self) -> float:
        return self.measure * self.font_size

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def template_dirs(self) -> list[Path]:
        """Own templates first, then the parent theme's (`extends`)."""
        dirs = [self.templates]
        if self.extends:
            dirs.append(themes_root() / self.extends / "templates")
        return dirs

    def css(self, kind: str) -> Path:
        return self.root / f"{kind}.css"

    def print_stylesheets(self) -> list[Path]:
        """The PDF's stylesheets, in cascade order."""
        own = [self.css("print")]
        if self.extends and self.extends_print_css:
            return [themes_root() / self.extends / "print.css", *own]
        return own


def available() -> list[str]:
    return sorted(p.parent.name for p in themes_root().glob("*/theme.toml") if NAME.fullmatch(p.parent.name))


def is_installed(name: str) -> bool:
    return NAME.fullmatch(name) is not None and (themes_root() / name / "theme.toml").is_file()


def load(name: str) -> Theme:
    """An installed theme by name, or the theme folder at an absolute path (given on the command line)."""
    if is_installed(name):
        root = themes_root() / name
    elif Path(name).is_absolute() and (Path(name) / "theme.toml").is_file():
        root = Path(name)
    else:
        raise ConfigError(f"theme '{name}' not found; available: {', '.join(available())}")
    manifest = root / "theme.toml"
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{manifest}: not valid TOML: {exc}") from None
    known = set(Theme.__dataclass_fields__) - {"name", "root"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{manifest}: unknown keys {', '.join(sorted(unknown))}")
    extends = data.get("extends", "")
    if extends and not (isinstance(extends, str) and is_installed(extends)):
        raise ConfigError(f"{manifest}: key 'extends': {extends!r} is not an installed theme; choose from "
                          f"{', '.join(available())}")
    if "parts" in data:
        data["parts"] = _parts(manifest, data["parts"])
    chosen = Theme(name=root.name, root=root, **data)
    check_templates(chosen.templates)
    return chosen


def _parts(manifest: Path, table: object) -> ThemeParts:
    """The `[parts]` table, checked: known parts, each placed once, a known link style."""
    if not isinstance(table, dict) or set(table) - {"front", "back", "links"}:
        raise ConfigError(f"{manifest}: [parts] takes front, back and links")
    placed = [*table.get("front", []), *table.get("back", [])]
    if any(name not in PARTS for name in placed) or len(set(placed)) != len(placed):
        raise ConfigError(f"{manifest}: [parts] front and back list each of {', '.join(PARTS)} at most once; "
                          f"got {placed}")
    if table.get("links", "markers") not in LINK_STYLES:
        raise ConfigError(f"{manifest}: [parts] links is one of {', '.join(LINK_STYLES)}")
    return ThemeParts(**table)


def check_templates(folder: Path) -> None:
    """Refuse templates that name underscore attributes (`cycler.__init__.__globals__`) or dunder strings
    (`|attr('__class__')`): the sandbox would stop them while rendering; this says so before the build."""
    files = sorted(folder.glob("*.j2")) if folder.is_dir() else []
    _check_files(tuple((path, cachekey.file_state(path)) for path in files))  # one missing: read below, says why


@functools.lru_cache(maxsize=16)  # a build loads its theme a few times; a template changed is checked again
def _check_files(files: tuple[tuple[Path, str], ...]) -> None:
    env = jinja2.Environment()
    for path, _ in files:
        try:
            tree = env.parse(path.read_text(encoding="utf-8"))
        except (jinja2.TemplateSyntaxError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not a valid template: {exc}") from None
        for node in tree.find_all((nodes.Getattr, nodes.Const)):
            if isinstance(node, nodes.Getattr):
                word, unsafe = node.attr, node.attr.startswith("_")
            else:  # a Const: find_all's type says only "an expression"
                word = cast(nodes.Const, node).value
                unsafe = "__" in str(word)
            if unsafe:
                raise ConfigError(f"{path}:{node.lineno}: templates may not reach Python internals ({word!r}); "
                                  "they render in a sandbox")
