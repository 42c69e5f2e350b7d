"""Images: find the real source, fetch it safely into a disk cache, and make one variant per output.

Pure helpers (`best_source`, `unwrap_proxy`) are used by clean.py; the I/O (`fetch_all`) runs once
per build, concurrently, with timeouts, a byte limit, redirects checked hop by hop, and private
addresses refused unless the configuration allows them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from bs4 import Tag
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from compile.config import ImageSettings
from compile.model import Image

LAZY_ATTRIBUTES = ("data-src", "data-original", "data-lazy-src", "data-url", "data-hi-res-src", "src")
PROXIES = {"images.weserv.nl": "url", "wsrv.nl": "url", "i0.wp.com": None, "i1.wp.com": None, "i2.wp.com": None}
USER_AGENT = "anthology-compiler/0.1 (+https://example.invalid/anthology)"


# ---------------------------------------------------------------- finding sources (pure)

def best_source(img: Tag, extra_srcsets: Iterable[str] = (), base_url: str = "") -> str:
    """The best URL for an <img>: the widest srcset candidate, else a lazy-load attribute, else src."""
    candidates = []
    for srcset in [img.get("srcset", ""), img.get("data-srcset", ""), *extra_srcsets]:
        candidates.extend(_parse_srcset(srcset))
    url = max(candidates)[1] if candidates else ""
    if not url:
        for attribute in LAZY_ATTRIBUTES:
            value = (img.get(attribute) or "").strip()
            if value and not value.startswith("data:"):
                url = value
                break
    if not url:
        return ""
    url = urljoin(base_url, url) if base_url else url
    if url.startswith("//"):
        url = "https:" + url
    return url if urlsplit(url).scheme in ("http", "https") else ""


def _parse_srcset(srcset: str) -> list[tuple[float, str]]:
    found = []
    for part in srcset.split(","):
        bits = part.strip().split()
        if not bits:
            continue
        weight = 1.0
        if len(bits) > 1 and bits[1][:-1].replace(".", "", 1).isdigit():
            weight = float(bits[1][:-1]) * (1 if bits[1].endswith("w") else 1000)
        found.append((weight, bits[0]))
    return found


def is_tracking_pixel(img: Tag) -> bool:
    sizes = [img.get("width", ""), img.get("height", "")]
    return all(str(s).strip() in ("0", "1") for s in sizes)


def unwrap_proxy(url: str) -> tuple[str, str]:
    """(original URL, URL as found): `images.weserv.nl/?url=host/x.jpg` becomes `https://host/x.jpg`."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in PROXIES:
        key = PROXIES[host]
        inner = parse_qs(parts.query).get(key, [""])[0] if key else parts.path.lstrip("/")
        if inner:
            original = inner if inner.startswith(("http://", "https://")) else f"https://{inner.lstrip('/')}"
            return original, url
    return url, url


# ---------------------------------------------------------------- cache

def default_cache_dir() -> Path:
    if os.environ.get("ANTHOLOGY_CACHE"):
        return Path(os.environ["ANTHOLOGY_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "anthology"


@dataclass
class Cache:
    root: Path

    @classmethod
    def from_settings(cls, settings: ImageSettings) -> Cache:
        return cls(Path(settings.cache_dir).expanduser() if settings.cache_dir else default_cache_dir())

    def key(self, url: str) -> str:
        return hashlib.sha256(url.encode("utf-8")).hexdigest()

    def original(self, url: str) -> Path:
        key = self.key(url)
        return self.root / "originals" / key[:2] / key

    def variant(self, url: str, profile: str, suffix: str) -> Path:
        key = self.key(url)
        return self.root / "variants" / profile / f"{key[:24]}{suffix}"

    def write(self, path: Path, data: bytes) -> None:
        write_atomic(path, data)


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- fetching (I/O)

class FetchError(Exception):
    """Why an image could not be had; the message goes into the report."""


class Retryable(FetchError):
    pass


def check_host(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"scheme '{parts.scheme}' refused (only http and https)")
    host = parts.hostname
    if not host:
        raise FetchError("no host in URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve host {host}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address.is_loopback and allow_private:
            continue
        if not address.is_global and not (allow_private and address.is_private):
            raise FetchError(f"host {host} resolves to a non-public address ({address}); refused")


def download(client: httpx.Client, url: str, settings: ImageSettings) -> bytes:
    """GET with redirects checked hop by hop, a byte limit and a total deadline."""
    deadline = time.monotonic() + settings.total_timeout
    for _hop in range(6):
        check_host(url, settings.allow_private_hosts)
        try:
            with client.stream("GET", url) as response:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    if not location:
                        raise FetchError(f"HTTP {response.status_code} without a Location")
                    url = urljoin(url, location)
                    continue
                if response.status_code >= 500:
                    raise Retryable(f"HTTP {response.status_code}")
                if response.status_code >= 400:
                    raise FetchError(f"HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > settings.max_bytes:
                    raise FetchError(f"too large: {int(declared)} bytes > limit {settings.max_bytes}")
                chunks, size = [], 0
                for chunk in response.iter_bytes(65536):
                    size += len(chunk)
                    if size > settings.max_bytes:
                        raise FetchError(f"too large: over the limit of {settings.max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise Retryable(f"took longer than {settings.total_timeout:g} s")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.TimeoutException as exc:
            raise Retryable(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise FetchError(f"connection failed: {exc or type(exc).__name__}") from None
    raise FetchError("more than 5 redirects")


def fetch_one(client: httpx.Client, url: str, settings: ImageSettings, sleep=time.sleep) -> bytes:
    delay = 0.5
    for attempt in range(settings.retries + 1):
        try:
            return download(client, url, settings)
        except Retryable as exc:
            if attempt == settings.retries:
                raise FetchError(f"{exc} (after {attempt + 1} attempts)") from None
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


@dataclass
class FetchSummary:
    fetched: int = 0
    cached: int = 0
    failed: int = 0
    bytes: int = 0


def fetch_all(
    images_: list[Image],
    settings: ImageSettings,
    cache: Cache,
    offline: bool = False,
    on_done: Callable[[Image], None] | None = None,
) -> FetchSummary:
    """Fill each image's original into the cache, then process it; set status and reason."""
    summary = FetchSummary()
    lock = threading.Lock()
    host_slots: dict[str, threading.Semaphore] = {}
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    limits = httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency)
    headers = {"User-Agent": USER_AGENT, "Accept": "image/*"}

    def work(image: Image, client: httpx.Client) -> None:
        original = cache.original(image.url)
        try:
            if original.exists():
                data, image.from_cache = original.read_bytes(), True
            elif offline:
                raise FetchError("offline, and not in the image cache")
            else:
                host = urlsplit(image.url).hostname or ""
                with lock:
                    slot = host_slots.setdefault(host, threading.Semaphore(settings.per_host))
                with slot:
                    data = fetch_one(client, image.url, settings)
                sniff(data)
                cache.write(original, data)
            process(image, data, cache, settings)
        except FetchError as exc:
            image.status, image.reason = "failed", str(exc)
        with lock:
            if image.status == "ok":
                summary.cached += image.from_cache
                summary.fetched += not image.from_cache
                summary.bytes += 0 if image.from_cache else len(data)
            else:
                summary.failed += 1
        if on_done:
            on_done(image)

    unique: dict[str, list[Image]] = {}
    for image in images_:
        unique.setdefault(image.url, []).append(image)
    with httpx.Client(timeout=timeout, limits=limits, headers=headers, follow_redirects=False) as client, \
            ThreadPoolExecutor(max_workers=max(1, settings.concurrency)) as pool:
        list(pool.map(lambda img: work(img, client), [group[0] for group in unique.values()]))
    for group in unique.values():
        for twin in group[1:]:
            _copy_result(group[0], twin)
    return summary


def _copy_result(source: Image, target: Image) -> None:
    for name in ("status", "reason", "path", "media_type", "width", "height", "bytes", "from_cache"):
        setattr(target, name, getattr(source, name))


# ---------------------------------------------------------------- processing (Pillow)

SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"RIFF", b"BM", b"II*\x00", b"MM\x00*")


def sniff(data: bytes) -> None:
    """Believe the bytes, not the Content-Type."""
    if not data:
        raise FetchError("empty response")
    if not data.startswith(SIGNATURES) or (data.startswith(b"RIFF") and data[8:12] != b"WEBP"):
        head = data[:64].lstrip().lower()
        kind = "HTML" if head.startswith((b"<!doctype", b"<html")) else "not an image"
        raise FetchError(f"the response is {kind}")


def process(image: Image, data: bytes, cache: Cache, settings: ImageSettings, profile: str = "epub") -> None:
    """Decode (bomb-guarded), orient, flatten to RGB/L(A), resize, and save one variant without metadata."""
    sniff(data)
    PILImage.MAX_IMAGE_PIXELS = settings.max_pixels
    import io

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as probe:
                if probe.width * probe.height > settings.max_pixels:
                    raise FetchError(f"too many pixels: {probe.width}×{probe.height}")
                probe.verify()
            with PILImage.open(io.BytesIO(data)) as opened:
                opened.seek(0)  # first frame of an animation
                picture = ImageOps.exif_transpose(opened)
                picture.load()
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise FetchError(f"decompression bomb refused: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise FetchError(f"not a readable image: {exc}") from None
    keep_png = picture.mode in ("RGBA", "LA", "P", "1") and _has_transparency_or_few_colors(picture)
    picture = _normalise_mode(picture, keep_png)
    picture.thumbnail((settings.max_side, settings.max_side), PILImage.Resampling.LANCZOS)
    suffix, media_type = (".png", "image/png") if keep_png else (".jpg", "image/jpeg")
    target = cache.variant(image.url, profile, suffix)
    if not target.exists():
        out = io.BytesIO()
        if keep_png:
            picture.save(out, "PNG", optimize=True)
        else:
            picture.save(out, "JPEG", quality=settings.jpeg_quality, optimize=True, progressive=True)
        cache.write(target, out.getvalue())
    image.path, image.media_type = target, media_type
    image.width, image.height, image.bytes = picture.width, picture.height, target.stat().st_size
    image.status, image.reason = "ok", ""


def _has_transparency_or_few_colors(picture: PILImage.Image) -> bool:
    if picture.mode in ("RGBA", "LA") or "transparency" in picture.info:
        return True
    return picture.mode in ("P", "1")


def _normalise_mode(picture: PILImage.Image, keep_png: bool) -> PILImage.Image:
    if keep_png:
        return picture.convert("RGBA") if picture.mode != "RGBA" else picture
    if picture.mode == "CMYK":
        return picture.convert("RGB")
    if picture.mode in ("I;16", "I;16B", "I;16L", "I"):
        return picture.point(lambda v: v / 256).convert("L")
    if picture.mode not in ("RGB", "L"):
        return picture.convert("RGB")
    return picture


def report_entry(image: Image, article_id: str) -> dict:
    entry = {"url": image.url, "article": article_id, "status": image.status, "reason": image.reason}
    if image.found_url and image.found_url != image.url:
        entry["found_url"] = image.found_url
    if image.status == "ok":
        entry.update(width=image.width, height=image.height, bytes=image.bytes,
                     media_type=image.media_type, cached=image.from_cache)
    return entry
