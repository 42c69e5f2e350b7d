"""Atomic file output: write to a temporary name in the same folder, then rename.

Readers (and a build killed with `kill -9`) never see half a file: the previous file stays until the rename.
Temporary names carry the PID (`.NAME.PID.xxxx.part`) so that a later build can remove those of dead builds.
A build's outputs are published together (`publishing`): written to a staging folder, then moved into place
under a lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("anthology")


@contextlib.contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `target`, on failure it is removed."""
    fd, tmp = _temporary(target)
    os.close(fd)
    try:
        with _naming(target):
            yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(target: Path, data: bytes) -> None:
    """`replacing`, written through the descriptor it was created with: the cache writes a few thousand small
    files a build (0.38 ms each with mkstemp, a chmod and a reopen; 0.18 ms so)."""
    fd, tmp = _temporary(target)
    try:
        with _naming(target), os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_SERIAL = itertools.count()  # temporary names, unique in the process (next() holds the GIL); the PID across them
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_ATTEMPTS = 100


def _temporary(target: Path) -> tuple[int, Path]:
    """A new file beside `target` (`.NAME.PID.N.part`), open for writing. O_EXCL: never through a link or a file
    planted under that name (the next name is tried). Mode 0o666, which the umask narrows as for any new file:
    an output is the user's file, readable as usual, and no umask round trip (which another thread could see
    half done) is needed to know it. Its folder is made if missing."""
    for _ in range(_ATTEMPTS):
        tmp = target.parent / f".{target.name}.{os.getpid()}.{next(_SERIAL)}.part"
        try:
            return os.open(tmp, _NEW, 0o666), tmp
        except FileExistsError:  # a dead build's leftover with this PID, or something planted
            continue
        except FileNotFoundError:  # its folder is new
            target.parent.mkdir(parents=True, exist_ok=True)
    raise FileExistsError(errno.EEXIST, f"no free temporary name after {_ATTEMPTS} tries", str(target))


@contextlib.contextmanager
def _naming(target: Path) -> Iterator[None]:
    """An OSError that names no file says which output it was."""
    try:
        yield
    except OSError as exc:
        if exc.errno is None or _names_a_file(exc):
            raise
        raise OSError(exc.errno, exc.strerror, str(target)) from exc


def _names_a_file(exc: OSError) -> bool:
    """A failed write() (ENOSPC, EIO) names no file, or only a file object's repr (pikepdf)."""
    return isinstance(exc.filename, str | os.PathLike) and not str(exc.filename).startswith("<")


# ------------------------------------------------------------------------------------------------ publishing

STAGING_PREFIX = ".anthology-staging."
LOCK_NAME = ".anthology.lock"


@contextlib.contextmanager
def publishing(out_dir: Path) -> Iterator[Path]:
    """Yield a private staging folder inside `out_dir` for all of a build's outputs; when the block ends
    normally, move them into `out_dir` together; the staging folder is removed in any case.

    All of it runs under an exclusive lock on OUT/.anthology.lock, so two builds into one folder never
    interleave: the second waits. The staging folder is in `out_dir` so that publishing is a rename on one
    file system (no copy, no space needed). Each file is replaced on its own (os.replace), the report last:
    a reader that does not take the lock may see the new files next to old ones for the few microseconds
    between the first and the last rename, never half a file. Signals are held during those renames.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock(out_dir)
    try:
        _remove_stale_staging(out_dir)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}.", dir=out_dir))
        try:
            yield staging
            with _signals_held():
                _publish(staging, out_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        # Unlocked, not just closed: a worker forked during the build (the PDF's pool lives on for the next build
        # in this process) shares the descriptor, and would hold the lock until it exits.
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)


def _lock(out_dir: Path) -> int:
    fd = os.open(out_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("waiting for another build writing to %s", out_dir)
            fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _remove_stale_staging(out_dir: Path) -> None:
    """Staging folders exist only while their build holds the lock: one seen by the lock's holder was left
    by a build that died (kill -9, power cut), whatever its PID now names."""
    for folder in out_dir.glob(f"{STAGING_PREFIX}*"):
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)


def _publish(staging: Path, out_dir: Path) -> None:
    files = sorted((p for p in staging.rglob("*") if p.is_file()), key=lambda p: (p.name.endswith(".report.json"), p))
    for path in files:
        target = out_dir / path.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends: publishing is not cut in the middle."""
    names = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in names}
    if threading.current_thread() is not threading.main_thread() or None in previous.values():
        yield  # signals can be handled only in the main thread; None: a handler not set from Python
        return
    caught: list[int] = []
    for signum in names:
        signal.signal(signum, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for pending in caught[:1]:
            signal.raise_signal(pending)  # now handled as it would have been
