"""Chinese typography measured on a rendered PDF, from the glyph positions pdfplumber reads.

Six figures, each computed over every page:
- prohibitions: lines that start with a closing mark (。，」…) or end with an opening one (「（“…);
- flush: non-final lines of justified body paragraphs whose last glyph ends within 0.1 em of the measure;
- pairs: adjacent CJK punctuation marks (。」 ，“ ）。) of Simplified text (SC faces) set in at most 1.5 em
  (Traditional faces centre 。，、；：？！, which are not halved: compile/transforms/typeset.py CENTRED);
- spaced: CJK–Latin/digit boundaries (no space character between) with a gap of 1/8–1/4 em;
- lone endings: paragraphs whose last line is one Han character (with the punctuation after it);
- short heads: headlines (bold lines at body size or larger) of two or more lines whose last line holds at most
  two characters (punctuation not counted).

Run as a script for a quick look: `python tests/pagemetrics.py file.pdf [measure_pt]`.
"""

from __future__ import annotations

import re
import statistics
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pdfplumber

# clreq 3.1.7: characters not allowed at the start / end of a line.
NO_START = set("。．，、；：？！）］｝〕〉》」』】〙〗〟’”｠»ヽヾーァィゥェォッャュョヮヵヶぁぃぅぇぉっゃゅょゎゕゖㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ々〻‐゠–〜？！‼⁇⁈⁉・:;,.?!)]}")  # noqa: E501
NO_END = set("（［｛〔〈《「『【〘〖〝‘“｟«([{")
# Full-width punctuation that takes one em and can be compressed when two meet (not the 2-em dash/ellipsis).
CJK_PUNCT = set("。．，、；：？！（）［］｛｝〔〕〈〉《》「」『』【】〖〗‘’“”")
CLOSING_MARKS = set("。．，、；：？！）］｝〕〉》」』】〗’”")
CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
FORCED_EM = 4
LATIN_RE = re.compile(r"[A-Za-z0-9\u00c0-\u024f]")


@dataclass
class Line:
    page: int
    top: float
    size: float
    chars: list[dict] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(c["text"] for c in self.chars)

    @property
    def glyphs(self) -> list[dict]:
        """Chars without leading/trailing spaces."""
        chars = self.chars
        start, end = 0, len(chars)
        while start < end and not chars[start]["text"].strip():
            start += 1
        while end > start and not chars[end - 1]["text"].strip():
            end -= 1
        return chars[start:end]

    @property
    def family(self) -> str:
        """The first glyph's font without subset prefix and weight: 'Noto-Serif-CJK-SC'."""
        name = self.glyphs[0]["fontname"].split("+")[-1]
        return re.sub(r"-(Bold|Black|Medium|Light|Regular)$", "", name)

    @property
    def x0(self) -> float:
        return self.glyphs[0]["x0"]

    @property
    def x1(self) -> float:
        return self.glyphs[-1]["x1"]


def page_lines(page, page_no: int) -> list[Line]:
    """Group upright chars into lines: same baseline and size, sorted left to right, split at wide gaps
    (a left and a right running head share a baseline)."""
    rows: dict[tuple, list[dict]] = {}
    for char in page.chars:
        if not char.get("upright", True):
            continue
        key = (round(char["bottom"] * 2) / 2, round(char["size"], 1))
        rows.setdefault(key, []).append(char)
    lines = []
    for (_, size), chars in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        chars.sort(key=lambda c: c["x0"])
        current = Line(page_no, chars[0]["top"], size, [chars[0]])
        for char in chars[1:]:
            if char["x0"] - current.chars[-1]["x1"] > 3 * size:
                lines.append(current)
                current = Line(page_no, char["top"], size, [])
            current.chars.append(char)
        lines.append(current)
    return [line for line in lines if line.glyphs]


def read_lines(pdf_path: Path) -> list[list[Line]]:
    with pdfplumber.open(pdf_path) as pdf:
        return [page_lines(page, n) for n, page in enumerate(pdf.pages)]


@dataclass
class Figures:
    violations: list[str] = field(default_factory=list)
    flush: int = 0
    forced: int = 0
    nonfinal: int = 0
    ragged: list[str] = field(default_factory=list)
    pairs_ok: int = 0
    pairs: int = 0
    wide_pairs: list[str] = field(default_factory=list)
    spaced: int = 0
    boundaries: int = 0
    unspaced: list[str] = field(default_factory=list)
    endings: int = 0
    lone_endings: list[str] = field(default_factory=list)
    heads: int = 0
    short_heads: list[str] = field(default_factory=list)

    @staticmethod
    def ratio(part: int, whole: int) -> float:
        return part / whole if whole else 1.0

    @property
    def flush_ratio(self) -> float:
        return self.ratio(self.flush, self.nonfinal)

    @property
    def pair_ratio(self) -> float:
        return self.ratio(self.pairs_ok, self.pairs)

    @property
    def spaced_ratio(self) -> float:
        return self.ratio(self.spaced, self.boundaries)

    @property
    def lone_ratio(self) -> float:
        """Paragraph ends on one lone Han character, as a share of paragraph ends (0 is the goal)."""
        return len(self.lone_endings) / self.endings if self.endings else 0.0

    def summary(self) -> str:
        return (f"prohibition violations {len(self.violations)}; flush lines {self.flush}/{self.nonfinal} "
                f"({self.flush_ratio:.1%}, {self.forced} forced breaks apart); "
                f"punctuation pairs <= 1.5 em {self.pairs_ok}/{self.pairs} "
                f"({self.pair_ratio:.1%}); CJK-Latin boundaries spaced {self.spaced}/{self.boundaries} "
                f"({self.spaced_ratio:.1%}); lone endings {len(self.lone_endings)}/{self.endings} "
                f"({self.lone_ratio:.1%}); short headline ends {len(self.short_heads)}/{self.heads}")


def body_style(pages: list[list[Line]]) -> tuple[float, str]:
    """The most common (size, font family) among lines: the body text."""
    styles = Counter((line.size, line.family) for lines in pages for line in lines for _ in line.chars)
    return styles.most_common(1)[0][0]


def measure(pdf_path: Path, measure_pt: float | None = None) -> Figures:
    """All four figures for one PDF. `measure_pt`: the text block width; by default the widest body line."""
    pages = read_lines(pdf_path)
    size, family = body_style(pages)
    figures = Figures()
    for lines in pages:
        for line in lines:
            _prohibitions(line, figures)
            _pairs(line, figures)
            _boundaries(line, figures)
        body = [line for line in lines if abs(line.size - size) < 0.05 and line.family == family]
        _flush(body, size, measure_pt, figures)
        _endings(body, size, measure_pt, figures)
        left = _block(body, size, measure_pt)[0] if body else None
        _heads([line for line in lines if line.size >= size - 0.05 and _bold(line)], left, figures)
    return figures


def _where(line: Line) -> str:
    return f"p{line.page + 1}: {line.text.strip()}"


def _prohibitions(line: Line, figures: Figures) -> None:
    glyphs = line.glyphs
    # A line that is only punctuation (e.g. a lone "）" as a table cell) is not a break decision.
    words = any(CJK_RE.match(c["text"]) or LATIN_RE.match(c["text"]) for c in glyphs)
    if words and (glyphs[0]["text"] in NO_START or glyphs[-1]["text"] in NO_END):
        figures.violations.append(_where(line))


def _pairs(line: Line, figures: Figures) -> None:
    """The set width of a pair runs from its pen position to the end of the second mark's box.

    pdfplumber's x0 is where a glyph is drawn; a centred mark set half-width (Traditional fonts) is drawn
    a quarter em before its pen position, so the pen is taken as the end of the preceding glyph when there is one,
    plus the half of the line's inter-ideograph justification gap that belongs to that glyph.
    """
    glyphs = line.glyphs
    gaps = [b["x0"] - a["x1"] for a, b in zip(glyphs, glyphs[1:], strict=False)
            if CJK_RE.match(a["text"]) and CJK_RE.match(b["text"])]
    half_gap = statistics.median(gaps) / 2 if gaps else 0
    for i, (a, b) in enumerate(zip(glyphs, glyphs[1:], strict=False)):
        if a["text"] in CJK_PUNCT and b["text"] in CJK_PUNCT and "CJK-SC" in a["fontname"] and \
                "CJK-SC" in b["fontname"]:
            figures.pairs += 1
            before = glyphs[i - 1] if i else None
            pen = a["x0"]
            if before is not None:
                pen = max(pen, before["x1"] + (half_gap if CJK_RE.match(before["text"]) else 0))
            width = (b["x1"] - pen) / a["size"]
            if width <= 1.5 + 0.05:
                figures.pairs_ok += 1
            else:
                figures.wide_pairs.append(f"{a['text']}{b['text']} {width:.2f} em in {_where(line)}")


def _boundaries(line: Line, figures: Figures) -> None:
    glyphs = line.glyphs
    for a, b in zip(glyphs, glyphs[1:], strict=False):
        ta, tb = a["text"], b["text"]
        gap = (b["x0"] - a["x1"]) / a["size"]
        if gap > 0.5:  # not neighbours in running text (e.g. two inline items set apart by a margin)
            continue
        if (CJK_RE.match(ta) and LATIN_RE.match(tb)) or (LATIN_RE.match(ta) and CJK_RE.match(tb)):
            figures.boundaries += 1
            if 0.125 - 0.01 <= gap <= 0.25 + 0.01:
                figures.spaced += 1
            else:
                figures.unspaced.append(f"{ta}{tb} gap {gap:.3f} em in {_where(line)}")


def _flush(body: list[Line], size: float, measure_pt: float | None, figures: Figures) -> None:
    """Body lines that continue a paragraph on the next line must reach the right edge of the text block.

    A line is non-final when the next body line follows at exactly one line pitch and starts at the block's left
    edge (a new paragraph would be indented, or spaced, or come after a heading). A line that stops more than
    FORCED_EM short is a forced break (<br>): no justifying engine leaves that much room, so it is counted
    apart, in `forced`, not as a justified line.
    """
    if len(body) < 2:
        return
    left, right, pitch = _block(body, size, measure_pt)
    for a, b in zip(body, body[1:], strict=False):
        starts_in_block = abs(a.x0 - left) < 0.5 or abs(a.x0 - (left + 2 * size)) < 0.5
        if not (starts_in_block and _continues(a, b, left, pitch)):
            continue
        if right - a.x1 > FORCED_EM * size:
            figures.forced += 1
            continue
        figures.nonfinal += 1
        if abs(a.x1 - right) <= 0.1 * size or _halved_at_end(a, right, size):
            figures.flush += 1
        else:
            figures.ragged.append(f"{(right - a.x1) / size:+.2f} em: {_where(a)}")


def _halved_at_end(line: Line, right: float, size: float) -> bool:
    """A line that ends with a closing mark set half-width (`，` of `，“` when the line breaks between them): its
    box, as pdfplumber reads it from the font, is the full em, but only its first half is set, up to the edge."""
    return line.glyphs[-1]["text"] in CLOSING_MARKS and abs(line.x1 - 0.5 * size - right) <= 0.1 * size


def _block(body: list[Line], size: float, measure_pt: float | None) -> tuple[float, float, float]:
    """(left edge, right edge, line pitch) of a page's text block. The commonest start is the left edge, or the
    paragraph indent on a page of short paragraphs: then the edge is 2 em to its left."""
    starts = Counter(round(line.x0, 1) for line in body)
    left = starts.most_common(1)[0][0]
    if any(abs(x - (left - 2 * size)) < 0.5 for x in starts):
        left = next(x for x in starts if abs(x - (left - 2 * size)) < 0.5)
    pitches = [round(b.top - a.top, 1) for a, b in zip(body, body[1:], strict=False)]
    pitch = statistics.mode(pitches) if pitches else 0
    right = left + measure_pt if measure_pt else max(line.x1 for line in body if abs(line.x0 - left) < 0.5)
    return left, right, pitch


def _continues(a: Line, b: Line, left: float, pitch: float) -> bool:
    """`b` carries on `a`'s paragraph: one line pitch below it, at the block's left edge (not indented)."""
    return abs((b.top - a.top) - pitch) < 0.5 and abs(b.x0 - left) < 0.5


LONE_END = re.compile(rf"^{CJK_RE.pattern}[{re.escape(''.join(NO_START))}]*$")


def _endings(body: list[Line], size: float, measure_pt: float | None, figures: Figures) -> None:
    """Paragraph ends, and those on one lone Han character. A page's last line that fills the measure carries
    on overleaf (not an end); a page's first line at the left edge ends or carries on a paragraph from the page
    before, so a lone character there counts."""
    if not body:
        return
    left, right, pitch = _block(body, size, measure_pt)
    for i, line in enumerate(body):
        in_block = abs(line.x0 - left) < 0.5 or abs(line.x0 - (left + 2 * size)) < 0.5
        nxt = body[i + 1] if i + 1 < len(body) else None
        if not in_block or (nxt is not None and _continues(line, nxt, left, pitch)):
            continue
        if nxt is None and right - line.x1 <= 0.1 * size:
            continue
        figures.endings += 1
        carried = i == 0 or _continues(body[i - 1], line, left, pitch)
        text = "".join(c["text"] for c in line.glyphs)
        if carried and abs(line.x0 - left) < 0.5 and LONE_END.match(text):
            figures.lone_endings.append(f"{text} in {_where(body[i - 1] if i else line)}")


def _bold(line: Line) -> bool:
    return all("Bold" in c["fontname"] or not c["text"].strip() for c in line.chars)


def _heads(lines: list[Line], left: float | None, figures: Figures) -> None:
    """Headlines: runs of bold lines of one size and face, one line pitch apart, not indented as a paragraph
    set in bold is; a headline of two lines or more must not end on a line of one or two characters."""
    runs: list[list[Line]] = []
    for line in lines:
        last = runs[-1][-1] if runs else None
        if (last is not None and last.size == line.size and last.glyphs[0]["fontname"] == line.glyphs[0]["fontname"]
                and 0 < line.top - last.top < 2.2 * line.size):
            runs[-1].append(line)
        else:
            runs.append([line])
    for run in runs:
        if left is not None and abs(run[0].x0 - (left + 2 * run[0].size)) < 0.5:
            continue
        figures.heads += 1
        end = [c["text"] for c in run[-1].glyphs if not _punctuation(c["text"])]
        if len(run) > 1 and len(end) <= 2:
            figures.short_heads.append(" / ".join(line.text.strip() for line in run) + f" (p{run[0].page + 1})")


def _punctuation(char: str) -> bool:
    return not char.strip() or unicodedata.category(char)[0] in "PS"


def lone_footers(pdf_path: Path, top: float, bottom: float, footer_pt: float) -> list[int]:
    """Pages (1-based) whose text block, between `top` and `bottom` points from the top, holds nothing but lines
    of the article footer's size (`footer_pt`): a footer left alone by its article."""
    alone = []
    for number, lines in enumerate(read_lines(pdf_path), 1):
        block = [line for line in lines if top <= line.top <= bottom]
        if block and all(line.size <= footer_pt + 0.05 for line in block):
            alone.append(number)
    return alone


if __name__ == "__main__":
    result = measure(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else None)
    print(result.summary())
    for name in ("violations", "ragged", "wide_pairs", "unspaced", "lone_endings", "short_heads"):
        items = getattr(result, name)
        for item in items[:8]:
            print(f"  {name}: {item}")
