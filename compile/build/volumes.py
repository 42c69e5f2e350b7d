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
from dataclasses import dataclass
from pathlib import Path

from compile import processes
from compile.model import Anthology
from compile.writers.context import Book, Output


@dataclass(frozen=True)
class Job:
    """One volume to write; sent to a worker process (or a Dask worker) as it is."""

    book: Book
    out_dir: Path  # where its outputs go (the build's staging folder)
    cache_root: Path  # the build's cache folder: image variants, fonts, PDF chunks
    images_fetched: bool = True  # False: no images were fetched, so no variants are made


@dataclass
class Done:
    """What writing a volume produced. From a worker process it comes back as a copy: the book it wrote,
    with what the writers did to it (image variants and statuses, warnings), is taken back by the build."""

    outputs: list[Output]
    anthology: Anthology
    profiles: dict  # the image variants made for each format (images.FetchSummary.profiles)


Write = Callable[[Job], Done]  # picklable (a module-level function): it runs in workers


def _alone(book: Book) -> Book:
    """The volume's settings with one PDF worker: the pool (or cluster) already uses every core."""
    settings = dataclasses.replace(book.settings, pdf=dataclasses.replace(book.settings.pdf, workers=1))
    return dataclasses.replace(book, settings=settings)


def _alone_job(job: Job) -> Job:
    return dataclasses.replace(job, book=_alone(job.book))


def run(jobs: list[Job], write: Write, scheduler: str = "", workers: int = 0) -> list[Done]:
    """write(job) for every volume, in parallel; results in volume order."""
    if scheduler:
        return _on_dask(jobs, write, scheduler)
    if len(jobs) == 1:
        return [write(jobs[0])]
    workers = workers or min(len(jobs), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                             else os.cpu_count() or 1)
    if workers <= 1:
        return [write(_alone_job(job)) for job in jobs]
    executor = ProcessPoolExecutor(max_workers=workers, initializer=processes.init_worker,
                                   initargs=(os.getpid(),))
    try:
        futures = [executor.submit(write, _alone_job(job)) for job in jobs]
        results = [future.result() for future in futures]
    except BaseException:  # Ctrl-C, or a volume failed: the others' workers stop now, writing nothing more
        processes.stop(executor)
        raise
    executor.shutdown()
    return results


def _on_dask(jobs: list[Job], write: Write, scheduler: str) -> list[Done]:
    """Submit every volume to a Dask distributed scheduler (the optional `dask` extra).

    The workers must see the same paths (source images cache, output folder): a shared file system.
    """
    try:
        from distributed import Client
    except ImportError as exc:  # the optional extra is missing
        raise RuntimeError("--scheduler needs Dask: pip install 'anthology-compiler[dask]'") from exc
    client = scheduler if not isinstance(scheduler, str) else Client(scheduler)
    try:
        futures = client.map(write, [_alone_job(job) for job in jobs], pure=False)
        try:
            return client.gather(futures)
        except BaseException:  # Ctrl-C, or a volume failed: volumes not yet started are not started
            client.cancel(futures)
            raise
    finally:
        if isinstance(scheduler, str):
            client.close()
