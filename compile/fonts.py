"""Fonts: find a face by family name, and subset it to the characters a document uses.

General on purpose (the EPUB writer embeds subsets; the PDF side may share it): nothing here knows about
books. A `Face` is one face of a font file, which may be a TrueType/OpenType collection (the Noto CJK
`.ttc` files hold SC, TC, JP, KR and HK faces). Faces are found through fontconfig (`fc-match`), with a
scan of the usual font folders when fontconfig is absent. Subsetting uses fontTools and keeps the layout
features CJK typesetting relies on (vertical forms, punctuation widths), so a subset sets text exactly as
the full font would, for the characters it keeps.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont, TTLibError

from compile import atomic

try:  # HarfBuzz's subsetter, ~30x faster than fontTools' on CJK faces
    import uharfbuzz as hb
except ImportError:  # pragma: no cover - a declared dependency; fontTools does the same, slowly
    hb = None

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".local/share/fonts",
             Path.home() / ".fonts", Path("/Library/Fonts"), Path("/System/Library/Fonts"))
FONT_SUFFIXES = {".ttf", ".otf", ".ttc", ".otc"}
GENERIC_FAMILIES = {"serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "math", "emoji",
                    "ui-serif", "ui-sans-serif", "ui-monospace", "ui-rounded", "fangsong"}
# fontTools' defaults keep vert/vrt2/locl/kern...; CJK typesetting also uses these: proportional and half-width
# punctuation (palt/halt, vertical vpal/vhal) and contextual half-width spacing (chws/vchw).
CJK_FEATURES = ["halt", "vhal", "palt", "vpal", "chws", "vchw", "fwid", "hwid", "pwid"]
# Naming, copyright, version, licence: keep what identifies the font and its OFL licence.
KEEP_NAME_IDS = [0, 1, 2, 3, 4, 5, 6, 13, 14, 16, 17]


@dataclass(frozen=True)
class Face:
    """One face of a font file: `index` selects the face in a collection (0 for a single font)."""

    path: Path
    index: int
    family: str
    style: str = "Regular"
    weight: int = 400  # CSS weight, from the OS/2 table

    @property
    def bold(self) -> bool:
        return self.weight >= 600

    @property
    def is_collection(self) -> bool:
        return self.path.suffix.lower() in (".ttc", ".otc")

    def font(self, lazy: bool = True) -> TTFont:
        # recalcTimestamp=False: saving must not stamp the clock into `head`, or builds are not reproducible.
        return TTFont(str(self.path), fontNumber=self.index, lazy=lazy, recalcTimestamp=False)

    @property
    def kind(self) -> str:
        """`otf` for CFF outlines, `ttf` for TrueType ones: the file type a subset of this face is."""
        return "otf" if "CFF " in _tables(self.path, self.index) or "CFF2" in _tables(self.path, self.index) else "ttf"


@functools.lru_cache(maxsize=256)
def _tables(path: Path, index: int) -> frozenset[str]:
    return frozenset(TTFont(str(path), fontNumber=index, lazy=True).keys())


@functools.lru_cache(maxsize=256)
def find_face(family: str, bold: bool = False) -> Face | None:
    """The installed face of `family` (exact family name, case-insensitive), or None.

    Generic names (serif, sans-serif ...) are never matched: they are no particular font. When the family has
    no bold face, the regular one is returned (its `weight` tells)."""
    if not family or family.lower() in GENERIC_FAMILIES:
        return None
    return _fc_match(family, bold) or _scan_match(family, bold)


def _fc_match(family: str, bold: bool) -> Face | None:
    if shutil.which("fc-match") is None:
        return None
    pattern = f"{family}:weight={'bold' if bold else 'regular'}"
    try:
        done = subprocess.run(["fc-match", "-f", "%{file}\n%{index}\n%{family}\n%{style}", pattern],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.split("\n")
    if done.returncode != 0 or len(lines) < 4 or not lines[0]:
        return None
    # fc-match always answers with *something*: accept only the family asked for.
    families = {f.strip().lower() for f in lines[2].split(",")}
    if family.lower() not in families:
        return None
    return _face(Path(lines[0]), int(lines[1] or 0), family)


@functools.lru_cache(maxsize=64)
def family_faces(family: str) -> tuple[Face, ...]:
    """Every installed face of `family` (all weights and styles), through fontconfig or the folder scan."""
    if not family or family.lower() in GENERIC_FAMILIES:
        return ()
    if shutil.which("fc-list") is None:
        return tuple(face for face in _installed() if face.family.lower() == family.lower())
    pattern = ":family=" + re.sub(r"([\\\-:,=])", r"\\\1", family)  # fontconfig's pattern escapes
    try:
        done = subprocess.run(["fc-list", "-f", "%{file}\t%{index}\n", pattern], capture_output=True, text=True,
                              timeout=20)
    except (OSError, subprocess.SubprocessError):
        return ()
    found = sorted({(line.split("\t")[0], int(line.split("\t")[1] or 0)) for line in done.stdout.splitlines()
                    if "\t" in line})
    return tuple(face for path, index in found if (face := _face(Path(path), index, family)) is not None)


def _face(path: Path, index: int, family: str) -> Face | None:
    try:
        font = TTFont(str(path), fontNumber=index, lazy=True)
        weight = font["OS/2"].usWeightClass if "OS/2" in font else 400
        style = font["name"].getDebugName(17) or font["name"].getDebugName(2) or "Regular"
    except (OSError, TTLibError, KeyError):
        return None
    return Face(path=path, index=index, family=family, style=style, weight=weight)


def _scan_match(family: str, bold: bool) -> Face | None:
    """Without fontconfig: read the name tables of the fonts in the usual folders."""
    candidates = [face for face in _installed() if face.family.lower() == family.lower()]
    if not candidates:
        return None
    want = 700 if bold else 400
    return min(candidates, key=lambda face: (abs(face.weight - want), str(face.path), face.index))


def fingerprint() -> str:
    """The installed fonts (file, size, modification time), as fontconfig lists them: what a cached layout
    depends on besides its own inputs."""
    files: list[str] = []
    if shutil.which("fc-list") is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            files = subprocess.run(["fc-list", "-f", "%{file}\n"], capture_output=True, text=True,
                                   timeout=20).stdout.splitlines()
    digest = hashlib.sha256()
    for name in sorted(set(files)) or [str(folder) for folder in FONT_DIRS]:
        with contextlib.suppress(OSError):
            stat = Path(name).stat()
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _installed() -> tuple[Face, ...]:
    faces = []
    for folder in FONT_DIRS:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in FONT_SUFFIXES:
                continue
            try:
                count = len(TTCollection(str(path), lazy=True).fonts) if path.suffix.lower() in (".ttc", ".otc") else 1
                for index in range(count):
                    font = TTFont(str(path), fontNumber=index, lazy=True)
                    name = font["name"]
                    family = name.getDebugName(16) or name.getDebugName(1) or ""
                    weight = font["OS/2"].usWeightClass if "OS/2" in font else 400
                    faces.append(Face(path, index, family, name.getDebugName(2) or "Regular", weight))
            except (OSError, TTLibError, KeyError, AssertionError):
                continue  # not a font we can read: the scan goes on
    return tuple(faces)


@functools.lru_cache(maxsize=64)
def cmap(face: Face) -> frozenset[int]:
    """The code points the face has glyphs for: HarfBuzz reads them from the best cmap subtable in ~5 ms, where
    fontTools builds a glyph-name map of a CJK face first (~0.1-0.3 s). The same set either way."""
    if hb is not None:
        return frozenset(hb.Face(hb.Blob.from_file_path(str(face.path)), face.index).unicodes)
    return frozenset(face.font()["cmap"].getBestCmap() or {})


def covers(face: Face, text: str) -> bool:
    return all(ord(c) in cmap(face) for c in set(text) if not c.isspace())


def subset(face: Face, chars: Iterable[str], *, flavor: str | None = None, cache_dir: Path | None = None) -> bytes:
    """The face cut down to `chars` (plus what its layout features need), as font file bytes.

    `flavor`: None for a plain sfnt (OTF/TTF), or "woff2"/"woff". With `cache_dir`, results are kept there,
    keyed by the font file, face and characters, so rebuilding the same book costs nothing."""
    unicodes = sorted(code_points(chars))
    key = _cache_key(face, unicodes, flavor)
    cached = cache_dir / f"{key}.{flavor or face.kind}" if cache_dir else None
    if cached is not None and cached.is_file():
        return cached.read_bytes()
    data = _harfbuzz_subset(face, unicodes, flavor)
    if data is None:
        data = _fonttools_subset(face, unicodes, flavor)
    if cached is not None:
        # A cache that cannot be written is no reason to fail; concurrent builds each write their own temp name.
        with contextlib.suppress(OSError):
            atomic.write_bytes(cached, data)
    return data


def code_points(chars: Iterable[str]) -> set[int]:
    """What a subset must hold for `chars`: each character but whitespace, and the two spaces text is set with."""
    return {ord(c) for c in chars if c and not c.isspace()} | {0x20, 0x3000}


def identity(face: Face) -> str:
    """The face's file as it is now (a font upgraded in place is another face): for cache keys."""
    stat = face.path.stat()
    return f"{face.path}|{face.index}|{stat.st_size}|{stat.st_mtime_ns}"


def _tag(name: str) -> int:
    return int.from_bytes(name.encode("ascii").ljust(4), "big")


def _harfbuzz_subset(face: Face, unicodes: list[int], flavor: str | None) -> bytes | None:
    """HarfBuzz's subsetter: ~0.1 s for a CJK face, where fontTools takes ~3 s. None if it cannot."""
    if hb is None:
        return None
    request = hb.SubsetInput()
    request.unicode_set.update(unicodes)
    request.layout_feature_tag_set.update(_tag(name) for name in CJK_FEATURES)  # beside HarfBuzz's defaults
    request.name_id_set.update(KEEP_NAME_IDS)
    request.name_lang_id_set.clear()
    request.name_lang_id_set.invert()  # every language's names
    request.flags = hb.SubsetFlags.NOTDEF_OUTLINE  # a missing character shows as a box, not as nothing
    subset = hb.subset(hb.Face(hb.Blob.from_file_path(str(face.path)), face.index), request)
    if subset is None:
        return None
    data = subset.blob.data
    if flavor:
        font = TTFont(io.BytesIO(data))
        font.flavor = flavor
        buffer = io.BytesIO()
        font.save(buffer, reorderTables=True)
        data = buffer.getvalue()
    return data


def _fonttools_subset(face: Face, unicodes: list[int], flavor: str | None) -> bytes:
    from fontTools import subset as ft_subset  # ~0.2 s to import, for the rare face HarfBuzz cannot cut

    options = ft_subset.Options()
    options.layout_features = [*options.layout_features, *CJK_FEATURES]
    options.name_IDs = KEEP_NAME_IDS
    options.name_languages = ["*"]
    options.notdef_outline = True  # a missing character shows as a box, not as nothing
    options.flavor = flavor
    font = face.font(lazy=False)
    subsetter = ft_subset.Subsetter(options)
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer, reorderTables=True)
    return buffer.getvalue()


def _cache_key(face: Face, unicodes: list[int], flavor: str | None) -> str:
    digest = hashlib.sha256(f"{identity(face)}|{flavor}|v2".encode())
    digest.update(",".join(map(str, unicodes)).encode())
    return digest.hexdigest()[:32]
