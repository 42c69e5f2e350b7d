"""A PNG's compressed rows taken from its file, not from encoding its decoded pixels again.

Why: WeasyPrint (up to at least 70) puts a PNG in the PDF as its zlib-compressed, row-filtered data (PDF's
FlateDecode with PNG predictors: the same bytes a PNG file's IDAT chunks hold). To get them it decodes the
image and encodes it as a new PNG, for every image of every document it draws: ~60 ms a 1,300-pixel-wide
screenshot, most of a chunk's time in an archive of screenshots (1,070 of them: ~70 CPU-s of a 400-article
book's PDF). The images it draws are the build's print variants, PNGs that Pillow encoded with the same
default settings WeasyPrint encodes with.

While PATCH is installed, a PNG whose file's rows are what WeasyPrint would write (8 bits, RGB or gray, opaque,
not interlaced, and opened from its bytes) gives them as they are; any other image is encoded as before. For the
variants (Pillow's defaults, as WeasyPrint's) the bytes are the same ones, so the PDF is.
"""

from __future__ import annotations

import io
import struct

from weasyprint import images

from compile.writers.pdf.weasy import patching
from compile.writers.pdf.weasy.patching import Private

_ORIGINAL = images.RasterImage._get_png_data
SIGNATURE = b"\x89PNG\r\n\x1a\n"
# IHDR colour types whose rows WeasyPrint writes as they are: gray (0) for mode L, RGB (2) for mode RGB.
COLOUR_TYPES = {0: "L", 2: "RGB"}


def png_data(pillow_image) -> bytes:
    rows = file_rows(pillow_image)
    return rows if rows is not None else _ORIGINAL(pillow_image)


def file_rows(pillow_image) -> bytes | None:
    """The IDAT data of the PNG file `pillow_image` was opened from, when it is what encoding its pixels again
    would give (see the module's docstring); else None."""
    fp = getattr(pillow_image, "fp", None)
    if pillow_image.format != "PNG" or not isinstance(fp, io.BytesIO) or "transparency" in pillow_image.info:
        return None  # (WeasyPrint 70 makes a PNG with tRNS RGBA before; its rows would not be these)
    data = fp.getvalue()
    if not data.startswith(SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 33:
        return None
    depth, colour, compression, filtering, interlace = data[24:29]
    if (depth, compression, filtering, interlace) != (8, 0, 0, 0) or COLOUR_TYPES.get(colour) != pillow_image.mode:
        return None
    rows, at = [], 8
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"IDAT":
            rows.append(data[at + 8:at + 8 + length])
        elif kind == b"IEND":
            return b"".join(rows) if rows else None
        at += 12 + length  # length, type, data, CRC
    return None  # no IEND: a truncated file, encoded again as before


PATCH = patching.register(patching.Patch(
    "png_data",
    without="the same pages; each PNG is decoded and encoded again for every document it is drawn in",
    replaces={Private(images.RasterImage, "_get_png_data", "pillow_image"): staticmethod(png_data)},
    uses=(Private(images.RasterImage, "get_x_object", "self, interpolate, dpi_ratio"),)))
