"""The source folder, as an untrusted place: which files are read, and reading them safely.

An archive may hold symlinks to files outside it (`leak.txt -> /etc/passwd`), symlink loops, FIFOs that
block whoever opens them, devices, and files too large to read. Discovery looks at every entry without
following links out of the folder and never opens anything; reading opens one regular file through a
descriptor that is checked (no symlink, a regular file, the same file discovery saw) before a byte is read,
and reads at most the size limit. Every refused entry comes back with the reason the report gives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MB = 1_000_000
# Largest source file read (bytes), the default of the `max_file_mb` setting; a bigger one is skipped.
MAX_FILE_BYTES = 20 * MB
OUTSIDE = "symlink outside the source folder"
NOT_REGULAR = "not a regular file"
HIDDEN = "hidden file"
# A static site's root says what it is by its config file; its top-level folders below hold templates, built
# pages, assets and data, never posts (posts live in content/ or _posts/). Static images stay readable as
# local images: they are read through `read_inside`, not discovered.
SITE_CONFIGS = {
    "Hugo": ("hugo.toml", "hugo.yaml", "hugo.json", "config.toml", "config.yaml"),
    "Jekyll": ("_config.yml", "_config.yaml", "_config.toml"),
}
SITE_FOLDERS = {
    "Hugo": {"archetypes", "assets", "data", "i18n", "layouts", "node_modules", "public", "resources", "static",
             "themes"},
    "Jekyll": {"_data", "_includes", "_layouts", "_sass", "_site", "assets", "node_modules", "vendor"},
}


class Skipped(Exception):
    """The entry is not read; the message is the report's reason."""


class ReadTimeout(BaseException):
    """Reading one article took longer than its time limit. A BaseException, so that no `except Exception`
    on the way (a parser's fallback) takes it for that code's own error and carries on."""


@dataclass
class Entry:
    """One file of the source folder: a candidate to read (`reason` empty) or a skipped one."""

    relative: str  # as found in the folder (the link's name for a symlink), POSIX separators
    path: Path  # the real file to read, symlinks resolved, inside the folder
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) seen by discovery: reading checks the same file
    reason: str = ""
    linked: bool = False  # reached through a symlink (the entry or one of its folders)
    stamp: tuple[int, int] = (0, 0)  # (size, mtime_ns) seen by discovery: what `build --watch` compares


def discover(source: Path) -> list[Entry]:
    """Every file under `source`, sorted by relative path. Symlinks are followed only inside the folder,
    each real directory is walked once (no loops), and each real file is a candidate once: other names of
    it (links, hard links) are listed as skipped. Dot-folders (`.git`) are not walked; dot-files are listed."""
    root = source.resolve()
    entries: list[Entry] = []
    _walk(root, root, "", False, {_identity(os.stat(root))}, entries)
    entries.sort(key=lambda e: e.relative)
    _read_each_file_once(entries)
    _site_machinery(root, entries)
    return entries


def site_kind(root: Path) -> str:
    """"Hugo" or "Jekyll" when `root` is a static site's source folder (by its config file), else ""."""
    for kind, names in SITE_CONFIGS.items():
        if any((root / name).is_file() for name in names):
            return kind
    return ""


def _site_machinery(root: Path, entries: list[Entry]) -> None:
    """In a static site's root: files in its template/build/asset folders, and files without a suffix at the
    top (CNAME, Makefile), are the site's machinery, not articles."""
    kind = site_kind(root)
    if not kind:
        return
    for entry in entries:
        top, _, rest = entry.relative.partition("/")
        if entry.reason:
            continue
        if rest and top in SITE_FOLDERS[kind]:
            entry.reason = f"{kind} site folder {top}/ (templates, assets or built pages, not posts)"
        elif not rest and "." not in top:
            entry.reason = f"{kind} site file (not a post)"


def _walk(root: Path, folder: Path, prefix: str, linked: bool, seen_dirs: set, entries: list[Entry]) -> None:
    try:
        children = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        entries.append(Entry(prefix.rstrip("/") or ".", folder, reason=f"folder cannot be read: {exc.strerror}"))
        return
    for child in children:
        relative = prefix + child.name
        hidden = child.name.startswith(".")
        try:
            info = child.stat(follow_symlinks=False)
            link = stat.S_ISLNK(info.st_mode)
            real = Path(os.path.realpath(child.path)) if link else Path(child.path)
            if link:
                if not real.is_relative_to(root):
                    entries.append(Entry(relative, Path(child.path), reason=OUTSIDE))
                    continue
                info = os.stat(real)  # the target, inside the folder
        except OSError:
            entries.append(Entry(relative, Path(child.path), reason="broken symlink"))
            continue
        if stat.S_ISDIR(info.st_mode):
            if not hidden and _identity(info) not in seen_dirs:
                seen_dirs.add(_identity(info))
                _walk(root, real, relative + "/", linked or link, seen_dirs, entries)
        elif hidden:
            entries.append(Entry(relative, real, reason=HIDDEN))
        elif not stat.S_ISREG(info.st_mode):
            entries.append(Entry(relative, real, reason=NOT_REGULAR))
        else:
            entries.append(Entry(relative, real, _identity(info), linked=linked or link,
                                 stamp=(info.st_size, info.st_mtime_ns)))


def _read_each_file_once(entries: list[Entry]) -> None:
    """Several names for one file: its first name that is not a link is read, else its first name."""
    kept: dict[tuple[int, int], Entry] = {}
    for entry in entries:
        if entry.identity is not None:
            first = kept.setdefault(entry.identity, entry)
            if first.linked and not entry.linked:
                kept[entry.identity] = entry
    for entry in entries:
        kept_one = kept.get(entry.identity) if entry.identity else None
        if kept_one is not None and kept_one is not entry:
            entry.reason = f"same file as {kept_one.relative}, read once"


def _identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def read_bytes(path: Path, identity: tuple[int, int] | None = None, limit: int = MAX_FILE_BYTES) -> bytes:
    """The file's bytes, read through one descriptor that was checked first: never through a symlink
    (O_NOFOLLOW), never blocking on a FIFO (O_NONBLOCK, and nothing but a regular file is read), the same
    file discovery saw (`identity`), at most `limit` bytes. Raises Skipped with the reason otherwise."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise Skipped(OUTSIDE if os.path.islink(path) else f"cannot be opened: {exc.strerror}") from None
    with os.fdopen(fd, "rb", buffering=0) as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Skipped(NOT_REGULAR)
        if identity is not None and _identity(info) != identity:
            raise Skipped("the file was replaced while the build read the folder")
        if info.st_size > limit:
            raise Skipped(too_large(info.st_size, limit))
        data = _read_at_most(file, limit + 1)
    if len(data) > limit:  # it grew after fstat
        raise Skipped(too_large(len(data), limit))
    return data


def _read_at_most(file, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = file.read(min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def too_large(size: int, limit: int) -> str:
    return f"too large ({size / MB:.0f} MB > {limit / MB:.0f} MB)"


def read_inside(source: Path, relative: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """A file named relative to the folder, read as `read_bytes` does, its real path checked to be inside."""
    root = source.resolve()
    real = Path(os.path.realpath(root / relative))
    if not real.is_relative_to(root):
        raise Skipped(OUTSIDE)
    return read_bytes(real, limit=limit)


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise ReadTimeout in the block after `seconds` of wall-clock time (SIGALRM: main thread only, where
    it interrupts Python code; a single long C call is interrupted when it returns). Elsewhere, no limit."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise ReadTimeout(f"reading took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    started = time.monotonic()
    outer, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:  # someone else's timer was running: give it back what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001), interval)
