"""Authenticated cache entries: an HMAC-SHA256 with a per-user secret key kept outside any archive.

The cache folder may sit where an archive's author can write (docs/security.md): an entry is trusted only if
its MAC verifies with a key they cannot know. The key is `$XDG_CONFIG_HOME/anthology/cache.key` (else
`~/.config/anthology/cache.key`): 32 random bytes, made 0600 on first use and published by a hard link, so two
builds starting at once agree on one key. A key that cannot be read or made disables the caches (every entry
is a miss), never the build.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib.util
import logging
import os
import secrets
import stat
import tempfile
import threading
from pathlib import Path

from compile import atomic

log = logging.getLogger("anthology")

KEY_BYTES = 32
HEADER = b"anthology-mac-v1 "  # then the MAC in hex and a newline, then the payload
_keys: dict[Path, bytes | None] = {}
_lock = threading.Lock()
PACKAGE = Path(__file__).resolve().parent  # compile/


def key_path() -> Path:
    return _key_path(os.environ.get("XDG_CONFIG_HOME"), os.environ.get("HOME"))


@functools.lru_cache(maxsize=8)
def _key_path(config: str | None, home: str | None) -> Path:
    """By the variables it depends on: Path.home() takes ~0.1 ms, and every entry read asks (a rebuild: thousands)."""
    base = config or Path.home() / ".config"
    return Path(base) / "anthology" / "cache.key"


def secret() -> bytes | None:
    """This user's key, made on first use; None when it cannot be had (the caches are then off)."""
    try:
        path = key_path()
    except RuntimeError:  # no home directory
        return None
    with _lock:
        if path not in _keys:
            _keys[path] = _read(path) or _create(path)
            if _keys[path] is None:
                log.warning("cache key %s cannot be read or made: cached articles and PDF chunks are not used", path)
        return _keys[path]


def _read(path: Path) -> bytes | None:
    """The key, if it is a regular file of ours that nobody else can read or write."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            return None
        key = file.read(KEY_BYTES + 1)
    return key if len(key) == KEY_BYTES else None


def _create(path: Path) -> bytes | None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=".cache.key.", suffix=".part")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(secrets.token_bytes(KEY_BYTES))
            os.link(name, path)  # fails if another build made one first: then theirs is the key
        except FileExistsError:
            pass
        finally:
            os.unlink(name)
    except OSError:
        return None
    return _read(path)


def _mac(key: bytes, kind: str, name: str, parts: tuple[bytes, ...]) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in (kind.encode(), name.encode(), *parts):  # each length-prefixed: no two splits collide
        mac.update(len(part).to_bytes(8, "big"))
        mac.update(part)
    return mac.hexdigest().encode()


def seal(kind: str, name: str, payload: bytes, *extra: bytes) -> bytes | None:
    """`payload` with a MAC over the entry's kind, its name (the cache key), the payload and `extra` (bytes
    kept beside it, such as a chunk's PDF); None when there is no key (do not cache)."""
    key = secret()
    if key is None:
        return None
    return HEADER + _mac(key, kind, name, (payload, *extra)) + b"\n" + payload


def unseal(kind: str, name: str, sealed: bytes, *extra: bytes) -> bytes | None:
    """The payload if the MAC verifies (same kind, name, payload and extra), else None: a miss."""
    key = secret()
    if key is None or not sealed.startswith(HEADER):
        return None
    mac, _, payload = sealed[len(HEADER):].partition(b"\n")
    return payload if hmac.compare_digest(mac, _mac(key, kind, name, (payload, *extra))) else None


@functools.cache
def code_version() -> str:
    """A digest of the package's own source: a new version of the code invalidates every entry."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def digest(*parts: bytes | str) -> str:
    """A cache key: the SHA-256 of `parts`, each ended by a NUL (no two splits of the same bytes collide)."""
    found = hashlib.sha256()
    for part in parts:
        found.update(part.encode() if isinstance(part, str) else part)
        found.update(b"\0")
    return found.hexdigest()


class Entries:
    """Sealed files of one kind in a folder of the cache, by key (a hex digest): read and typeset articles, QR
    codes, the outlet index's order, fonts' subsets, PDF chunks' facts (sealed with their PDF: `extra`). A file
    that is missing, unreadable or not sealed with this user's key is a miss; one that cannot be written is not
    kept (said once), and the build goes on."""

    def __init__(self, folder: Path, kind: str, suffix: str = ".json"):
        self.folder, self.kind, self.suffix = folder, kind, suffix
        self.write_failed = False

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}{self.suffix}"

    def get(self, key: str, *extra: bytes) -> bytes | None:
        try:
            return unseal(self.kind, key, read_entry(self.path(key)), *extra)
        except OSError:
            return None

    def put(self, key: str, payload: bytes, *extra: bytes) -> None:
        sealed = seal(self.kind, key, payload, *extra)
        if sealed is None:
            return
        try:
            atomic.write_bytes(self.path(key), sealed)
        except OSError as exc:
            self.failed(exc)

    def failed(self, exc: OSError) -> None:
        """A full or broken cache costs speed, never an output: said once."""
        if not self.write_failed:
            log.warning("cannot keep %s entries in %s (%s); going on without", self.kind, self.folder, exc)
        self.write_failed = True


@functools.cache
def installed(package: str) -> str:
    """Which installation of `package` is here, in microseconds (importlib.metadata takes ~60 ms): its
    __init__.py's size and time, which every upgrade rewrites; "" when it is not installed."""
    spec = importlib.util.find_spec(package)
    info = Path(spec.origin).stat() if spec and spec.origin else None
    return f"{package}:{info.st_size}:{info.st_mtime_ns}" if info else ""


def file_state(path: Path) -> str:
    """A file as it is now, for a key: its path, size and modification time (or that it is missing)."""
    try:
        info = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{info.st_size}:{info.st_mtime_ns}"


MAX_ENTRY = 1 << 30  # bytes: more than any entry the code writes (a chunk's PDF, a font's subset)


def read_entry(path: Path) -> bytes:
    """A cache file's bytes, if it is a regular file, not a link: a FIFO or a link to /dev/zero planted in the
    cache folder must not hang the build or fill its memory (OSError, a miss, like a missing file)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ENTRY:
            raise OSError(f"{path} is not a cache entry")
        return file.read(MAX_ENTRY + 1)
