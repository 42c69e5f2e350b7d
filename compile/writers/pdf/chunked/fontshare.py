"""One embedded font program per face in a chunked PDF, cut once after the merge.

A chunk that embedded its own subset of each face would pay for it twice: in time (a HarfBuzz subset of a
CJK face costs ~25 ms however few its glyphs, a quarter of a chunk's render) and in size (WeasyPrint keeps
glyph ids, so a CJK subset spans the face's ~65,000 glyphs even for a few: 47 chunks made a 300-article book
~19 times the one-pass size). So chunks are rendered inside `deferred()`: WeasyPrint embeds, for each plain
outline face, a *stub* that names the face (face index, glyph count, units per em, a digest of its `head`
table) and lists the glyphs drawn with it. WeasyPrint writes Type0 fonts whose CIDs are glyph ids
(CIDToGIDMap /Identity), so after the merge `share` cuts one subset of the installed face holding the union
of the glyphs, ids retained, and points every font dictionary of that face at it; each keeps its own /W
(the widths the text was laid out with) and ToUnicode.

Correctness first: the face is found through fontconfig by family and must match the stub exactly, or
`share` raises Deferred and the writer renders the book in one pass. Variable, colour and bitmap faces
(which WeasyPrint rewrites while embedding) and faces that are not installed (a theme's @font-face) are
embedded as usual, one subset per chunk.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from compile.writers.pdf import loading  # noqa: F401 - first: it imports WeasyPrint without running gcc

# isort: split
import pikepdf
from weasyprint.pdf.fonts import Font
from weasyprint.text.ffi import ffi, harfbuzz

from compile import cachekey, fonts
from compile.writers.pdf.weasy import patching
from compile.writers.pdf.weasy.patching import Private

log = logging.getLogger("anthology")

try:  # HarfBuzz's subsetter: ~0.05 s for a CJK face, where fontTools takes ~15 s
    import uharfbuzz as hb
except ImportError:  # pragma: no cover - a declared dependency
    hb = None

# What WeasyPrint 70 drops from its subsets (pdf/fonts.py, Font._harfbuzz_subset), besides HarfBuzz's defaults.
DROP_TABLES = (b"BASE", b"DSIG", b"EBDT", b"EBLC", b"EBSC", b"GPOS", b"GSUB", b"JSTF", b"LTSH", b"PCLT", b"SVG ")
_ORIGINAL_CLEAN = Font.clean
STUB = b"anthology: deferred font program\n"  # after the sfnt tag, so WeasyPrint still tells CFF from TrueType


class Deferred(Exception):
    """A face embedded as a stub cannot be cut after the merge: the PDF must be rendered in one pass."""


def deferred() -> contextlib.AbstractContextManager[bool]:
    """Inside: WeasyPrint embeds a stub for each plain outline face instead of a subset of it (while PATCH is
    active; otherwise chunks embed real subsets, kept as they are)."""
    return patching.installed(PATCH)


def _clean(font, to_unicode, hinting):
    """Font.clean, for chunks: a stub naming an installed face and the glyphs drawn, instead of a subset."""
    if font.bitmap or font.png or font.svg or font.colr or "fvar" in font.tables or not to_unicode:
        return _ORIGINAL_CLEAN(font, to_unicode, hinting)
    blob = harfbuzz.hb_face_reference_table(font.hb_face, harfbuzz.hb_tag_from_string(b"head", 4))
    length = ffi.new("unsigned int *")
    head = bytes(ffi.buffer(harfbuzz.hb_blob_get_data(blob, length), length[0]))
    harfbuzz.hb_blob_destroy(blob)
    kind = "otf" if {"CFF ", "CFF2"} & set(font.tables) else "ttf"
    named = identity(font.index, font.glyph_count, font.upem, head)
    if not any(found == named for _, _, found in _worker_faces(font.family, kind)):
        return _ORIGINAL_CLEAN(font, to_unicode, hinting)  # not an installed face (@font-face): a real subset
    # to_unicode: every glyph drawn with any of WeasyPrint's font objects of this face, some of which
    # no page names (so their /W does not survive the merge).
    stub = {**named, "gids": sorted(to_unicode)}
    font.file_content = (b"OTTO" if kind == "otf" else b"\x00\x01\x00\x00") + STUB + \
        json.dumps(stub, sort_keys=True).encode()
    return None


PATCH = patching.register(patching.Patch(
    "font_stubs",
    without="the same pages; a chunked PDF embeds each font once per chunk (a larger file)",
    replaces={Private(Font, "clean", "self, to_unicode, hinting"): _clean},
    uses=tuple(Private(Font, name) for name in ("bitmap", "png", "svg", "colr", "tables", "hb_face", "index",
                                                "glyph_count", "upem", "family", "file_content"))))


def identity(index: int, glyphs: int, upem: int, head: bytes) -> dict:
    """What names a face: its place in the file, its glyph count and units per em, its version and checksum
    (a digest of the `head` table)."""
    return {"index": index, "glyphs": glyphs, "upem": upem, "head": hashlib.sha256(head).hexdigest()[:16]}


def installed_faces(family: str, kind: str) -> list[tuple[fonts.Face, hb.Face, dict]]:
    """Each installed face of the family with outlines of that kind (`otf`: CFF, `ttf`), with its identity."""
    found = []
    for candidate in fonts.family_faces(family):
        if candidate.kind == kind:
            face = hb.Face(hb.Blob.from_file_path(str(candidate.path)), candidate.index)
            found.append((candidate, face, identity(candidate.index, face.glyph_count, face.upem,
                                                    face.reference_table("head").data)))
    return found


_worker_faces = functools.lru_cache(maxsize=64)(installed_faces)  # a worker renders many chunks


def stub(data: bytes) -> dict | None:
    """What a deferred program stands for, or None for a real program."""
    return json.loads(data[4 + len(STUB):]) if data[4:4 + len(STUB)] == STUB else None


@dataclass
class Member:
    """One CIDFont of a face, embedded as a stub: its descriptor, what the stub says and the ids its /W lists."""

    descriptor: pikepdf.Object
    stub: dict
    gids: set[int]
    notdef_outline: bool  # WeasyPrint drew .notdef for characters the face lacks (a custom /Encoding)


@dataclass
class Group:
    family: str
    name: str  # BaseFont without the subset tag, e.g. Noto-Serif-CJK-SC-Bold
    key: str  # /FontFile2 (TrueType) or /FontFile3 (OpenType CFF)
    members: list[Member] = field(default_factory=list)


def share(pdf: pikepdf.Pdf, cache_root: Path | None = None) -> dict:
    """Point every font of a face at one union subset; returns what it did (for the log and the tests). The
    subsets are kept under `cache_root`, if given: a rebuild whose text drew no new glyph cuts none."""
    started = time.perf_counter()
    done: dict[str, float] = {"faces": 0, "stubs": 0}
    kept = cachekey.Entries(cache_root / "font-subsets", "font-subset", ".font") if cache_root else None
    for group in _groups(pdf):
        try:
            data = union_subset(group, kept)
        except Deferred as why:
            raise Deferred(f"{group.name}: {why}") from why
        done["stubs"] += len({m.descriptor[group.key].objgen for m in group.members})
        stream = pdf.make_stream(data)
        if group.key == "/FontFile3":
            stream.Subtype = pikepdf.Name.OpenType
        else:
            stream.Length1 = len(data)
        for member in group.members:
            member.descriptor[group.key] = stream
        done["faces"] += 1
    done["seconds"] = time.perf_counter() - started
    log.info("pdf fonts: %d faces cut once for %d chunk fonts, %.2f s", done["faces"], done["stubs"],
             done["seconds"])
    return done


def _groups(pdf: pikepdf.Pdf) -> list[Group]:
    """The Type0 fonts embedded as stubs, by face: (family, name without the subset tag, kind of font file)."""
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
        said = stub(descriptor[key].read_bytes()) if key else None
        if key is None or said is None:
            continue
        if cidfont.get("/CIDToGIDMap") != "/Identity" or "/CIDSet" in descriptor:
            raise Deferred(f"{obj.BaseFont}: not a font whose CIDs are glyph ids")
        seen.add(descriptor.objgen)
        name = str(obj.BaseFont)[1:]
        tag, plus, rest = name.partition("+")
        name = rest if plus and len(tag) == 6 and tag.isupper() else name
        family = str(descriptor.get("/FontFamily", ""))
        group = groups.setdefault((family, name, key), Group(family, name, key))
        group.members.append(Member(descriptor, said, set(widths(cidfont.W)),
                                    isinstance(obj.get("/Encoding"), pikepdf.Stream)))
    return list(groups.values())


def widths(array: pikepdf.Object) -> dict[int, float]:
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


def union_subset(group: Group, kept: cachekey.Entries | None = None) -> bytes:
    """One subset of the group's installed face holding every glyph its members drew, glyph ids retained;
    taken from `kept` when that face's subset of those glyphs was cut before."""
    if hb is None:
        raise Deferred("uharfbuzz is not installed")
    face, found = _original(group)
    drawn = {g for m in group.members for g in (*m.gids, *m.stub["gids"])}
    gids = {0} | {g for g in drawn if g < face.glyph_count}  # beyond: WeasyPrint's stand-ins for missing glyphs
    notdef = any(m.notdef_outline for m in group.members)
    name = cachekey.digest(cachekey.code_version(), hb.__version__, group.key, json.dumps([found, notdef]),
                           array("I", sorted(gids)).tobytes())
    data = kept.get(name) if kept else None
    if data is None:
        data = _subset(face, gids, notdef)
        if kept:
            kept.put(name, data)
    if hb.Face(data).glyph_count != max(gids) + 1:
        raise Deferred(f"the union subset has {hb.Face(data).glyph_count} glyphs, not {max(gids) + 1}")
    return data


def _original(group: Group) -> tuple[hb.Face, dict]:
    """The installed face every stub of the group names, and its identity; or Deferred."""
    kind = "otf" if group.key == "/FontFile3" else "ttf"
    candidates = installed_faces(group.family, kind)
    if not candidates:
        raise Deferred(f"no installed {kind} face of the family {group.family!r}")
    wanted = [{k: v for k, v in m.stub.items() if k != "gids"} for m in group.members]
    for _, face, found in candidates:
        if all(w == found for w in wanted):
            return face, found
    raise Deferred(f"no installed face of {group.family!r} is the one the chunks were laid out with "
                   f"({', '.join(f'{c.path.name}:{c.index}' for c, _, _ in candidates)})")


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
        raise Deferred("HarfBuzz could not subset the face")
    subset.glyph_set.update(range(max(gids) + 1))
    subset.flags = flags | hb.SubsetFlags.NO_HINTING
    trimmed = hb.subset(kept, subset)
    if trimmed is None:
        raise Deferred("HarfBuzz could not subset the face")
    return trimmed.blob.data
