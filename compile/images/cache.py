"""The image cache: originals as downloaded, variants as written, every file appearing by rename only."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from compile import atomic, cachekey
from compile.config import REMEMBER_AT_MOST, ImageSettings
from compile.errors import ConfigError
from compile.images.errors import FetchError
from compile.model import Image

log = logging.getLogger("anthology")


def default_cache_dir() -> Path:
    if os.environ.get("ANTHOLOGY_CACHE"):
        return Path(os.environ["ANTHOLOGY_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "anthology"


@dataclass
class Cache:
    """originals/<2>/<sha256 of URL> as downloaded; variants/<profile tag>.<encoding>/<key>.jpg|png as written.

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
        """Remove temporary files left by killed builds (not those of a build running now), and failures
        older than any build may remember them (Failures)."""
        removed, limit = 0, time.time() - older_than
        for part in self.root.glob("**/.*.part") if self.root.is_dir() else []:
            try:
                if part.stat().st_mtime < limit:
                    part.unlink()
                    removed += 1
            except OSError:
                pass
        return removed + _sweep_failures(self.root / Failures.FOLDER, Failures.LONGEST)


SHARD = re.compile(r"[0-9a-f]{2}")
ENTRY = re.compile(r"[0-9a-f]{64}\.json")
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def _sweep_failures(folder: Path, seconds: float) -> int:
    """Remove remembered failures older than `seconds`: regular files named as entries, in `failed/<2 hex>/`, never
    through a link (the cache folder is not trusted: a `failed` or a shard planted as a link to another folder
    must not make a build delete that folder's files). Each folder is opened without following a link, and
    its files are removed relative to it."""
    removed, limit = 0, time.time() - seconds
    try:
        top = os.open(folder, _DIRECTORY)
    except OSError:
        return 0
    try:
        for shard in filter(SHARD.fullmatch, os.listdir(top)):
            try:
                directory = os.open(shard, _DIRECTORY, dir_fd=top)
            except OSError:
                continue
            try:
                for name in filter(ENTRY.fullmatch, os.listdir(directory)):
                    with contextlib.suppress(OSError):
                        info = os.stat(name, dir_fd=directory, follow_symlinks=False)
                        if stat.S_ISREG(info.st_mode) and info.st_mtime < limit:
                            os.unlink(name, dir_fd=directory)
                            removed += 1
            finally:
                os.close(directory)
    finally:
        os.close(top)
    return removed


class Failures:
    """Downloads that failed in recent builds, remembered for `seconds` by URL: a rebuild does not wait again on
    a dead host, a missing image or a network that is down (an archive's dead links otherwise cost every build
    their timeouts: 15 s of the 17 s a 36-article rebuild took here without a network). Sealed files in the cache
    (cachekey.Entries): one not written by this user is a miss, so the worst a foreign entry does is nothing.
    `consult=False` (--retry-images) tries every image again and remembers what fails anew. A failure is kept
    under the settings it happened with (`OUTCOME`): one refused by them (a private host, too many bytes, a
    timeout) is tried again as soon as they change."""

    FOLDER = "failed"
    LONGEST = REMEMBER_AT_MOST  # the most a config may set: older entries are swept
    OUTCOME = ("allow_private_hosts", "max_bytes", "max_pixels", "connect_timeout", "read_timeout", "total_timeout",
               "retries", "backoff")

    def __init__(self, cache: Cache, settings: ImageSettings, consult: bool = True):
        self.seconds, self.consult = settings.remember_failures, consult
        self.entries = cachekey.Entries(cache.root / self.FOLDER, "image-failure")
        self.salt = json.dumps([cachekey.code_version(), *(getattr(settings, name) for name in self.OUTCOME)])

    def key(self, url: str) -> str:
        return cachekey.digest(self.salt, url)

    def host_key(self, host: str) -> str:
        return cachekey.digest(self.salt, "host", host)

    def reason(self, url: str, now: float | None = None) -> str | None:
        """Why `url` failed, with when, if it failed within `seconds`; else None (try it)."""
        return self._reason(self.key(url), now)

    def host_reason(self, host: str, now: float | None = None) -> str | None:
        """Why `host` could not be resolved, with when, if that happened within `seconds`; else None."""
        return self._reason(self.host_key(host), now)

    def _reason(self, key: str, now: float | None) -> str | None:
        if not self.consult or self.seconds <= 0:
            return None
        payload = self.entries.get(key)
        try:
            entry = json.loads(payload or b"{}")
            at, reason = float(entry["at"]), str(entry["reason"])
        except (ValueError, TypeError, KeyError):
            return None
        age = (now or time.time()) - at
        if not 0 <= age < self.seconds:
            return None
        return (f"{reason} (in a build {_duration(age)} ago; not tried again for {_duration(self.seconds - age)}, "
                "or now with --retry-images)")

    def remember(self, url: str, reason: str) -> None:
        self._remember(self.key(url), reason)

    def remember_host(self, host: str, reason: str) -> None:
        """A host that could not be resolved: one entry for all its images (an archive whose images all lived on
        a dead CDN has thousands: one entry each cost a rebuild ~1 ms an image to read back)."""
        self._remember(self.host_key(host), reason)

    def _remember(self, key: str, reason: str) -> None:
        if self.seconds > 0:
            payload = json.dumps({"at": time.time(), "reason": reason[:500]}, ensure_ascii=False)
            self.entries.put(key, payload.encode("utf-8"))

    def forget(self, url: str) -> None:
        """`url` was downloaded: a failure remembered from before, its own or its host's, is no reason to fail it
        or its host's other images later."""
        for key in (self.key(url), self.host_key(urlsplit(url).hostname or "")):
            with contextlib.suppress(OSError):
                os.unlink(self.entries.path(key))


def _duration(seconds: float) -> str:
    """A short human duration: 40 s, 12 min, 3 h, 2 d."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{max(seconds, 1):.0f} s"
