"""The CJK faces a Chromium-printed PDF embeds: subsets of the installed faces, with TrueType outlines.

Chromium (Skia) embeds a face with CFF outlines, such as every Noto CJK face, as a Type 3 font: glyphs as
drawings, unhinted and drawn poorly by some readers, and mapped back to text through the face's cmap, where
one glyph serves two characters (一 U+4E00 and the Kangxi radical ⼀ U+2F00), so that copy and search find
the radical. A subset of the characters the book uses, with its outlines converted to TrueType (quadratic,
within 1/1000 em), is embedded as a CID TrueType font whose text is right. The subset keeps the layout
features vertical text needs (vertical forms, half-width punctuation) and not `locl`: the face is already
the edition's region, and the other regions' forms would double the glyphs to convert.

Converting costs ~2 ms a glyph. Converted glyphs are kept in the cache, per face and sealed (cachekey.py),
so each glyph is converted once on a machine, not once per book.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import struct
from dataclasses import dataclass
from pathlib import Path

import tinycss2
import uharfbuzz as hb
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable
from fontTools.ttLib.tables._g_l_y_f import Glyph

from compile import atomic, cachekey, fonts

# Vertical forms and alternates, proportional and half-width punctuation (what text-spacing-trim uses),
# full-width forms, kerning; HarfBuzz adds the required ones (ccmp, rlig ...).
FEATURES = ["vert", "vrt2", "vkna", "vhal", "vpal", "halt", "palt", "chws", "vchw", "fwid", "hwid", "kern", "vkrn"]
MAX_ERROR = 1.0  # font units (1/1000 em in the Noto CJK faces): how far a quadratic curve may stray
REGIONS = {"SC": "zh-Hans", "TC": "zh-Hant", "HK": "zh-Hant", "JP": "ja", "KR": "ko"}
CACHE_KIND = "quadratic-glyphs"


@dataclass(frozen=True)
class Embedded:
    """One face made for the document: its family and weight as the stylesheet names them, and its file."""

    family: str
    weight: int
    path: Path

    def rule(self) -> str:
        return (f'@font-face {{ font-family: "{self.family}"; font-weight: {self.weight}; '
                f'src: url("{self.path.as_uri()}") format("truetype"); }}')


def families(css: str, languages: set[str], code: bool) -> list[str]:
    """The installed CFF families the stylesheet names (quoted), for the document's languages: a face for a
    region no element is in (SC in a Traditional edition) is not made, nor a monospaced one without code."""
    names = dict.fromkeys(_strings(tinycss2.parse_component_value_list(css, skip_comments=True)))
    chosen = []
    for name in names:
        region = name.rsplit(" ", 1)[-1]
        if region in REGIONS and REGIONS[region] not in languages:
            continue
        if "Mono" in name and not code:
            continue
        face = fonts.find_face(name)
        if face is not None and face.kind == "otf":
            chosen.append(name)
    return chosen


def _strings(tokens) -> list[str]:
    """Every quoted string of a stylesheet's tokens, inside blocks and functions too, in order."""
    found = []
    for token in tokens:
        if token.type == "string":
            found.append(token.value)
        found.extend(_strings(getattr(token, "content", None) or getattr(token, "arguments", None) or []))
    return found


def make(css: str, languages: set[str], code: bool, chars: set[str], folder: Path,
         cache_dir: Path | None) -> list[Embedded]:
    """Every face the stylesheet names for these languages, regular and bold, cut to `chars`, in `folder`."""
    made: list[Embedded] = []
    for family in families(css, languages, code):
        for weight in (400, 700):
            face = fonts.find_face(family, bold=weight == 700)
            if face is None or face.bold != (weight == 700):
                continue  # no bold face: Chromium emboldens the regular one
            path = folder / f"face-{len(made)}.ttf"
            path.write_bytes(truetype(face, chars, cache_dir))
            made.append(Embedded(family, weight, path))
    return made


def truetype(face: fonts.Face, chars: set[str], cache_dir: Path | None = None) -> bytes:
    """`face` cut to `chars` (and the glyphs its layout features reach), with TrueType outlines."""
    request = hb.SubsetInput()
    request.unicode_set.update(fonts.code_points(chars))
    request.layout_feature_tag_set.clear()
    request.layout_feature_tag_set.update(fonts._tag(name) for name in FEATURES)
    request.name_id_set.update(fonts.KEEP_NAME_IDS)
    request.flags = hb.SubsetFlags.NOTDEF_OUTLINE | hb.SubsetFlags.DESUBROUTINIZE
    plan = hb.SubsetPlan(hb.Face(hb.Blob.from_file_path(str(face.path)), face.index), request)
    original = dict(plan.new_to_old_glyph_mapping)
    font = TTFont(io.BytesIO(plan.execute().blob.data), recalcTimestamp=False)
    store = GlyphStore(cache_dir, face)
    order = font.getGlyphOrder()
    drawn = font.getGlyphSet()
    glyphs = {}
    for new, name in enumerate(order):
        data = store.get(original[new])
        if data is None:
            data = _quadratic(drawn[name])
            store.put(original[new], data)
        glyphs[name] = data
    store.save()
    return _with_glyf(font, order, glyphs)


def _quadratic(glyph) -> bytes:
    pen = TTGlyphPen(None)
    glyph.draw(Cu2QuPen(pen, MAX_ERROR, reverse_direction=True))  # CFF runs counter-clockwise, TrueType not
    return pen.glyph().compile(None)


def _with_glyf(font: TTFont, order: list[str], glyphs: dict[str, bytes]) -> bytes:
    """The font with `glyphs` (compiled simple glyphs) as its glyf table in place of its CFF outlines
    (fontTools' otf2ttf, in short). The glyphs stay compiled: the few figures the other tables need are read
    from their headers, ~20 times faster than unpacking and packing them again."""
    font["loca"] = newTable("loca")
    font["glyf"] = glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {name: Glyph(data) for name, data in glyphs.items()}
    font["maxp"] = maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for name in ("maxCompositePoints", "maxCompositeContours", "maxTwilightPoints", "maxStorage",
                 "maxFunctionDefs", "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
                 "maxComponentElements", "maxComponentDepth", "maxPoints", "maxContours"):
        setattr(maxp, name, 0)
    maxp.maxZones = 1
    maxp.numGlyphs = len(order)
    for name, data in glyphs.items():
        contours, x_min = struct.unpack_from(">hh", data) if data else (0, 0)
        points = struct.unpack_from(">H", data, 8 + 2 * contours)[0] + 1 if contours > 0 else 0
        maxp.maxContours, maxp.maxPoints = max(maxp.maxContours, contours), max(maxp.maxPoints, points)
        font["hmtx"][name] = (font["hmtx"][name][0], x_min)  # TrueType's left side bearing is the outline's xMin
    for table in ("CFF ", "VORG"):  # VORG: vertical origins for CFF; vmtx holds them for TrueType
        if table in font:
            del font[table]
    font["post"].formatType = 3.0  # no glyph names
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"
    font.recalcBBoxes = False  # the glyphs' boxes are in their headers; head's is the subset's
    buffer = io.BytesIO()
    font.save(buffer, reorderTables=True)
    return buffer.getvalue()


class GlyphStore:
    """Converted glyphs of one face by glyph id, in one sealed file of the cache; nothing without a cache."""

    def __init__(self, cache_dir: Path | None, face: fonts.Face):
        self.name = hashlib.sha256(f"{fonts.identity(face)}|{MAX_ERROR}|v1".encode()).hexdigest()[:32]
        self.path = cache_dir / f"{self.name}.glyphs" if cache_dir else None
        self.glyphs = self._load()
        self.added = 0

    def get(self, gid: int) -> bytes | None:
        return self.glyphs.get(gid)

    def put(self, gid: int, data: bytes) -> None:
        self.glyphs[gid] = data
        self.added += 1

    def _load(self) -> dict[int, bytes]:
        if self.path is None:
            return {}
        try:
            payload = cachekey.unseal(CACHE_KIND, self.name, cachekey.read_entry(self.path))
        except OSError:
            return {}
        glyphs: dict[int, bytes] = {}
        offset = 0
        with contextlib.suppress(struct.error):  # a short file: what was read is good (the MAC says so)
            while payload is not None and offset < len(payload):
                gid, size = struct.unpack_from(">II", payload, offset)
                glyphs[gid] = payload[offset + 8:offset + 8 + size]
                offset += 8 + size
        return glyphs

    def save(self) -> None:
        """Write the file again when glyphs were added (two builds at once: the last one's file stays)."""
        if self.path is None or not self.added:
            return
        payload = b"".join(struct.pack(">II", gid, len(data)) + data for gid, data in sorted(self.glyphs.items()))
        sealed = cachekey.seal(CACHE_KIND, self.name, payload)
        if sealed is not None:
            with contextlib.suppress(OSError):  # a cache that cannot be written is no reason to fail
                atomic.write_bytes(self.path, sealed)
