"""Volumes as independent units of work: a process pool by default, a Dask cluster when asked.

Each volume is a whole book (its own cover, TOC, EPUB and PDF), so volumes share nothing but the caches
on disk, whose entries are written atomically. A worker renders its volume's PDF in one process (no pool
inside a pool): the volumes are the parallelism.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

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
    executor = ProcessPoolExecutor(max_workers=workers, initializer=init_worker,
                                   initargs=(os.getpid(),))
    try:
        futures = [executor.submit(write, _alone_job(job)) for job in jobs]
        results = [future.result() for future in futures]
    except BaseException:  # Ctrl-C, or a volume failed: the others' workers stop now, writing nothing more
        stop(executor)
        raise
    executor.shutdown()
    return results


# ------------------------------------------------------------------------------------------------ processes
# Shared with the PDF chunk pool (compile/writers/pdf/chunked/build.py).

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def init_worker(parent: int) -> None:
    """In a pool's worker: die with the parent (its PID), leave Ctrl-C to it.

    The kernel sends SIGKILL when the parent dies (even by kill -9), so no worker outlives the build; a
    parent already gone before this ran is caught by the getppid check. SIGINT (sent by a terminal to the
    whole process group) is the parent's to handle: it stops the workers. SIGTERM takes its default action
    (a forked worker would otherwise run the parent's handler).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: workers end when their pipe to the parent breaks
            pass
    if os.getppid() != parent:
        os._exit(1)  # the parent died before the death signal was set


def stop(executor: ProcessPoolExecutor) -> None:
    """Kill a pool's workers now. shutdown() alone lets each finish its task, and so does the interpreter's
    exit, which joins them: minutes for a PDF chunk."""
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError):  # already gone, or closed
            process.kill()
    executor.shutdown(wait=True, cancel_futures=True)


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
