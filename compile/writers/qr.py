"""QR codes of articles' URLs, for the printed sources: a reader of paper opens the original with a phone.

segno (pure Python, maintained, complete: mask selection, error correction) makes each code as a PNG of one
pixel per module, a few hundred bytes, which the page sets at MODULE_MM a module without interpolation
(`image-rendering: pixelated`: the PDF's /Interpolate false), so every printer draws sharp squares. Every code
has the same module size: a long URL makes a bigger code, never a denser one that a camera cannot read. (An SVG
code is as sharp, but WeasyPrint parses and draws its path of a thousand segments for each of a book's codes:
~2 s more for 300 articles.)

Made codes are kept in the cache, sealed (compile/cachekey.py): a rebuild makes only its new URLs' codes, where
making a 300-article book's took 1-2 s.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import segno

from compile import cachekey, processes

MODULE_MM = 0.4  # one module (a black or white square): at 0.4 mm a phone reads it from 15-25 cm
QUIET_MODULES = 4  # the white margin the standard asks for, inside the image: no stylesheet can take it away


@dataclass(frozen=True)
class Code:
    uri: str  # a data: URI of the PNG
    size_mm: float  # its printed side, quiet zone included

    @property
    def style(self) -> str:
        """How the image must be set, whatever the theme's stylesheet: its size, and no smoothing."""
        return f"width: {self.size_mm:.1f}mm; image-rendering: pixelated"


def codes(urls: Iterable[str], workers: int = 1, cache_root: Path | None = None) -> dict[str, Code]:
    """The code of each URL: ~6 ms each in pure Python, so a book's new ones are made in forked workers; the
    others come from the cache under `cache_root`, if given."""
    unique = list(dict.fromkeys(urls))
    kept = cachekey.Entries(cache_root / "qr", "qr-code") if cache_root else None
    found = {url: got for url in unique if kept and (got := _kept(kept, url))}
    missing = [url for url in unique if url not in found]
    for url, made in zip(missing, processes.forked_map(code, missing, workers), strict=True):
        found[url] = made
        if kept:
            kept.put(_key(url), json.dumps([made.uri, made.size_mm]).encode())
    return {url: found[url] for url in unique}


def _key(url: str) -> str:
    return cachekey.digest(cachekey.code_version(), segno.__version__, url)


def _kept(kept: cachekey.Entries, url: str) -> Code | None:
    """A kept code, if its entry is sealed and has the shape this code writes (a PNG data: URI, a size)."""
    payload = kept.get(_key(url))
    try:
        uri, size_mm = json.loads(payload) if payload is not None else ("", 0.0)
    except (ValueError, TypeError):
        return None
    if isinstance(uri, str) and uri.startswith("data:image/png;base64,") and isinstance(size_mm, float):
        return Code(uri, size_mm)
    return None


@functools.lru_cache(maxsize=4096)
def code(url: str) -> Code:
    # "m": 15 % of the code may be smudged or torn (segno raises the level while the code's size allows).
    symbol = segno.make(content(url), error="m", micro=False)
    out = io.BytesIO()
    symbol.save(out, kind="png", scale=1, border=QUIET_MODULES)
    side = symbol.symbol_size(scale=1, border=QUIET_MODULES)[0]
    return Code("data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii"), side * MODULE_MM)


def content(url: str) -> str:
    """What the code holds: the URL with its percent-encoded UTF-8 written out (an IRI), which takes a third of
    the modules (each CJK character 3 bytes instead of 9) and which phones open as the same address. Escapes of
    ASCII characters (%2F, %20, %3F) stay escaped: decoding them would change the address."""
    return re.sub(r"(?:%[89A-Fa-f][0-9A-Fa-f])+", _decoded, url)


def _decoded(match: re.Match) -> str:
    escaped = match[0]
    try:
        text = bytes.fromhex(escaped.replace("%", "")).decode("utf-8")
    except UnicodeDecodeError:
        return escaped  # not UTF-8 (a Latin-1 or GBK escape): kept as written
    # Decoded characters that a URI must escape (spaces, controls) go back to their escapes.
    return "".join(c if c.isprintable() and not c.isspace() else quote(c) for c in text)
