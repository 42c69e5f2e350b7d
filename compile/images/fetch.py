"""Fetching, the only network I/O of a build: each original once into the cache, concurrently, with timeouts, a
total deadline, a byte limit, redirects checked hop by hop, and every connection checked against the address it
really goes to. A local image (`Image.local`) is read from the source folder instead, offline too."""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import certifi
import httpcore
import httpx
from PIL import Image as PILImage

from compile import sources
from compile.config import ImageSettings
from compile.images.cache import Cache, Failures
from compile.images.decode import FORMATS, VERIFY_BOX, decoded
from compile.images.errors import FetchError
from compile.images.markup import LOCAL_HOST, MALFORMED, MALFORMED_HOST, local_path, well_formed
from compile.model import Image

USER_AGENT = "anthology-compiler/0.1 (+https://example.invalid/anthology)"
MAX_REDIRECTS = 5


class Retryable(FetchError):
    pass


class NotTried(FetchError):
    """The image was not asked for (its host is taken to be down): nothing to remember of it."""


class Unresolvable(FetchError):
    """`host` has no address. When it is the image's own host (not a redirect's), remembered for the host
    (Failures.remember_host), not for each of its images."""

    def __init__(self, message: str, host: str):
        super().__init__(message)
        self.host = host


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
        raise Unresolvable(f"cannot resolve host {host}: {exc}", host) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))  # IPv4 or IPv6: a str
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
        self.resolved: dict[tuple[str, int], list[str] | FetchError] = {}
        self.lock = threading.Lock()
        self.host_locks: dict[tuple[str, int], threading.Lock] = {}

    def addresses(self, host: str, port: int) -> list[str]:
        """`resolve`, once per host and port for this pool (one build): 78 images on 7 hosts are 7 lookups, and the
        other images of a host that cannot be resolved fail at once. A resolver that answers parallel lookups
        slowly (5 s each here when they come 16 at a time) then costs a build one wait per host, not per image."""
        key = (host, port)
        with self.lock:
            host_lock = self.host_locks.setdefault(key, threading.Lock())
        with host_lock:
            if key not in self.resolved:
                try:
                    self.resolved[key] = resolve(host, port, self.allow_private)
                except FetchError as exc:
                    self.resolved[key] = exc
        found = self.resolved[key]
        if isinstance(found, Unresolvable):
            raise Unresolvable(str(found), found.host)
        if isinstance(found, FetchError):
            raise FetchError(str(found))
        return found

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        error: Exception | None = None
        for address in self.addresses(host, port):
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
    answered = False  # a status line came, on some hop: a timeout after it is no sign of a host that is down
    for _hop in range(MAX_REDIRECTS + 1):
        check_url(url)
        _deadline.value = deadline
        try:
            target = wire_url(url)
            with pool.stream("GET", target, headers=headers, extensions={"timeout": timeouts}) as response:
                answered = True
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
                raise FetchError(f"took longer than the total timeout of {settings.total_timeout:g} s",
                                 unanswered=not answered) from None
            raise Retryable(f"timed out (no data for {settings.read_timeout:g} s)", unanswered=not answered) from None
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
            if isinstance(exc.__cause__, ssl.SSLError):  # httpcore's ConnectError: the host did answer, in TLS
                raise FetchError(f"TLS failed: {exc.__cause__}") from None
            raise FetchError(f"connection failed: {exc or type(exc).__name__}", unanswered=not answered) from None
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
    answered = False  # by an earlier attempt (a 503, then a timeout: the host is up)
    for attempt in range(settings.retries + 1):
        try:
            return download(pool, url, settings, deadline)
        except Retryable as exc:
            answered = answered or not exc.unanswered
            if attempt == settings.retries or time.monotonic() + delay >= deadline:
                raise FetchError(f"{exc} (after {attempt + 1} attempts)", unanswered=not answered) from None
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


@dataclass
class FetchSummary:
    fetched: int = 0  # downloaded (or read from the source folder) in this build
    cached: int = 0  # already in the cache
    failed: int = 0
    not_retried: int = 0  # of the failed: failed in a recent build, not tried again (cache.Failures)
    bytes: int = 0  # downloaded in this build
    local: int = 0  # of which read from the source folder (relative references)
    seconds: float = 0.0
    profiles: dict = field(default_factory=dict)  # per output profile: variants' total size, budget, recompression


def fetch_all(
    images_: list[Image],
    settings: ImageSettings,
    cache: Cache,
    offline: bool = False,
    on_done: Callable[[Image], None] | None = None,
    source: Path | None = None,
    retry: bool = False,
) -> FetchSummary:
    """Put each image's original into the cache (checked to be a decodable image) and set its status.

    Variants are made later, per output, by `use_profile`. Images sharing a URL are fetched once. An image with
    a `local` file in `source` (the source folder) is read from it, offline too, through the same checks as the
    articles (compile/sources.py); a missing one falls back to its web URL, if it has one. A download that failed
    within `settings.remember_failures` seconds, under the same settings, is not tried again unless `retry`
    (cache.Failures).
    """
    started = time.monotonic()
    summary = FetchSummary()
    failures = Failures(cache, settings, consult=not retry)
    dead = _DeadHosts(failures)
    lock = threading.Lock()
    host_slots: dict[str, threading.Semaphore] = {}
    origins = _Origins()
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
                data = _checked(image, data) if data else _downloaded(image, pool)
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

    def _checked(image: Image, data: bytes) -> bytes:
        with decoded(data, settings.max_pixels, VERIFY_BOX) as picture:  # only checked: a small one
            (image.width, image.height), image.bytes = picture.info["full_size"], len(data)
        return data

    def _downloaded(image: Image, pool: httpcore.ConnectionPool) -> bytes:
        """Downloaded and checked to decode; what fails is remembered, and what failed recently is not tried."""
        host = _hostname(image.url)
        if earlier := dead.remembered(host) or failures.reason(image.url):
            with lock:
                summary.not_retried += 1
            raise FetchError(earlier)
        if unresolved := dead.now(host):  # in this build: the lookup would fail again, as the pool's did
            raise FetchError(unresolved)
        origin = _origin(image.url)
        with lock:
            slot = host_slots.setdefault(host, threading.Semaphore(max(1, settings.per_host)))
        try:
            with slot:
                origins.check(origin)
                try:
                    data = fetch_one(pool, image.url, settings)
                except FetchError as exc:
                    origins.heard(origin, exc)
                    raise
                origins.heard(origin)
            data = _checked(image, data)
        except NotTried:
            raise
        except Unresolvable as exc:
            if exc.host == host:
                dead.failed(host, str(exc))
            else:  # a redirect's host: this URL failed, not the other images of its host
                failures.remember(image.url, str(exc))
            raise
        except FetchError as exc:
            failures.remember(image.url, str(exc))
            raise
        failures.forget(image.url)
        return data

    unique: dict[str, list[Image]] = {}
    for image in images_:
        unique.setdefault(image.url, []).append(image)
    first = [group[0] for group in unique.values()]
    # An image of a host remembered as unresolvable is found in the cache or fails at once: done here, thousands of
    # them cost the pool's threads more in handing the work over than in the work.
    on_dead_host = [not image.local and dead.remembered(_hostname(image.url)) is not None for image in first]
    with new_pool(settings) as pool, ThreadPoolExecutor(max_workers=max(1, settings.concurrency)) as workers:
        for image in itertools.compress(first, on_dead_host):
            work(image, pool)
        list(workers.map(lambda img: work(img, pool),
                         [image for image, dead_host in zip(first, on_dead_host, strict=True) if not dead_host]))
    for group in unique.values():
        for twin in group[1:]:
            _copy_result(group[0], twin)
            if on_done:
                on_done(twin)
    summary.seconds = time.monotonic() - started
    return summary


def _hostname(url: str) -> str:
    """The URL's host, as `urlsplit` spells it (lower case; "" for none, or for a URL it cannot split)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _origin(url: str) -> str:
    """Scheme, host and port: what answers a request (a site's http port may be dead where its https is not)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or {'http': 80, 'https': 443}.get(parts.scheme)}"


class _DeadHosts:
    """Hosts without an address: found so in this build (their other images fail at once), or remembered so from a
    recent one (Failures.remember_host: not looked up again), each read once a build."""

    def __init__(self, failures: Failures):
        self.failures = failures
        self.lock = threading.Lock()
        self.found: dict[str, str] = {}
        self.earlier: dict[str, str | None] = {}

    def now(self, host: str) -> str | None:
        """Why `host` has no address, if a lookup of this build found so."""
        with self.lock:
            return self.found.get(host)

    def remembered(self, host: str) -> str | None:
        """Why `host` had no address in a recent build (Failures.host_reason), if it had none."""
        with self.lock:
            if host not in self.earlier:
                self.earlier[host] = self.failures.host_reason(host)
            return self.earlier[host]

    def failed(self, host: str, reason: str) -> None:
        with self.lock:
            first = host not in self.found
            self.found.setdefault(host, reason)
        if first:
            self.failures.remember_host(host, reason)


class _Origins:
    """Which origins answered in this build. One that let two downloads time out or fail to connect, and answered
    none, is taken to be down: its images still waiting fail at once (NotTried: not remembered, a later build asks
    again), instead of each waiting out its timeouts (20 images on a host that never answers took 51 s with 8 at
    a time; a few hundred took minutes)."""

    SILENT_AFTER = 2  # failures without an answer: one could be a fluke of a live host

    def __init__(self):
        self.lock = threading.Lock()
        self.answered: set[str] = set()
        self.unanswered: dict[str, list[str]] = {}

    def heard(self, origin: str, error: FetchError | None = None) -> None:
        with self.lock:
            if error is None or not error.unanswered:
                self.answered.add(origin)
            elif origin not in self.answered:
                self.unanswered.setdefault(origin, []).append(str(error))

    def check(self, origin: str) -> None:
        """NotTried if `origin` is taken to be down."""
        with self.lock:
            reasons = [] if origin in self.answered else self.unanswered.get(origin, [])
        if len(reasons) >= self.SILENT_AFTER:
            raise NotTried(f"not tried: {origin} answered none of this build's first requests ({reasons[0]})",
                           unanswered=True)


def _local_original(image: Image, source: Path | None, limit: int) -> bytes:
    """The bytes of the image's local file, its digest set; b"" for an image to fetch from the web. FetchError for
    a local image whose file is missing and that has no web URL to fall back to, and for a malformed URL."""
    data = _local_bytes(image, source, limit)
    if data:
        image.digest = hashlib.sha256(data).hexdigest()
        return data
    if image.url.startswith(f"http://{LOCAL_HOST}/"):
        static = _static_candidate(image, source)
        tried = f" (nor {static})" if static else ""
        raise FetchError(f"local file not found: {image.local or unquote(image.url.split('/', 3)[3])}{tried}")
    check_url(image.url)
    return b""


def _local_bytes(image: Image, source: Path | None, limit: int) -> bytes | None:
    """The bytes of the image's local file, read inside the source folder (never through a link out of it, at
    most `limit` bytes); else that of Hugo's `static/` (`_static_candidate`). None when there is no such file;
    FetchError when there is one that may not be read."""
    if not image.local or source is None:
        return None
    for candidate in filter(None, (image.local, _static_candidate(image, source))):
        if not os.path.lexists(source / candidate):
            continue
        try:
            return sources.read_inside(source, candidate, limit)
        except sources.Skipped as exc:
            raise FetchError(f"local file {candidate}: {exc}") from None
    return None


def _static_candidate(image: Image, source: Path | None) -> str:
    """Where Hugo's `static/` holds the image a local reference names: a site-root `/images/x.png` is
    `static/images/x.png`; so is a relative `images/x.png`, which many themes' `<base href>` make site-root (a
    blog's posts in `content/post/2015/` naming `images/x.png` kept in `static/images/`). "" for none, and in an
    archive without a `static/` folder."""
    if not image.local or source is None or not (source / "static").is_dir():
        return ""
    if image.found_url.startswith("/"):
        return f"static/{image.local}"
    relative = local_path(image.found_url, "")
    return f"static/{relative}" if relative and f"static/{relative}" != image.local else ""


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

