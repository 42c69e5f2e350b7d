"""A PNG's compressed rows taken from its file (compile/writers/pdf/weasy/png_data.py): the same PDF, byte for byte,
for the images the build makes; the same pixels for any other PNG; no encoding again where the file has them."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pikepdf
import pytest
from PIL import Image as PILImage
from PIL import ImageDraw

from compile.images import variants
from compile.writers.pdf import loading  # noqa: F401 - first: it imports WeasyPrint without running gcc

# isort: split
import weasyprint
from weasyprint import images

from compile.writers.pdf.weasy import patching, png_data

COLOURS = [(30, 60, 90), (0, 170, 230), (200, 40, 40), (20, 20, 20), (120, 200, 120), (250, 200, 0)]


def chart(mode: str = "RGB", size=(900, 500), seed: int = 1) -> PILImage.Image:
    rng = random.Random(seed)
    picture = PILImage.new("RGB", size, (245, 245, 245))
    draw = ImageDraw.Draw(picture)
    for _ in range(80):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        draw.rectangle((x, y, x + rng.randrange(5, 90), y + rng.randrange(5, 60)), fill=rng.choice(COLOURS))
    return picture.convert(mode)


def encoded(picture: PILImage.Image, **options) -> bytes:
    out = io.BytesIO()
    picture.save(out, "PNG", **options)
    return out.getvalue()


def sixteen_bit_rgb(picture: PILImage.Image) -> bytes:
    """The picture as a 16-bit RGB PNG (Pillow writes none: each 8-bit row sample doubled, IDAT and CRCs made)."""
    width, height = picture.size
    raw = picture.tobytes()
    rows = b"".join(b"\x00" + bytes(byte for value in raw[y * width * 3:(y + 1) * width * 3] for byte in (value, value))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return png_data.SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def render(tmp_path, files: list[bytes], patched: bool) -> bytes:
    names = []
    for index, data in enumerate(files):
        (tmp_path / f"{index}.png").write_bytes(data)
        names.append(f"{index}.png")
    html = "".join(f'<p><img src="{name}" style="width: 10cm"></p>' for name in names)
    document = weasyprint.HTML(string=html, base_url=str(tmp_path) + "/")
    if not patched:
        return document.write_pdf()
    with patching.installed(png_data.PATCH) as active:
        assert active
        return document.write_pdf()


def pixels(pdf: bytes) -> list[bytes]:
    with pikepdf.open(io.BytesIO(pdf)) as opened:
        return [pikepdf.PdfImage(image).as_pil_image().tobytes() for page in opened.pages
                for image in page.get_images().values()]


def test_the_build_s_variants_give_the_same_pdf_without_encoding_again(tmp_path, monkeypatch):
    made = [variants.render(chart(), variants.profile("print", variants.ImageSettings()))[0],
            encoded(chart("L", seed=2)), encoded(chart(seed=3))]
    assert all(PILImage.open(io.BytesIO(data)).format == "PNG" for data in made)
    before = render(tmp_path, made, patched=False)
    encodings = []
    monkeypatch.setattr(png_data, "_ORIGINAL", lambda picture: encodings.append(picture) or b"")
    after = render(tmp_path, made, patched=True)
    assert after == before  # byte for byte
    assert not encodings  # every one taken from its file


@pytest.mark.parametrize("kind", ["optimized", "interlaced", "alpha", "palette", "16-bit", "16-bit RGB", "4-bit gray",
                                  "transparent colour", "truncated"])
def test_other_pngs_are_drawn_as_before(tmp_path, kind):
    picture = chart(seed=5)
    data = {
        "optimized": lambda: encoded(picture, optimize=True),  # other rows, the same pixels: taken as they are
        "interlaced": lambda: encoded(picture, interlace=1),  # rows interlaced: encoded again
        "alpha": lambda: encoded(chart("RGBA", seed=5)),
        "palette": lambda: encoded(picture.quantize(64)),  # made RGB by WeasyPrint before
        "16-bit": lambda: encoded(PILImage.new("I;16", (300, 200), 40000)),
        "16-bit RGB": lambda: sixteen_bit_rgb(picture),  # opened as mode RGB: its rows are not 8-bit ones
        "4-bit gray": lambda: encoded(picture.convert("L"), bits=4),  # opened as mode L, rows of 4 bits
        "transparent colour": lambda: encoded(picture, transparency=COLOURS[0]),  # RGB with tRNS
    }.get(kind, lambda: encoded(picture))()
    if kind == "truncated":  # no IEND: not taken from the file
        image = PILImage.open(io.BytesIO(data[:-12]))
        assert png_data.file_rows(image) is None
        return
    if kind in ("16-bit RGB", "4-bit gray", "transparent colour"):  # opened as RGB or L: only the file tells
        opened = PILImage.open(io.BytesIO(data))
        assert opened.mode in ("RGB", "L") and png_data.file_rows(opened) is None
    patched, plain = render(tmp_path, [data], patched=True), render(tmp_path, [data], patched=False)
    if kind == "optimized":
        assert pixels(patched) == pixels(plain)
    else:  # encoded again, as without the patch
        assert patched == plain


def test_the_patch_leaves_weasyprint_as_it_was():
    stored = images.RasterImage.__dict__["_get_png_data"]
    with patching.installed(png_data.PATCH):
        assert images.RasterImage.__dict__["_get_png_data"] is not stored
    assert images.RasterImage.__dict__["_get_png_data"] is stored  # a staticmethod still, not a plain function
    assert isinstance(stored, staticmethod)
    assert images.RasterImage._get_png_data(chart("RGB", (20, 10)))  # called as WeasyPrint calls it
