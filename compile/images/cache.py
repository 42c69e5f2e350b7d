"""The image cache: originals as downloaded, variants as written, every file appearing by rename only."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from compile import atomic
from compile.config import ImageSettings
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
