"""Themes are data: `themes/<name>/theme.toml`, jinja2 templates and CSS. This module only loads them."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from compile.config import ConfigError

PACKAGE = Path(__file__).resolve().parent


def themes_root() -> Path:
    """The repository's themes/ in a checkout or editable install; the packaged copy otherwise."""
    for candidate in (PACKAGE.parent / "themes", PACKAGE / "_data" / "themes"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no themes folder found")


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
    return sorted(p.parent.name for p in themes_root().glob("*/theme.toml"))


def load(name: str) -> Theme:
    root = themes_root() / name
    manifest = root / "theme.toml"
    if not manifest.is_file():
        raise ConfigError(f"theme '{name}' not found; available: {', '.join(available())}")
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    known = set(Theme.__dataclass_fields__) - {"name", "root"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{manifest}: unknown keys {', '.join(sorted(unknown))}")
    return Theme(name=name, root=root, **data)
