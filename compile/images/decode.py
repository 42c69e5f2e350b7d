"""Decoding hostile bytes with Pillow, bounded: the format sniffed from the bytes, the pixel count checked from the
header before any pixel is decoded, cut files refused, and a process-wide budget of pixels decoded at once."""

from __future__ import annotations

import contextlib
import ctypes
import io
import threading
import warnings
from collections.abc import Iterator

from PIL import Image as PILImage
from PIL import ImageFile, ImageOps

from compile.images.errors import FetchError

FORMATS = ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"]  # the only decoders hostile bytes ever reach
# decoded() refuses by our own max_pixels before decoding; Pillow's warning below its own limit is noise.
warnings.filterwarnings("ignore", category=PILImage.DecompressionBombWarning)
SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"RIFF", b"BM", b"II*\x00", b"MM\x00*")


def sniff(data: bytes) -> None:
    """Believe the bytes, not the Content-Type."""
    if not data:
        raise FetchError("empty response")
    if data.startswith(SIGNATURES) and not (data.startswith(b"RIFF") and data[8:12] != b"WEBP"):
        return
    head = data[:256].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html")) or b"<html" in head:
        raise FetchError("the response is an HTML page, not an image")
    if head.startswith(b"<?xml") or b"<svg" in head:
        raise FetchError("SVG is not supported (vector images can carry scripts and remote references)")
    if data[4:12] in (b"ftypavif", b"ftypheic", b"ftypheix", b"ftypmif1"):
        raise FetchError(f"unsupported image format ({data[8:12].decode()})")
    raise FetchError("the response is not an image")


class PixelBudget:
    """Pixels being decoded at once, in this process: each decode holds its width×height until its picture is
    done with. Sixteen small PNGs claiming 60 M pixels each, decoded by sixteen threads, took 7.2 GB; under the
    budget they wait their turn. An image bigger than the whole budget fails."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0
        self.changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        if pixels > self.limit:
            raise FetchError(f"too many pixels: {pixels} is more than the decoding budget of {self.limit}")
        with self.changed:
            self.changed.wait_for(lambda: self.used + pixels <= self.limit)
            self.used += pixels
        try:
            yield
        finally:
            with self.changed:
                self.used -= pixels
                self.changed.notify_all()


def _big_blocks_to_the_os() -> None:
    """glibc keeps what threads free in per-thread arenas, and raises its mmap threshold after each big free:
    pictures decoded one at a time by sixteen fetch threads stayed resident (1 GB for 240 MB pictures, and
    MemoryError under a 2 GB address-space limit). A fixed threshold maps each block of 4 MB or more on its own
    and gives it back when freed (peak 0.7 GB)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to tune
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, 4 << 20)


M_MMAP_THRESHOLD = -3  # glibc's malloc.h
_big_blocks_to_the_os()
PIXELS = PixelBudget(120_000_000)  # ~480 MB of RGBA, plus the working copies made while resizing
VERIFY_BOX = (256, 256)  # a JPEG is checked for soundness at 1/8 scale: every byte is still decoded
ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


@contextlib.contextmanager
def decoded(data: bytes, max_pixels: int, box: tuple[int, int] | None = None) -> Iterator[PILImage.Image]:
    """The first frame, EXIF-oriented and fully decoded; FetchError for bombs and broken files. With `box`, a
    JPEG may be decoded at a reduced scale that still covers it (what a variant for `box` needs). Its pixels are
    held in the process-wide budget (PIXELS) while the block runs; the picture is closed (its pixels freed) when
    the block ends, before the budget is given back."""
    with _decoding(data, max_pixels, box) as picture:
        try:
            yield picture
        finally:
            picture.close()


@contextlib.contextmanager
def _decoding(data: bytes, max_pixels: int, box: tuple[int, int] | None) -> Iterator[PILImage.Image]:
    """The pixel count is checked from the header before any pixel is decoded (a 50 KB PNG can claim
    gigapixels). Decoders raise many types on hostile input, so everything is caught here. A cut file is
    refused even where the decoder would fill the rest in grey (WeasyPrint lets Pillow do that).
    """
    sniff(data)
    opened = _open(data)
    full = opened.size
    if full[0] * full[1] > max_pixels:
        raise FetchError(f"too many pixels: {full[0]}×{full[1]} > limit of {max_pixels} (decompression bomb guard)")
    _check_complete(data, opened.format)
    if box and opened.format == "JPEG":
        side = max(box)  # square: the box may be met before or after an EXIF rotation
        opened.draft(None, (side, side))  # DCT scaling: 1/2, 1/4 or 1/8 of the pixels, never below the box
    with PIXELS.hold(opened.size[0] * opened.size[1]):
        picture = _load(opened)
        picture.info["full_size"] = full[::-1] if _orientation(opened) in ROTATED else full
        yield picture


def _open(data: bytes) -> PILImage.Image:
    try:
        return PILImage.open(io.BytesIO(data), formats=FORMATS)
    except PILImage.DecompressionBombError as exc:
        raise FetchError(f"decompression bomb refused: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - hostile bytes: any decoder error means "not usable"
        raise FetchError(f"not a readable image ({type(exc).__name__}: {str(exc)[:120]})") from None


def _check_complete(data: bytes, image_format: str | None) -> None:
    """A JPEG ends with EOI after its last scan; a PNG has IEND after its last IDAT."""
    if image_format == "JPEG" and data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
        raise FetchError("truncated image")
    if image_format == "PNG" and data.rfind(b"IEND") < data.rfind(b"IDAT"):
        raise FetchError("truncated image")


def _orientation(opened: PILImage.Image) -> int:
    try:
        return int(opened.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block is no orientation
        return 1


def _load(opened: PILImage.Image) -> PILImage.Image:
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # WeasyPrint sets it on import: a cut file must fail, not turn grey
    try:
        source_format = opened.format
        opened.seek(0)  # first frame of an animation
        opened.load()
        ImageOps.exif_transpose(opened, in_place=True)  # not a copy: twice the pixels for nothing
        picture = opened
    except PILImage.DecompressionBombError as exc:
        raise FetchError(f"decompression bomb refused: {exc}") from None
    except OSError as exc:
        if "truncated" in str(exc).lower():
            raise FetchError("truncated image") from None
        raise FetchError(f"not a readable image (OSError: {str(exc)[:120]})") from None
    except Exception as exc:  # noqa: BLE001 - hostile bytes: any decoder error means "not usable"
        raise FetchError(f"not a readable image ({type(exc).__name__}: {str(exc)[:120]})") from None
    # No EXIF, GPS, XMP, ICC or comments travel on (PNG saving would copy some of them from info).
    transparency = picture.info.get("transparency")
    picture.info.clear()
    if transparency is not None:
        picture.info["transparency"] = transparency
    picture.info["source_format"] = source_format  # read by _wants_png, never written out
    return picture

