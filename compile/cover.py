"""The cover: a JPEG drawn with Pillow from the book's title, subtitle, date range and article count.

Set in the theme's own faces (so CJK titles look like the book inside), horizontal or, for vertical themes,
in columns read right to left. JPEG because every reader and store accepts it as a cover (Kindle prefers it);
1600 x 2560 px (the 1:1.6 shape Kindle and Kobo recommend, wide enough for Apple Books' 1400 px minimum),
kept under `max_bytes` by lowering the quality.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont, features

from compile.fonts import Face

SIZE = (1600, 2560)
MAX_BYTES = 500_000
# No line may start with these (clreq/JLREQ line-start prohibitions), nor end with the openers.
NO_LINE_START = set("，。、：；！？）》」』】〕〉…—·,.:;!?)]}’”%")
NO_LINE_END = set("（《「『【〔〈([{‘“")


@dataclass
class CoverText:
    title: str
    subtitle: str = ""
    dates: str = ""  # e.g. 2018年6月12日 — 2023年3月1日
    count: str = ""  # e.g. 共 5 篇
    editor: str = ""  # e.g. 选集编辑部 编


@dataclass
class Palette:
    background: str = "#f3eee2"  # warm paper
    ink: str = "#1d1c1a"
    muted: str = "#4a4741"
    accent: str = "#a3312a"  # vermilion, like a seal

    @classmethod
    def from_theme(cls, values: dict | None) -> Palette:
        """A theme may give `[cover]` colours in theme.toml; unknown keys are ignored here (the theme loader
        is where manifests are validated)."""
        known = {k: v for k, v in (values or {}).items() if k in cls.__dataclass_fields__ and isinstance(v, str)}
        return cls(**known)


def split_title(title: str) -> tuple[str, str]:
    """`半岛风云：朝鲜半岛外交新闻选集` -> (`半岛风云`, `朝鲜半岛外交新闻选集`): a title with a colon reads as a
    main title and a tagline, set in two sizes."""
    for mark in ("：", ": ", "——", " — "):
        head, found, tail = title.partition(mark)
        if found and head.strip() and tail.strip():
            return head.strip(), tail.strip()
    return title.strip(), ""


def _font(face: Face | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if face is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(str(face.path), size=size, index=face.index)


def _units(text: str) -> list[str]:
    """Breakable units: one CJK character each, whole words for Latin runs."""
    units: list[str] = []
    for char in text:
        latin = char.isascii() and not char.isspace()
        if latin and units and units[-1][-1:].isascii() and not units[-1][-1:].isspace():
            units[-1] += char
        else:
            units.append(char)
    return units


def wrap(text: str, measure, limit: float) -> list[str]:
    """Greedy line breaking by `measure(str) -> float` within `limit`, honouring the CJK prohibitions."""
    lines: list[str] = []
    line = ""
    for unit in _units(text):
        if line and measure((line + unit).rstrip()) > limit and unit[0] not in NO_LINE_START:
            if line[-1] in NO_LINE_END and len(line) > 1:  # carry an opening bracket to the next line
                lines.append(line[:-1].rstrip())
                line = line[-1]
            else:
                lines.append(line.rstrip())
                line = ""
        line += unit.lstrip() if not line else unit
    if line.strip():
        lines.append(line.rstrip())
    return lines


def balanced(text: str, measure, limit: float) -> list[str]:
    """As few lines as greedy wrapping needs, but of even lengths (no lone last character)."""
    lines = wrap(text, measure, limit)
    if len(lines) < 2:
        return lines
    low, high = limit / len(lines), limit
    for _ in range(12):
        middle = (low + high) / 2
        if len(wrap(text, measure, middle)) > len(lines):
            low = middle
        else:
            high = middle
    return wrap(text, measure, high)


def _fit(text: str, face: Face | None, start: int, limit: float, max_lines: int, direction: str | None = None):
    """The largest size from `start` down at which `text` fits in `max_lines` lines of `limit`."""
    size = start
    while True:
        font = _font(face, size)

        def measure(s: str, font=font) -> float:
            return font.getlength(s, direction=direction) if direction else font.getlength(s)

        lines = balanced(text, measure, limit)
        if len(lines) <= max_lines or size <= 24:
            return font, lines, size
        size = int(size * 0.9)


def render(text: CoverText, heading: Face | None, body: Face | None, *, vertical: bool = False,
           palette: Palette | None = None, size: tuple[int, int] = SIZE, max_bytes: int = MAX_BYTES) -> bytes:
    palette = palette or Palette()
    image = Image.new("RGB", size, palette.background)
    draw = ImageDraw.Draw(image)
    width, height = size
    inset = width // 20
    # A thin frame: the cover reads as a cover even as a grey thumbnail in a library grid.
    draw.rectangle([inset, inset, width - inset, height - inset], outline=palette.accent, width=max(3, width // 400))
    if engine(vertical) == "raqm":
        _vertical(draw, text, heading, body, palette, size)
    else:
        _horizontal(draw, text, heading, body, palette, size)
    return _jpeg(image, max_bytes)


def engine(vertical: bool) -> str:
    """How the cover's text is laid out: columns need Pillow's raqm layout (else it is set horizontally)."""
    return "raqm" if vertical and features.check("raqm") else "basic"


def _centered(draw: ImageDraw.ImageDraw, lines: list[str], font, y: float, width: int, fill: str,
              spacing: float = 1.25) -> float:
    step = font.size * spacing
    for line in lines:
        draw.text((width / 2, y), line, font=font, fill=fill, anchor="mt")
        y += step
    return y


def _horizontal(draw, text: CoverText, heading, body, palette: Palette, size: tuple[int, int]) -> None:
    width, height = size
    limit = width * 0.76
    main, tail = split_title(text.title)
    y = height * 0.22
    font, lines, _ = _fit(main, heading, width // 8, limit, 3)
    y = _centered(draw, lines, font, y, width, palette.ink, 1.2)
    if tail:
        font, lines, _ = _fit(tail, heading, width // 18, limit, 3)
        y = _centered(draw, lines, font, y + width * 0.03, width, palette.ink)
    y += width * 0.05
    rule = width * 0.08
    draw.rectangle([width / 2 - rule, y, width / 2 + rule, y + max(4, width // 200)], fill=palette.accent)
    y += width * 0.07
    if text.subtitle:
        font, lines, _ = _fit(text.subtitle, body, width // 26, limit, 3)
        _centered(draw, lines, font, y, width, palette.muted)
    bottom = height * 0.78
    for value, scale in ((text.dates, 32), (text.count, 32), (text.editor, 30)):
        if value:
            font, lines, _ = _fit(value, body, width // scale, limit, 2)
            bottom = _centered(draw, lines, font, bottom, width, palette.muted, 1.5)


def _vertical(draw, text: CoverText, heading, body, palette: Palette, size: tuple[int, int]) -> None:
    """Columns from the right, as a vertical book's cover is read; the dates and count stay horizontal at
    the foot (numbers in a vertical line would need tate-chu-yoko, which a cover does not need)."""
    width, height = size
    main, tail = split_title(text.title)
    column_limit = height * 0.62
    x = width * 0.78
    top = height * 0.12
    for value, face, start, fill in ((main, heading, width // 7, palette.ink),
                                     (tail, heading, width // 16, palette.ink),
                                     (text.subtitle, body, width // 24, palette.muted)):
        if not value:
            continue
        font, lines, font_size = _fit(value, face, start, column_limit, 2, direction="ttb")
        for line in lines:
            draw.text((x, top), line, font=font, fill=fill, direction="ttb", anchor="mt")
            x -= font_size * 1.35
        x -= font_size * 0.4
    stamp = width * 0.05
    draw.rectangle([x - stamp / 2, top, x + stamp / 2, top + stamp], fill=palette.accent)
    bottom, limit = height * 0.80, width * 0.76
    for value, scale in ((text.dates, 32), (text.count, 32), (text.editor, 30)):
        if value:
            font, lines, _ = _fit(value, body, width // scale, limit, 2)
            bottom = _centered(draw, lines, font, bottom, width, palette.muted, 1.5)


def _jpeg(image: Image.Image, max_bytes: int) -> bytes:
    data = b""
    for quality in (90, 85, 80, 72, 64, 55, 45):
        buffer = io.BytesIO()
        # No EXIF, no timestamps: the same cover gives the same bytes.
        image.save(buffer, "JPEG", quality=quality, optimize=True, progressive=False)
        data = buffer.getvalue()
        if len(data) <= max_bytes:
            break
    return data
