"""One embedded font program per face in a merged PDF (the last step of chunked PDFs, before saving).

Every chunk PDF embeds its own subset of each face it uses, and a CJK subset is big even for a few glyphs
(WeasyPrint keeps glyph ids, so tables span the face's ~65,000 glyphs): 47 chunks made a 300-article book
~19 times the one-pass size. WeasyPrint writes Type0 fonts whose CIDs are glyph ids (CIDToGIDMap
/Identity) with a /W entry for every glyph drawn, so one subset of the original face holding the union of
the glyphs, ids retained, can serve every font dictionary of that face: each keeps its own /W (the widths
the text was laid out with) and only its FontFile points at the shared program.

Correctness first: a face is shared only when its original file is found (fontconfig, by family) and
matches each embedded program (same units per em; same advances and outline boxes on a sample of the glyphs
used), and each program holds no glyph beyond its /W. Otherwise the face keeps its programs and the log
says why.
"""

from __future__ import annotations

import logging
import sys
import time
from array import array
from dataclasses import dataclass, field

import pikepdf

from compile import fonts

log = logging.getLogger("anthology")

try:  # HarfBuzz's subsetter: ~0.05 s for a CJK face, where fontTools takes ~15 s
    import uharfbuzz as hb
except ImportError:  # pragma: no cover - a declared dependency; without it the PDF is only bigger
    hb = None

# What WeasyPrint 70 drops from its subsets (pdf/fonts.py, Font._harfbuzz_subset), besides HarfBuzz's defaults.
DROP_TABLES = (b"BASE", b"DSIG", b"EBDT", b"EBLC", b"EBSC", b"GPOS", b"GSUB", b"JSTF", b"LTSH", b"PCLT", b"SVG ")
SAMPLE = 16  # glyphs per embedded program compared with the original face


class Unshareable(Exception):
    """Why a face keeps its per-chunk programs."""


@dataclass
class Member:
    """One CIDFont of a face: its descriptor, its embedded program and the glyph ids its /W lists."""

    descriptor: pikepdf.Dictionary
    program: pikepdf.Stream
    gids: set[int]
    notdef_outline: bool  # WeasyPrint drew .notdef for characters the face lacks (a custom /Encoding)


@dataclass
class Group:
    family: str
    name: str  # BaseFont without the subset tag, e.g. Noto-Serif-CJK-SC-Bold
    key: str  # /FontFile2 (TrueType) or /FontFile3 (OpenType CFF)
    members: list[Member] = field(default_factory=list)

    def programs(self) -> dict[tuple[int, int], list[Member]]:
        by_program: dict[tuple[int, int], list[Member]] = {}
        for member in self.members:
            by_program.setdefault(member.program.objgen, []).append(member)
        return by_program


def share(pdf: pikepdf.Pdf) -> dict:
    """Point every font of a face at one union subset; returns what it did (for the log and the tests)."""
    started = time.perf_counter()
    done = {"faces": 0, "programs_before": 0, "programs_after": 0, "kept": {}}
    for group in _groups(pdf):
        programs = len(group.programs())
        done["programs_before"] += programs
        if programs < 2:
            done["programs_after"] += programs
            continue
        try:
            data = union_subset(group)
        except Unshareable as why:
            log.info("pdf fonts: %s keeps its %d programs: %s", group.name, programs, why)
            done["kept"][group.name] = str(why)
            done["programs_after"] += programs
            continue
        stream = pdf.make_stream(data)
        if group.key == "/FontFile3":
            stream.Subtype = pikepdf.Name.OpenType
        else:
            stream.Length1 = len(data)
        for member in group.members:
            member.descriptor[group.key] = stream
        done["faces"] += 1
        done["programs_after"] += 1
    done["seconds"] = time.perf_counter() - started
    log.info("pdf fonts: %d programs -> %d, %.2f s", done["programs_before"], done["programs_after"], done["seconds"])
    return done


def _groups(pdf: pikepdf.Pdf) -> list[Group]:
    """The embedded Type0 fonts, by face: (family, name without the subset tag, kind of font file)."""
    groups: dict[tuple, Group] = {}
    seen: set[tuple[int, int]] = set()
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Dictionary) or obj.get("/Subtype") != "/Type0" or obj.get("/Type") != "/Font":
            continue
        cidfont = obj.DescendantFonts[0]
        descriptor = cidfont.get("/FontDescriptor")
        if descriptor is None or descriptor.objgen in seen or "/W" not in cidfont:
            continue
        key = next((k for k in ("/FontFile2", "/FontFile3") if k in descriptor), None)
        # Only what WeasyPrint writes: an sfnt (not a bare CFF), CIDs = glyph ids, no PDF/A-1 CIDSet to keep true.
        if key is None or (key == "/FontFile3" and descriptor[key].get("/Subtype") != "/OpenType") \
                or cidfont.get("/CIDToGIDMap") != "/Identity" or "/CIDSet" in descriptor:
            continue
        seen.add(descriptor.objgen)
        name = str(obj.BaseFont)[1:]
        tag, plus, rest = name.partition("+")
        name = rest if plus and len(tag) == 6 and tag.isupper() else name
        family = str(descriptor.get("/FontFamily", ""))
        group = groups.setdefault((family, name, key), Group(family, name, key))
        group.members.append(Member(descriptor, descriptor[key], set(widths(cidfont.W)),
                                    isinstance(obj.get("/Encoding"), pikepdf.Stream)))
    return list(groups.values())


def widths(array: pikepdf.Array) -> dict[int, float]:
    """CID -> width from a /W array, in both its forms: `c [w1 w2 ...]` and `c_first c_last w`."""
    found: dict[int, float] = {}
    items = list(array)
    i = 0
    while i < len(items):
        first = int(items[i])
        if isinstance(items[i + 1], pikepdf.Array):
            found.update((first + k, float(w)) for k, w in enumerate(items[i + 1]))
            i += 2
        else:
            found.update((cid, float(items[i + 2])) for cid in range(first, int(items[i + 1]) + 1))
            i += 3
    return found


def union_subset(group: Group) -> bytes:
    """One subset of the group's original face holding every glyph its members use, glyph ids retained."""
    if hb is None:
        raise Unshareable("uharfbuzz is not installed")
    programs = {objgen: members[0].program.read_bytes() for objgen, members in group.programs().items()}
    face = _original(group, {objgen: hb.Face(data) for objgen, data in programs.items()})
    gids = {0} | {g for m in group.members for g in m.gids if g < face.glyph_count}  # beyond: WeasyPrint's .notdef
    # A program may hold glyphs no /W lists (HarfBuzz's closure adds a few: vertical and alternate forms, and a
    # page's resources may name only one of WeasyPrint's font objects of a face): keep every glyph that has an
    # outline in any program. Passing the growing set keeps this to one sum per program, as they repeat.
    for data in programs.values():
        gids |= outlined(data, gids)
    data = _subset(face, gids, any(m.notdef_outline for m in group.members))
    if hb.Face(data).glyph_count != max(gids) + 1:
        raise Unshareable(f"the union subset has {hb.Face(data).glyph_count} glyphs, not {max(gids) + 1}")
    return data


def _original(group: Group, embedded: dict) -> hb.Face:
    """The installed face every embedded program was cut from, or Unshareable."""
    kind = "otf" if group.key == "/FontFile3" else "ttf"
    candidates = [f for f in fonts.family_faces(group.family) if f.kind == kind]
    if not candidates:
        raise Unshareable(f"no installed {kind} face of the family {group.family!r}")
    reasons = []
    for candidate in candidates:
        face = hb.Face(hb.Blob.from_file_path(str(candidate.path)), candidate.index)
        problem = next(filter(None, (_mismatch(face, embedded[objgen], members)
                                     for objgen, members in group.programs().items())), "")
        if not problem:
            return face
        reasons.append(f"{candidate.path.name}:{candidate.index}: {problem}")
    raise Unshareable(f"no installed face of {group.family!r} matches the embedded programs ({'; '.join(reasons)})")


def _mismatch(face: hb.Face, program: hb.Face, members: list[Member]) -> str:
    """Why `program` is not a glyph-id-retaining subset of `face` holding exactly the glyphs of its /W ('' if it is)."""
    cids = set().union(*(m.gids for m in members))
    if not cids:
        return "an empty /W"
    if program.upem != face.upem:
        return f"units per em {program.upem} != {face.upem}"
    if program.glyph_count > face.glyph_count:
        return f"{program.glyph_count} glyphs, the face has {face.glyph_count}"
    used = sorted(g for g in cids if 0 < g < face.glyph_count)
    mine, theirs = hb.Font(program), hb.Font(face)
    for gid in used[::max(1, len(used) // SAMPLE)]:
        if mine.get_glyph_h_advance(gid) != theirs.get_glyph_h_advance(gid) or \
                _box(mine, gid) != _box(theirs, gid):
            return f"glyph {gid} differs"
    return ""


def _box(font: hb.Font, gid: int) -> tuple | None:
    extents = font.get_glyph_extents(gid)
    return extents and (extents.x_bearing, extents.y_bearing, extents.width, extents.height)


def _subset(face: hb.Face, gids: set[int], notdef_outline: bool) -> bytes:
    """HarfBuzz subset in WeasyPrint's two passes and flags: keep the glyphs (ids retained), then cut the
    empty tail after the last one and the hints (WeasyPrint's default `hinting=False`)."""
    flags = hb.SubsetFlags.PASSTHROUGH_UNRECOGNIZED | hb.SubsetFlags.DESUBROUTINIZE
    if notdef_outline:
        flags |= hb.SubsetFlags.NOTDEF_OUTLINE
    subset = hb.SubsetInput()
    subset.glyph_set.update(sorted(gids))
    subset.drop_table_tag_set.update(int.from_bytes(tag, "big") for tag in DROP_TABLES)
    subset.flags = flags | hb.SubsetFlags.RETAIN_GIDS
    kept = hb.subset(face, subset)
    if kept is None:
        raise Unshareable("HarfBuzz could not subset the face")
    subset.glyph_set.update(range(max(gids) + 1))
    subset.flags = flags | hb.SubsetFlags.NO_HINTING
    trimmed = hb.subset(kept, subset)
    if trimmed is None:
        raise Unshareable("HarfBuzz could not subset the face")
    return trimmed.blob.data


# ------------------------------------------------------------------------------------------------ outlines

def outlined(data: bytes, known: set[int]) -> set[int]:
    """The glyphs outside `known` that have an outline in the sfnt `data` (CFF or glyf), or Unshareable.

    Glyph-id-retaining subsets keep a minimal stand-in for every dropped glyph (a 1-byte CFF `endchar`, an
    empty glyf entry). Usually the known glyphs account for all the outline data and one sum shows it; only
    otherwise is every glyph looked at."""
    offsets, empty = _outline_offsets(data)
    count = len(offsets) - 1
    known = {g for g in known if g < count}
    if sum(offsets[g + 1] - offsets[g] for g in known) + (count - len(known)) * empty == offsets[-1] - offsets[0]:
        return set()
    return {g for g, (a, b) in enumerate(zip(offsets[:-1], offsets[1:], strict=True)) if b - a > empty} - known


def _outline_offsets(data: bytes) -> tuple[array, int]:
    """Where each glyph's outline data starts (one more for the end; in the table's units) and the length
    of a dropped glyph's."""
    tables = {data[12 + 16 * k:16 + 16 * k]: (_u(data, 20 + 16 * k, 4), _u(data, 24 + 16 * k, 4))
              for k in range(_u(data, 4, 2))}
    if b"CFF " in tables:
        start = tables[b"CFF "][0]
        pos = _index_end(data, start + data[start + 2])  # header, then the Name INDEX
        top = _index_item(data, pos, 0)  # Top DICT
        pos = start + _dict_operand(data[top[0]:top[1]], 17)  # CharStrings INDEX
        return _offsets(data[pos + 3:], data[pos + 2], _u(data, pos, 2) + 1), 1
    if b"glyf" in tables and b"loca" in tables and b"head" in tables:
        size = 4 if _u(data, tables[b"head"][0] + 50, 2) else 2  # indexToLocFormat (short ones are halved)
        return _offsets(data[tables[b"loca"][0]:], size, tables[b"loca"][1] // size), 0
    raise Unshareable("the embedded program has neither CFF nor glyf outlines")


def _offsets(data: bytes, size: int, count: int) -> array:
    """`count` big-endian unsigned integers of `size` bytes, decoded in C (a CJK font has ~65,000)."""
    raw = data[:count * size]
    if size == 1:
        return array("B", raw)
    if size == 3:  # widen to 4 bytes with slice assignments
        wide = bytearray(4 * count)
        for k in range(3):
            wide[k + 1::4] = raw[k::3]
        raw, size = bytes(wide), 4
    values = array("H" if size == 2 else "I", raw)
    if sys.byteorder == "little":
        values.byteswap()
    return values


def _u(data: bytes, pos: int, size: int) -> int:
    return int.from_bytes(data[pos:pos + size], "big")


def _index_item(data: bytes, pos: int, item: int) -> tuple[int, int]:
    """Start and end of a CFF INDEX's item."""
    size = data[pos + 2]
    base = pos + 3 + (_u(data, pos, 2) + 1) * size - 1
    return base + _u(data, pos + 3 + item * size, size), base + _u(data, pos + 3 + (item + 1) * size, size)


def _index_end(data: bytes, pos: int) -> int:
    count = _u(data, pos, 2)
    return pos + 2 if count == 0 else _index_item(data, pos, count - 1)[1]


def _dict_operand(data: bytes, operator: int) -> int:
    """The (last) operand of a one-byte operator in a CFF DICT."""
    operands, i = [], 0
    while i < len(data):
        b0 = data[i]
        if b0 == operator:
            return int(operands[-1])
        if b0 <= 21:
            operands, i = [], i + (2 if b0 == 12 else 1)
        elif b0 == 28:
            operands.append(int.from_bytes(data[i + 1:i + 3], "big", signed=True))
            i += 3
        elif b0 == 29:
            operands.append(int.from_bytes(data[i + 1:i + 5], "big", signed=True))
            i += 5
        elif b0 == 30:  # a real: nibbles up to an 0xf; never the CharStrings offset
            i += 1
            while data[i] & 0x0F != 0x0F and data[i] >> 4 != 0x0F:
                i += 1
            operands.append(0)
            i += 1
        elif b0 <= 246:
            operands.append(b0 - 139)
            i += 1
        elif b0 <= 250:
            operands.append((b0 - 247) * 256 + data[i + 1] + 108)
            i += 2
        else:
            operands.append(-(b0 - 251) * 256 - data[i + 1] - 108)
            i += 2
    raise Unshareable("the CFF table has no CharStrings")
