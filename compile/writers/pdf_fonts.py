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
import time
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
    embedded = {objgen: hb.Face(members[0].program.read_bytes()) for objgen, members in group.programs().items()}
    face = _original(group, embedded)
    gids = {0} | {g for m in group.members for g in m.gids if g < face.glyph_count}  # beyond: WeasyPrint's .notdef
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
    # WeasyPrint keeps glyph ids 0..max(used): a longer program would hold glyphs no /W accounts for.
    if program.glyph_count != min(max(cids) + 1, face.glyph_count):
        return f"{program.glyph_count} glyphs, /W reaches {max(cids)}"
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
