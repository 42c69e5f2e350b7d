"""`anthology build --watch`: the process stays, and builds again when the archive changes.

A rebuild in the same process skips what every command pays before its first article: the interpreter, the
imports (WeasyPrint's among them) and the PDF workers with their parsed stylesheets. On corpus-dev an edited
article is in the outputs ~1.5 s after its save, against ~3 s for the command run again.

Changes are found by polling the folder as the build reads it (compile/sources.py: no symlink followed out of
it, dot-folders and dot-files left alone): no file watcher can be led out of the archive by a link. A poll
stats each file; the pause between polls grows with that cost (a large archive is polled less often), so
waiting takes ≤ 5 % of a core. A change is built once two polls agree: a save in several writes is built once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from compile import sources

# Seconds between polls, at least; a poll that took t seconds waits POLL_SHARE times t (≤ 5 % of a core: an
# archive of 25,000 files, ~0.25 s a poll, is polled every ~5 s).
PAUSE = 0.2
POLL_SHARE = 20

Snapshot = frozenset[tuple]


def snapshot(source: Path, others: Iterable[Path] = (), skip: Iterable[Path] = ()) -> Snapshot:
    """What a build would see of `source` (each file's name, identity, size and modification time, and why a
    file is not read), and of the files or folders `others` (a config file outside the archive, the theme);
    nothing under `skip` (the output folder, when it is inside the archive)."""
    skipped = [path.resolve() for path in skip]
    state = set()
    for root in (source, *others):
        for entry in _entries(root):
            if entry.reason == sources.HIDDEN or any(entry.path.is_relative_to(folder) for folder in skipped):
                continue  # an editor's swap file (`.a.md.swp`) comes and goes with no change to the book
            state.add((str(root), entry.relative, entry.reason, entry.identity, entry.stamp))
    return frozenset(state)


def _entries(root: Path) -> list[sources.Entry]:
    """The folder's entries as discovery finds them (a file to read with its identity and stamp; one skipped
    with its reason only, its content being no input); a single file (a config) as itself."""
    try:
        if root.is_dir():
            return sources.discover(root)
        info = os.stat(root)
        return [sources.Entry(root.name, root, (info.st_dev, info.st_ino), stamp=(info.st_size, info.st_mtime_ns))]
    except OSError:  # gone, or unreadable: as a build would find it
        return []


def wait_for_change(look: Callable[[], Snapshot], last: Snapshot,
                    sleep: Callable[[float], None] = time.sleep) -> Snapshot:
    """Poll with `look` until what it sees differs from `last`, then until two polls in a row agree; return
    that state."""
    seen = last
    while True:
        started = time.perf_counter()
        now = look()
        sleep(max(PAUSE, POLL_SHARE * (time.perf_counter() - started)))
        if now == seen and now != last:
            return now
        seen = now
