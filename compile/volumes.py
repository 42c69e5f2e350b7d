"""Volumes as independent units of work: a process pool by default, a Dask cluster when asked.

Each volume is a whole book (its own cover, TOC, EPUB and PDF), so volumes share nothing but the caches
on disk, whose entries are written atomically. A worker renders its volume's PDF in one process (no pool
inside a pool): the volumes are the parallelism.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from compile.writers.context import Book, Output


def _alone(book: Book) -> Book:
    """The volume's settings with one PDF worker: the pool (or cluster) already uses every core."""
    settings = dataclasses.replace(book.settings, pdf=dataclasses.replace(book.settings.pdf, workers=1))
    return dataclasses.replace(book, settings=settings)


def run(books: list[Book], write: Callable[[Book, Path, Path], list[Output]], out_dir: Path, cache_root: Path,
        scheduler: str = "", workers: int = 0) -> list[list[Output]]:
    """write(book, out_dir, cache_root) for every volume, in parallel; results in volume order."""
    if scheduler:
        return _on_dask(books, write, out_dir, cache_root, scheduler)
    if len(books) == 1:
        return [write(books[0], out_dir, cache_root)]
    workers = workers or min(len(books), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                             else os.cpu_count() or 1)
    if workers <= 1:
        return [write(_alone(book), out_dir, cache_root) for book in books]
    with ProcessPoolExecutor(max_workers=workers) as executor:
        futures = [executor.submit(write, _alone(book), out_dir, cache_root) for book in books]
        return [future.result() for future in futures]


def _on_dask(books, write, out_dir: Path, cache_root: Path, scheduler: str) -> list[list[Output]]:
    """Submit every volume to a Dask distributed scheduler (the optional `dask` extra).

    The workers must see the same paths (source images cache, output folder): a shared file system.
    """
    try:
        from distributed import Client
    except ImportError as exc:  # the optional extra is missing
        raise RuntimeError("--scheduler needs Dask: pip install 'anthology-compiler[dask]'") from exc
    client = scheduler if not isinstance(scheduler, str) else Client(scheduler)
    try:
        futures = client.map(write, [_alone(b) for b in books], out_dir=out_dir, cache_root=cache_root,
                             pure=False)
        return client.gather(futures)
    finally:
        if isinstance(scheduler, str):
            client.close()
