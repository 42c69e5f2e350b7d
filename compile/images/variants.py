"""Variants: one per output profile (epub, eink, print), made from the cached original, fitted into a size budget;
each image is pointed at its variant for the writer."""

from __future__ import annotations

import contextlib
import io
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import cast

from PIL import Image as PILImage

from compile import pages
from compile.config import ImageSettings
from compile.images.cache import Cache
from compile.images.decode import decoded
from compile.images.errors import FetchError
from compile.model import Image


@dataclass(frozen=True)
class Profile:
    """How one output wants its images: fitted into `box` pixels, JPEG `quality`, maybe grayscale."""

    name: str  # epub | eink | print
    box: tuple[int, int]
    quality: int = 80
    grayscale: bool = False
    palette: bool = False  # opaque PNGs in 256 colours: a budget's steps (BUDGET_LADDER), size before quality

    @property
    def tag(self) -> str:
        """What the variant is: changing any parameter makes new variants, never reuses stale ones."""
        gray = "-gray" if self.grayscale else ""
        palette = "-pal" if self.palette else ""
        return f"{self.name}-{self.box[0]}x{self.box[1]}-q{self.quality}{gray}{palette}"

    @property
    def folder(self) -> str:
        """Where its variants are cached: the tag, and how this code encodes (a cache made by older code is not
        mixed into a build: a warm build shows what a cold one would)."""
        return f"{self.tag}.{ENCODING}"


# Raised whenever a variant's bytes change for the same tag (2: PNGs at zlib's default level, large charts kept PNG).
ENCODING = 2


PROFILES = ("epub", "eink", "print")

def profile(name: str, settings: ImageSettings, printed_width_mm: float = 0.0) -> Profile:
    """The profile of an output: `epub` (long side ≤ max_side), `eink` (gray, 1072×1448), or
    `print` (≤ print_ppi at `printed_width_mm`, the width of a full-width figure on the page)."""
    if name == "epub":
        return Profile("epub", (settings.max_side, settings.max_side), settings.jpeg_quality)
    if name == "eink":
        return Profile("eink", (1072, 1448), settings.jpeg_quality, grayscale=True)
    if name == "print":
        width_mm = settings.print_width_mm or printed_width_mm or pages.text_width_mm(pages.DEFAULT)
        width = round(width_mm / 25.4 * settings.print_ppi)
        return Profile("print", (width, round(width * 1.5)), settings.print_quality)
    raise ValueError(f"unknown image profile '{name}'; choose from {', '.join(PROFILES)}")


def render(picture: PILImage.Image, target: Profile) -> tuple[bytes, str, tuple[int, int]]:
    """(encoded bytes, suffix, size): JPEG for photos; PNG for transparency and line art."""
    as_png = _wants_png(picture)
    picture = _normalise_mode(picture, as_png, target.grayscale)
    if picture.width > target.box[0] or picture.height > target.box[1]:
        # What thumbnail() makes, without first copying the whole picture (the largest allocation here).
        picture = picture.resize(fitted(picture.size, target.box), PILImage.Resampling.LANCZOS, reducing_gap=2.0)
    if as_png and target.palette and picture.mode == "RGB":  # few colours (_wants_png); a cut-out photo would band
        picture = _in_256_colours(picture)
    out = io.BytesIO()
    if as_png:
        # zlib's default level: `optimize` (level 9 and a search) made screenshots ~1 % smaller in 4 times the time
        # (0.23 s against 0.06 s a 1,000-pixel-wide screenshot), the most of a build of an archive of them.
        picture.save(out, "PNG")
    else:
        picture.save(out, "JPEG", quality=target.quality, optimize=True, progressive=True)
    return out.getvalue(), ".png" if as_png else ".jpg", picture.size


def _in_256_colours(picture: PILImage.Image) -> PILImage.Image:
    """An opaque PNG's picture in an adaptive palette, without dithering: a screenshot or chart (a few colours, the
    edges that scaling blends) looks the same in half the bytes; scaled down alone, it hardly shrinks (its blended
    edges compress worse than its flat colours did)."""
    return picture.quantize(256, method=PILImage.Quantize.MEDIANCUT, dither=PILImage.Dither.NONE)


def fitted(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The size Pillow's thumbnail() gives `size` fitted into `box`, aspect kept (its rounding)."""
    width, height = size
    x, y = box
    aspect = width / height

    def rounded(number: float, key) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    if x / y >= aspect:
        x = rounded(y * aspect, key=lambda n: abs(aspect - n / y))
    else:
        y = rounded(x / aspect, key=lambda n: 0 if n == 0 else abs(aspect - x / n))
    return x, y


def _wants_png(picture: PILImage.Image) -> bool:
    """Real transparency, or few colours (charts, diagrams, screenshots of text) that JPEG would smear.
    A JPEG source stays JPEG: it has no alpha, and its artefacts already ruled out crisp line art."""
    if picture.info.get("source_format") == "JPEG":
        return False
    if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
        alpha = picture.convert("RGBA").getchannel("A")
        if cast(int, alpha.getextrema()[0]) < 255:  # one band: (lowest, highest)
            return True
    if picture.mode in ("1", "P"):
        return True
    if picture.mode in ("RGB", "L", "RGBA", "LA"):
        # Sampled by nearest pixels: a smoothing filter would blend a chart's few colours into many.
        small = picture.width * picture.height <= 1_000_000
        sample = picture if small else picture.resize((800, 800), PILImage.Resampling.NEAREST)
        return sample.getcolors(64) is not None
    return False


def _normalise_mode(picture: PILImage.Image, as_png: bool, grayscale: bool) -> PILImage.Image:
    if picture.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        picture = picture.convert("I").point(lambda v: v / 256).convert("L")
    if picture.mode == "CMYK":
        picture = picture.convert("RGB")
    has_alpha = as_png and (picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info)
    if grayscale:
        return picture.convert("LA" if has_alpha else "L")
    if has_alpha:
        return picture.convert("RGBA")
    return picture if picture.mode in ("RGB", "L") else picture.convert("RGB")


Loader = Callable[[tuple[int, int]], contextlib.AbstractContextManager[PILImage.Image]]


def _make_variant(image: Image, load: Loader, cache: Cache, target: Profile) -> None:
    """`load(box)` decodes the original for a variant fitting `box`; its pixels stay in the budget until the
    variant is encoded."""
    paths = (cache.variant(Cache.name(image), target.folder, suffix) for suffix in (".jpg", ".png"))
    existing = [path for path in paths if path.is_file()]
    if existing:
        path = existing[0]
        with PILImage.open(path) as done:
            size = done.size
    else:
        with load(target.box) as picture:
            encoded, suffix, size = render(picture, target)
        path = cache.variant(Cache.name(image), target.folder, suffix)
        cache.write(path, encoded)
    image.path = path
    image.media_type = "image/png" if path.suffix == ".png" else "image/jpeg"
    image.variants[target.name] = {"width": size[0], "height": size[1], "bytes": path.stat().st_size,
                                   "media_type": image.media_type, "profile": target.tag}
    image.status, image.reason = "ok", ""


# Each step: (JPEG quality, share of the box's side); PNGs shrink, opaque ones in 256 colours.
BUDGET_LADDER = ((70, 1.0), (60, 0.85), (50, 0.7), (40, 0.55), (35, 0.45), (30, 0.35))


def use_profile(images_: list[Image], target: Profile, cache: Cache, settings: ImageSettings,
                budget_bytes: int = 0) -> dict:
    """Make (or reuse) every fetched image's variant for `target` and point the images at it.

    When the variants add up to more than `budget_bytes` (0: no budget), they are made again with
    lower quality and smaller sides, step by step, until they fit; the returned entry says so. A step stops
    making variants once they are over the budget (the rest could only add to it), so an archive of thousands
    of images far over its budget costs each step a budget's worth of images, not all of them; the last step
    is made whole, fitting or not.
    """
    ok = list({image.url: image for image in images_ if image.status == "ok"}.values())
    chosen = target
    total = _variants_for(ok, chosen, cache, settings, budget_bytes)
    entry = {"profile": target.tag, "images": len(ok), "bytes": total, "budget": budget_bytes or None,
             "recompressed": None}
    if total is None:
        steps = [replace(target, box=(max(200, round(target.box[0] * share)), max(200, round(target.box[1] * share))),
                         quality=min(quality, target.quality), palette=not target.grayscale)
                 for quality, share in BUDGET_LADDER]
        for index, chosen in enumerate(steps):
            total = _variants_for(ok, chosen, cache, settings, budget_bytes if index < len(steps) - 1 else 0)
            if total is not None and total <= budget_bytes:
                break
        assert total is not None  # the last step has no limit
        fits = "fits" if total <= budget_bytes else "still over budget"
        entry.update(profile=chosen.tag, bytes=total, recompressed=(
            f"{target.name} images were over the budget of {budget_bytes / 1e6:.1f} MB at {target.tag}; "
            f"recompressed at JPEG quality {chosen.quality}, at most {chosen.box[0]}×{chosen.box[1]} px"
            f"{', opaque PNGs in 256 colours' if chosen.palette else ''}: {total / 1e6:.1f} MB ({fits})"))
    twins = {image.url: image for image in ok}
    for image in images_:
        source = twins.get(image.url)
        if source is not None and source is not image:
            image.path, image.media_type = source.path, source.media_type
            image.variants[target.name] = dict(source.variants.get(target.name, {}))
    return entry


def _variants_for(ok: list[Image], target: Profile, cache: Cache, settings: ImageSettings,
                  limit: int = 0) -> int | None:
    """The variants' bytes added up; None once they pass `limit` (0: none), and the rest are not made."""
    total, lock, over = 0, threading.Lock(), threading.Event()

    def one(image: Image) -> None:
        nonlocal total
        if over.is_set():
            return
        try:
            _make_variant(image, lambda box: _load_original(image, cache, settings, box), cache, target)
            made = image.variants[target.name]["bytes"]
        except FetchError as exc:
            image.status, image.reason, image.path, made = "failed", str(exc), None, 0
        except Exception as exc:  # noqa: BLE001 - one odd image must not sink its article or the build
            image.status, image.reason, image.path = "failed", f"internal error: {type(exc).__name__}: {exc}", None
            made = 0
        with lock:
            total += made
            if limit and total > limit:
                over.set()

    with ThreadPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, 4))) as workers:
        list(workers.map(one, ok))
    return None if over.is_set() else total


def _load_original(image: Image, cache: Cache, settings: ImageSettings,
                   box: tuple[int, int]) -> contextlib.AbstractContextManager[PILImage.Image]:
    original = cache.original(Cache.name(image))
    try:
        data = original.read_bytes()
    except OSError as exc:
        raise FetchError(f"the cached original is gone ({exc})") from None
    return decoded(data, settings.max_pixels, box)


def report_entry(image: Image, article_id: str) -> dict:
    entry: dict[str, object] = {"url": image.url, "article": article_id, "status": image.status,
                                "reason": image.reason}
    if image.found_url and image.found_url != image.url:
        entry["found_url"] = image.found_url
    if image.local:
        entry["local"] = image.local  # the file of the source folder it names (read from disk when it exists)
    if image.status == "ok":
        entry.update(width=image.width, height=image.height, bytes=image.bytes,
                     media_type=image.media_type, cached=image.from_cache)
        if image.variants:
            entry["variants"] = {name: dict(v) for name, v in image.variants.items()}
    return entry
