"""Images: find the real source, fetch it safely into a disk cache, and make one variant per output.

Three parts, in build order:
- finding (pure): `best_source`, `locate`, `unwrap_proxy`, `add_lead_image`, used by clean.py and the pipeline;
  a relative reference (`diagram.png` beside a Hugo bundle's index.md, `./page_files/photo.jpg` beside a saved
  page) also names a file of the source folder (`Image.local`), read from disk instead of the web;
- fetching (I/O): `fetch_all` downloads each original once into the cache, concurrently, with timeouts,
  a total deadline, a byte limit, redirects checked hop by hop, and every connection checked against the
  address it really goes to (private, link-local and metadata addresses refused unless allowed);
- processing (Pillow): `use_profile` makes one variant per output profile (epub, eink, print) from the
  cached original, fits them into a size budget, and points each image at its variant for the writer.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import html
import io
import ipaddress
import logging
import math
import os
import posixpath
import re
import socket
import ssl
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urljoin, urlsplit

import certifi
import httpcore
import httpx
import nh3
from bs4 import Tag
from PIL import Image as PILImage
from PIL import ImageFile, ImageOps

from compile import atomic, pages, sources
from compile.config import ConfigError, ImageSettings
from compile.model import Article, Image

LAZY_ATTRIBUTES = ("data-src", "data-original", "data-lazy-src", "data-url", "data-hi-res-src", "src")
PROXIES = {"images.weserv.nl": "url", "wsrv.nl": "url", "i0.wp.com": None, "i1.wp.com": None, "i2.wp.com": None}
USER_AGENT = "anthology-compiler/0.1 (+https://example.invalid/anthology)"
MAX_REDIRECTS = 5
# A source URL that says http(s) but cannot be parsed (`http://[::1/x.png`, `http://a b/x`, port 99999) is carried
# as a valid URL on this reserved host (RFC 2606: never resolves), so that the sanitizer keeps it and its figure
# becomes a failed image with the usual placeholder, not a lost article. `unwrap_proxy` gives the original back.
MALFORMED_HOST = "malformed-url.invalid"
MALFORMED = "malformed URL"
# A local image of an article without a web address is carried as `http://local-file.invalid/<path>` (reserved,
# never resolves), so that the sanitizer and the store keep it like any image URL; `Image.local` is the file.
LOCAL_HOST = "local-file.invalid"
WEB_SCHEME = re.compile(r"https?:", re.I)
FORBIDDEN_HOST = re.compile(r"[\x00-\x20\x7f#%/:<>?@\[\\\]^|]")  # WHATWG's forbidden host code points
log = logging.getLogger("anthology")


# ---------------------------------------------------------------- finding sources (pure)

def best_source(img: Tag, extra_srcsets: Iterable[str] = (), base_url: str = "") -> str:
    """The best URL for an <img>: the widest srcset candidate, else a lazy-load attribute, else src."""
    return absolute_url(written_source(img, extra_srcsets), base_url)


def written_source(img: Tag, extra_srcsets: Iterable[str] = ()) -> str:
    """`best_source` as the page wrote it, not yet resolved (it may be relative)."""
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
    return url.strip()


def local_path(reference: str, article_source: str) -> str:
    """The file of the source folder a relative image reference names, as a POSIX path relative to the folder:
    `diagram.png` in `content/posts/b/index.md` is `content/posts/b/diagram.png`, a site-root `/images/x.png` is
    `images/x.png` (Hugo's `static/images/x.png` is tried too when it is read). "" for a reference with a scheme
    or a host (`https:`, `data:`, `//host/x`) and for one that leads out of the folder (`../../x.png`)."""
    reference = reference.strip()
    if not reference or reference.startswith("//") or re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", reference):
        return ""
    path = unquote(re.split(r"[?#]", reference, maxsplit=1)[0]).replace("\\", "/")
    if not path or "\0" in path:
        return ""
    folder = "" if path.startswith("/") else posixpath.dirname(article_source)
    joined = posixpath.normpath(posixpath.join(folder, path.lstrip("/")))
    return "" if joined in (".", "") or joined.startswith("../") or joined == ".." else joined


def local_url(path: str) -> str:
    """The carrier URL of a local image (LOCAL_HOST)."""
    return f"http://{LOCAL_HOST}/{quote(path)}"


def locate(reference: str, base_url: str, article_source: str) -> tuple[str, str]:
    """(URL, local path) of an image reference: a relative reference is resolved against the article's web
    address, if it has one, and also names a local file, read instead when it exists; without a web address
    the URL is the local carrier. ("", "") for a reference that is neither."""
    local = local_path(reference, article_source)
    url = absolute_url(reference, base_url) if not local or base_url else ""
    return url or (local_url(local) if local else ""), local


def absolute_url(url: str, base_url: str = "") -> str:
    """`url` resolved against the article's URL; "" unless the result is http(s) (a relative URL without a
    base, `file:`, `data:` ... are refused). A malformed http(s) URL comes back as its carrier (MALFORMED_HOST).
    Never raises."""
    url = url.strip()
    if not url:
        return ""
    if base_url:
        with contextlib.suppress(ValueError):  # a malformed base or URL: the URL is judged on its own
            url = urljoin(base_url, url)
    if url.startswith("//"):
        url = "https:" + url
    if not WEB_SCHEME.match(url):
        return ""
    return url if well_formed(url) else carrier(url)


def well_formed(url: str) -> bool:
    """An http(s) URL that parses, with a host and a valid port, and that can be sent."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        if not host or parts.port == 0 or (FORBIDDEN_HOST.search(host) and ":" not in host):
            return False
        wire_url(url)
    except (ValueError, FetchError):
        return False
    return _sanitizer_keeps(url)


def _sanitizer_keeps(url: str) -> bool:
    """The allow-list sanitizer (WHATWG URL parsing) keeps it as an <img> source: what it drops would leave a
    figure without its URL (`http://1.2.3.4.5/`, `http://xn--zz/`)."""
    return "src=" in nh3.clean(f'<img src="{html.escape(url, quote=True)}">', tags={"img"},
                               attributes={"img": {"src"}}, url_schemes={"http", "https"})


def carrier(url: str) -> str:
    return f"http://{MALFORMED_HOST}/?url={quote(url, safe='')}"


def _parse_srcset(srcset: str) -> list[tuple[float, str]]:
    found = []
    for part in srcset.split(","):
        bits = part.strip().split()
        if not bits:
            continue
        weight = 1.0
        if len(bits) > 1 and bits[1][-1:] in ("w", "x"):
            with contextlib.suppress(ValueError):  # "²w", "1e999w", "nanx": the default weight
                number = float(bits[1][:-1])
                weight = number * (1 if bits[1].endswith("w") else 1000) if 0 <= number < 1e9 else 1.0
        found.append((weight, bits[0]))
    return found


def is_tracking_pixel(img: Tag) -> bool:
    sizes = [img.get("width", ""), img.get("height", "")]
    return all(str(s).strip() in ("0", "1") for s in sizes)


def unwrap_proxy(url: str) -> tuple[str, str]:
    """(original URL, URL as found): `images.weserv.nl/?url=host/x.jpg` becomes `https://host/x.jpg`; a
    malformed URL's carrier stays the URL, and what the source wrote is given as found. Never raises."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return url, url
    if host == MALFORMED_HOST:
        return url, parse_qs(parts.query).get("url", [url])[0]
    if host in PROXIES:
        key = PROXIES[host]
        inner = parse_qs(parts.query).get(key, [""])[0] if key else parts.path.lstrip("/")
        if inner:
            original = inner if WEB_SCHEME.match(inner) else f"https://{inner.lstrip('/')}"
            return absolute_url(original) or url, url
    return url, url


def add_lead_image(article: Article) -> None:
    """The front matter's `image:` becomes the article's first figure, unless the body already shows it.

    Runs after cleaning: the URL is resolved against the article's URL, must be http(s), and is
    written into the body escaped, so it is as safe as any cleaned <img>.
    """
    raw = article.meta.get("front_matter_image")
    if not isinstance(raw, str):
        return
    url, local = locate(raw, article.url, article.source)
    url, found = unwrap_proxy(url)
    if not url:
        if raw.strip():
            article.warn(f"front matter image '{raw[:80]}' is not an http(s) URL; ignored")
        return
    if any(image.url == url for image in article.images):
        return
    src, alt = html.escape(url, quote=True), html.escape(article.title, quote=True)
    figure = f'<figure><img src="{src}" alt="{alt}"/></figure>'
    article.body = figure + article.body
    article.images.insert(0, Image(url=url, found_url=raw.strip() if local else found, alt=article.title,
                                   local=local))


# ---------------------------------------------------------------- cache

def default_cache_dir() -> Path:
    if os.environ.get("ANTHOLOGY_CACHE"):
        return Path(os.environ["ANTHOLOGY_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "anthology"


@dataclass
class Cache:
    """originals/<2>/<sha256 of URL> as downloaded; variants/<profile tag>/<key>.jpg|png as written.

    Every name is made from a hash or from our own profile tag, never from the URL: nothing from a
    source can choose a path. Files appear by rename only, so concurrent builds and killed builds
    see whole files or none; `.part` leftovers of a killed build are swept after an hour.
    """

    root: Path
    write_failed: bool = field(default=False, compare=False)  # warned once; images then fail, articles stay

    @classmethod
    def from_settings(cls, settings: ImageSettings) -> Cache:
        """The configured cache, checked to be usable: ConfigError (exit 2) names it otherwise."""
        cache = cls(Path(settings.cache_dir).expanduser() if settings.cache_dir else default_cache_dir())
        cache.check_writable()
        return cache

    def check_writable(self) -> None:
        """Make the folder, write and remove a file in it: an unusable cache stops the build at its start,
        where every article would otherwise fail one by one."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self.root, prefix=".probe.", suffix=".part")
            try:
                os.write(fd, b"probe")
            finally:
                os.close(fd)
                os.unlink(name)
        except OSError as exc:
            raise ConfigError(f"cache folder {self.root}: cannot be written ({exc.strerror or exc}); choose another "
                              "with ANTHOLOGY_CACHE=FOLDER in the environment or [images] cache_dir in "
                              "anthology.toml") from None

    def key(self, url: str) -> str:
        return hashlib.sha256(url.encode("utf-8")).hexdigest()

    @staticmethod
    def name(image: Image) -> str:
        """What an image is cached under: its URL, or for a local file the SHA-256 of its bytes (the same path in
        another archive, or an edited file, is another image; `local:` never collides with an http(s) URL)."""
        return f"local:{image.digest}" if image.digest else image.url

    def original(self, url: str) -> Path:
        key = self.key(url)
        return self.root / "originals" / key[:2] / key

    def variant(self, url: str, profile: str, suffix: str) -> Path:
        key = self.key(url)
        return self.root / "variants" / profile / f"{key[:24]}{suffix}"

    def write(self, path: Path, data: bytes) -> None:
        """FetchError when the cache cannot take it (disk full): that image fails, said once in the log."""
        try:
            atomic.write_bytes(path, data)
        except OSError as exc:
            if not self.write_failed:
                log.warning("cannot write to the image cache %s (%s): images not yet cached fail", self.root, exc)
            self.write_failed = True
            raise FetchError(f"cannot write the image cache ({exc.strerror or exc})") from None

    def sweep(self, older_than: float = 3600) -> int:
        """Remove temporary files left by killed builds (not those of a build running now)."""
        removed, limit = 0, time.time() - older_than
        for part in self.root.glob("**/.*.part") if self.root.is_dir() else []:
            try:
                if part.stat().st_mtime < limit:
                    part.unlink()
                    removed += 1
            except OSError:
                pass
        return removed


# ---------------------------------------------------------------- fetching (I/O)

class FetchError(Exception):
    """Why an image could not be had; the message goes into the report."""


class Retryable(FetchError):
    pass


def check_url(url: str) -> None:
    """FetchError unless `url` is a well-formed http(s) URL with a host. Never raises anything else."""
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise FetchError(MALFORMED) from None
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"scheme '{parts.scheme or '(none)'}' refused (only http and https)")
    if not host:
        raise FetchError("no host in URL")
    if host == MALFORMED_HOST or not well_formed(url):
        raise FetchError(MALFORMED)


def allowed_address(address: str, allow_private: bool) -> bool:
    """Public addresses always; loopback and private (RFC 1918, ULA) only when allowed; never
    link-local (cloud metadata lives at 169.254.169.254), multicast, reserved or unspecified."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return allow_private
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return False
    if ip.is_global:
        return True
    return allow_private and ip.is_private


def resolve(host: str, port: int, allow_private: bool) -> list[str]:
    """The addresses `host` may be reached at; FetchError when there are none we may use."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve host {host}: {exc}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    refused = [a for a in addresses if not allowed_address(a, allow_private)]
    if refused:
        hint = "" if allow_private else " (set [images] allow_private_hosts = true for intranet hosts)"
        raise FetchError(f"host {host} resolves to a non-public address ({refused[0]}); refused{hint}")
    return addresses


_deadline = threading.local()  # the current download's time.monotonic() deadline, per worker thread


def _bounded(timeout: float | None) -> float | None:
    """`timeout`, cut to what is left before this thread's download deadline."""
    remaining = getattr(_deadline, "value", float("inf")) - time.monotonic()
    if remaining <= 0:
        raise httpcore.ReadTimeout("total deadline passed")
    if remaining == float("inf"):
        return timeout
    return min(timeout, remaining) if timeout is not None else remaining


class _GuardedStream(httpcore.NetworkStream):
    """Every read and write is bounded by the download's total deadline, not only per operation:
    a server dripping one byte at a time (headers included) cannot hold a worker past it."""

    def __init__(self, inner: httpcore.NetworkStream):
        self.inner = inner

    def _timeout(self, timeout: float | None) -> float | None:
        return _bounded(timeout)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, self._timeout(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, self._timeout(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _GuardedStream(self.inner.start_tls(ssl_context, server_hostname, self._timeout(timeout)))

    def get_extra_info(self, info: str):
        return self.inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Connect only to addresses we checked ourselves: the check and the connection use the same
    resolution, so DNS rebinding cannot slip a private address in between, and redirects are covered."""

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private
        self.inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        error: Exception | None = None
        for address in resolve(host, port, self.allow_private):
            try:
                stream = self.inner.connect_tcp(address, port, _bounded(timeout),
                                                local_address, socket_options)
                return _GuardedStream(stream)
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"no address for {host}")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def new_pool(settings: ImageSettings) -> httpcore.ConnectionPool:
    return httpcore.ConnectionPool(
        ssl_context=ssl.create_default_context(cafile=certifi.where()),
        max_connections=max(1, settings.concurrency),
        max_keepalive_connections=max(1, settings.concurrency),
        network_backend=GuardedBackend(settings.allow_private_hosts),
    )


def download(pool: httpcore.ConnectionPool, url: str, settings: ImageSettings, deadline: float) -> bytes:
    """GET with redirects checked hop by hop, a byte limit read as it streams, and a total deadline."""
    timeouts = {"connect": settings.connect_timeout, "read": settings.read_timeout,
                "write": settings.read_timeout, "pool": settings.total_timeout}
    headers = [(b"User-Agent", USER_AGENT.encode()), (b"Accept", b"image/*")]
    for _hop in range(MAX_REDIRECTS + 1):
        check_url(url)
        _deadline.value = deadline
        try:
            target = wire_url(url)
            with pool.stream("GET", target, headers=headers, extensions={"timeout": timeouts}) as response:
                status = response.status
                fields = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
                if status in (301, 302, 303, 307, 308):
                    location = fields.get("location", "").strip()
                    if not location:
                        raise FetchError(f"HTTP {status} without a Location")
                    try:
                        url = urljoin(url, location)
                    except ValueError:
                        raise FetchError(f"HTTP {status} to a {MALFORMED}") from None
                    continue
                if status >= 500 or status == 429:
                    raise Retryable(f"HTTP {status}")
                if status >= 400:
                    raise FetchError(f"HTTP {status}")
                if status != 200:
                    raise FetchError(f"HTTP {status}: no image in the response")
                declared = fields.get("content-length", "")
                if declared.isdigit() and int(declared) > settings.max_bytes:
                    raise FetchError(f"too large: {int(declared)} bytes declared > limit of {settings.max_bytes}")
                return _read_limited(response, settings.max_bytes)
        except httpcore.TimeoutException:
            if time.monotonic() >= deadline:
                raise FetchError(f"took longer than the total timeout of {settings.total_timeout:g} s") from None
            raise Retryable(f"timed out (no data for {settings.read_timeout:g} s)") from None
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
            raise FetchError(f"connection failed: {exc or type(exc).__name__}") from None
        except ssl.SSLError as exc:
            raise FetchError(f"TLS failed: {exc}") from None
        finally:
            _deadline.value = float("inf")
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def wire_url(url: str) -> httpcore.URL:
    """The URL as sent: IDNA host (例子.测试 -> xn--...), non-ASCII path and query percent-encoded."""
    try:
        parsed = httpx.URL(url)
        return httpcore.URL(scheme=parsed.raw_scheme, host=parsed.raw_host, port=parsed.port,
                            target=parsed.raw_path)
    except (httpx.InvalidURL, UnicodeError, TypeError, ValueError) as exc:
        raise FetchError(f"{MALFORMED} ({exc})") from None


def _read_limited(response, limit: int) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_stream():
        size += len(chunk)
        if size > limit:
            raise FetchError(f"too large: aborted past the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch_one(pool: httpcore.ConnectionPool, url: str, settings: ImageSettings, sleep=time.sleep) -> bytes:
    """Download with retries (timeouts, 5xx, 429) and exponential backoff, all within total_timeout."""
    deadline = time.monotonic() + settings.total_timeout
    delay = settings.backoff
    for attempt in range(settings.retries + 1):
        try:
            return download(pool, url, settings, deadline)
        except Retryable as exc:
            if attempt == settings.retries or time.monotonic() + delay >= deadline:
                raise FetchError(f"{exc} (after {attempt + 1} attempts)") from None
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


@dataclass
class FetchSummary:
    fetched: int = 0  # downloaded (or read from the source folder) in this build
    cached: int = 0  # already in the cache
    failed: int = 0
    bytes: int = 0  # downloaded in this build
    local: int = 0  # of which read from the source folder (relative references)
    seconds: float = 0.0
    profiles: dict = field(default_factory=dict)  # per output profile: variants' total size, budget, recompression

    def line(self) -> str:
        return (f"images: {self.fetched} fetched ({self.bytes / 1e6:.1f} MB), {self.cached} from cache, "
                f"{self.failed} failed, in {self.seconds:.1f} s")


def fetch_all(
    images_: list[Image],
    settings: ImageSettings,
    cache: Cache,
    offline: bool = False,
    on_done: Callable[[Image], None] | None = None,
    source: Path | None = None,
) -> FetchSummary:
    """Put each image's original into the cache (checked to be a decodable image) and set its status.

    Variants are made later, per output, by `use_profile`. Images sharing a URL are fetched once. An image with
    a `local` file in `source` (the source folder) is read from it, offline too, through the same checks as the
    articles (compile/sources.py); a missing one falls back to its web URL, if it has one.
    """
    started = time.monotonic()
    summary = FetchSummary()
    lock = threading.Lock()
    host_slots: dict[str, threading.Semaphore] = {}
    cache.sweep()

    def work(image: Image, pool: httpcore.ConnectionPool) -> None:
        data = b""
        try:
            data = _local_original(image, source, settings.max_bytes)
            original = cache.original(Cache.name(image))
            if original.is_file():
                image.from_cache = True
                _describe_original(image, original)
            elif offline and not data:
                raise FetchError("offline, and not in the image cache")
            else:
                data = data or _download(image, pool)
                with decoded(data, settings.max_pixels, VERIFY_BOX) as picture:  # only checked: a small one
                    (image.width, image.height), image.bytes = picture.info["full_size"], len(data)
                cache.write(original, data)
            image.status, image.reason = "ok", ""
        except FetchError as exc:
            image.status, image.reason = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - one odd image must not sink the build
            image.status, image.reason = "failed", f"internal error: {type(exc).__name__}: {exc}"
        with lock:
            if image.status == "ok":
                summary.cached += image.from_cache
                summary.fetched += not image.from_cache
                summary.local += bool(image.digest)
                summary.bytes += len(data) if not image.from_cache else 0
            else:
                summary.failed += 1
            if on_done:
                on_done(image)  # under the lock: callers (a progress bar) need not be thread-safe

    def _download(image: Image, pool: httpcore.ConnectionPool) -> bytes:
        host = urlsplit(image.url).hostname or ""
        with lock:
            slot = host_slots.setdefault(host, threading.Semaphore(max(1, settings.per_host)))
        with slot:
            return fetch_one(pool, image.url, settings)

    unique: dict[str, list[Image]] = {}
    for image in images_:
        unique.setdefault(image.url, []).append(image)
    with new_pool(settings) as pool, ThreadPoolExecutor(max_workers=max(1, settings.concurrency)) as workers:
        list(workers.map(lambda img: work(img, pool), [group[0] for group in unique.values()]))
    for group in unique.values():
        for twin in group[1:]:
            _copy_result(group[0], twin)
            if on_done:
                on_done(twin)
    summary.seconds = time.monotonic() - started
    return summary


def _local_original(image: Image, source: Path | None, limit: int) -> bytes:
    """The bytes of the image's local file, its digest set; b"" for an image to fetch from the web. FetchError for
    a local image whose file is missing and that has no web URL to fall back to, and for a malformed URL."""
    data = _local_bytes(image, source, limit)
    if data:
        image.digest = hashlib.sha256(data).hexdigest()
        return data
    if image.url.startswith(f"http://{LOCAL_HOST}/"):
        tried = f" (nor static/{image.local})" if image.local and image.found_url.startswith("/") else ""
        raise FetchError(f"local file not found: {image.local or unquote(image.url.split('/', 3)[3])}{tried}")
    check_url(image.url)
    return b""


def _local_bytes(image: Image, source: Path | None, limit: int) -> bytes | None:
    """The bytes of the image's local file, read inside the source folder (never through a link out of it, at
    most `limit` bytes); a site-root reference (`/images/x.png`) is also looked for in Hugo's `static/`. None
    when there is no such file; FetchError when there is one that may not be read."""
    if not image.local or source is None:
        return None
    candidates = [image.local] + ([f"static/{image.local}"] if image.found_url.startswith("/") else [])
    for candidate in candidates:
        if not os.path.lexists(source / candidate):
            continue
        try:
            return sources.read_inside(source, candidate, limit)
        except sources.Skipped as exc:
            raise FetchError(f"local file {candidate}: {exc}") from None
    return None


def _describe_original(image: Image, original: Path) -> None:
    """Size and pixel dimensions of a cached original, from its header only (a cache hit stays cheap)."""
    image.bytes = original.stat().st_size
    try:
        with PILImage.open(original, formats=FORMATS) as probe:
            image.width, image.height = probe.size
    except Exception as exc:  # noqa: BLE001 - a damaged cache entry is refetched next time
        original.unlink(missing_ok=True)
        raise FetchError(f"cached copy unreadable ({exc}); removed, it is fetched again next build") from None


def _copy_result(source: Image, target: Image) -> None:
    for name in ("status", "reason", "path", "media_type", "width", "height", "bytes", "from_cache", "digest"):
        setattr(target, name, getattr(source, name))
    target.variants = dict(source.variants)


# ---------------------------------------------------------------- processing (Pillow)

FORMATS = ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"]  # the only decoders hostile bytes ever reach
# decode() refuses by our own max_pixels before decoding; Pillow's warning below its own limit is noise.
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


def decode(data: bytes, max_pixels: int, box: tuple[int, int] | None = None) -> PILImage.Image:
    """The first frame, EXIF-oriented and fully decoded; FetchError for bombs and broken files. With `box`, a
    JPEG may be decoded at a reduced scale that still covers it (what a variant for `box` needs)."""
    with _decoding(data, max_pixels, box) as picture:
        return picture


@contextlib.contextmanager
def decoded(data: bytes, max_pixels: int, box: tuple[int, int] | None = None) -> Iterator[PILImage.Image]:
    """`decode`, holding the picture's pixels in the process-wide budget (PIXELS) while the block runs; the
    picture is closed (its pixels freed) when the block ends, before the budget is given back."""
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


@dataclass(frozen=True)
class Profile:
    """How one output wants its images: fitted into `box` pixels, JPEG `quality`, maybe grayscale."""

    name: str  # epub | eink | print
    box: tuple[int, int]
    quality: int = 80
    grayscale: bool = False

    @property
    def tag(self) -> str:
        """The variant folder: changing any parameter makes new variants, never reuses stale ones."""
        gray = "-gray" if self.grayscale else ""
        return f"{self.name}-{self.box[0]}x{self.box[1]}-q{self.quality}{gray}"


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
    out = io.BytesIO()
    if as_png:
        picture.save(out, "PNG", optimize=True)
    else:
        picture.save(out, "JPEG", quality=target.quality, optimize=True, progressive=True)
    return out.getvalue(), ".png" if as_png else ".jpg", picture.size


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
        if alpha.getextrema()[0] < 255:
            return True
    if picture.mode in ("1", "P"):
        return True
    if picture.mode in ("RGB", "L", "RGBA", "LA"):
        sample = picture if picture.width * picture.height <= 1_000_000 else picture.resize((800, 800))
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


def process(image: Image, data: bytes, cache: Cache, settings: ImageSettings,
            target: Profile | str = "epub") -> None:
    """Decode `data` and write `image`'s variant for one profile; set image.path and friends."""
    target = profile(target, settings) if isinstance(target, str) else target
    _make_variant(image, lambda box: decoded(data, settings.max_pixels, box), cache, target)


Loader = Callable[[tuple[int, int]], contextlib.AbstractContextManager[PILImage.Image]]


def _make_variant(image: Image, load: Loader, cache: Cache, target: Profile) -> None:
    """`load(box)` decodes the original for a variant fitting `box`; its pixels stay in the budget until the
    variant is encoded."""
    existing = [p for p in (cache.variant(Cache.name(image), target.tag, s) for s in (".jpg", ".png")) if p.is_file()]
    if existing:
        path = existing[0]
        with PILImage.open(path) as done:
            size = done.size
    else:
        with load(target.box) as picture:
            encoded, suffix, size = render(picture, target)
        path = cache.variant(Cache.name(image), target.tag, suffix)
        cache.write(path, encoded)
    image.path = path
    image.media_type = "image/png" if path.suffix == ".png" else "image/jpeg"
    image.variants[target.name] = {"width": size[0], "height": size[1], "bytes": path.stat().st_size,
                                   "media_type": image.media_type, "profile": target.tag}
    image.status, image.reason = "ok", ""


# Each step: (JPEG quality, share of the box's side). PNGs only shrink.
BUDGET_LADDER = ((70, 1.0), (60, 0.85), (50, 0.7), (40, 0.55), (35, 0.45), (30, 0.35))


def use_profile(images_: list[Image], target: Profile, cache: Cache, settings: ImageSettings,
                budget_bytes: int = 0) -> dict:
    """Make (or reuse) every fetched image's variant for `target` and point the images at it.

    When the variants add up to more than `budget_bytes` (0: no budget), they are made again with
    lower quality and smaller sides, step by step, until they fit; the returned entry says so.
    """
    ok = list({image.url: image for image in images_ if image.status == "ok"}.values())
    chosen = target
    total = _variants_for(ok, chosen, cache, settings)
    entry = {"profile": target.tag, "images": len(ok), "bytes": total, "budget": budget_bytes or None,
             "recompressed": None}
    if budget_bytes and total > budget_bytes:
        first = total
        for quality, share in BUDGET_LADDER:
            box = (max(200, round(target.box[0] * share)), max(200, round(target.box[1] * share)))
            chosen = replace(target, box=box, quality=min(quality, target.quality))
            total = _variants_for(ok, chosen, cache, settings)
            if total <= budget_bytes:
                break
        fits = "fits" if total <= budget_bytes else "still over budget"
        entry.update(profile=chosen.tag, bytes=total, recompressed=(
            f"{target.name} images were {first / 1e6:.1f} MB, over the budget of {budget_bytes / 1e6:.1f} MB; "
            f"recompressed at JPEG quality {chosen.quality}, at most {chosen.box[0]}×{chosen.box[1]} px: "
            f"{total / 1e6:.1f} MB ({fits})"))
    twins = {image.url: image for image in ok}
    for image in images_:
        source = twins.get(image.url)
        if source is not None and source is not image:
            image.path, image.media_type = source.path, source.media_type
            image.variants[target.name] = dict(source.variants.get(target.name, {}))
    return entry


def _variants_for(ok: list[Image], target: Profile, cache: Cache, settings: ImageSettings) -> int:
    def one(image: Image) -> int:
        try:
            _make_variant(image, lambda box: _load_original(image, cache, settings, box), cache, target)
            return image.variants[target.name]["bytes"]
        except FetchError as exc:
            image.status, image.reason, image.path = "failed", str(exc), None
            return 0
        except Exception as exc:  # noqa: BLE001 - one odd image must not sink its article or the build
            image.status, image.reason, image.path = "failed", f"internal error: {type(exc).__name__}: {exc}", None
            return 0

    with ThreadPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, 4))) as workers:
        return sum(workers.map(one, ok))


def _load_original(image: Image, cache: Cache, settings: ImageSettings,
                   box: tuple[int, int]) -> contextlib.AbstractContextManager[PILImage.Image]:
    original = cache.original(Cache.name(image))
    try:
        data = original.read_bytes()
    except OSError as exc:
        raise FetchError(f"the cached original is gone ({exc})") from None
    return decoded(data, settings.max_pixels, box)


def report_entry(image: Image, article_id: str) -> dict:
    entry = {"url": image.url, "article": article_id, "status": image.status, "reason": image.reason}
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


def summary_dict(summary: FetchSummary | None) -> dict | None:
    return asdict(summary) if summary is not None else None
