"""Worker processes, for every pool of the build (reading, volumes, PDF chunks): they die with the build and
leave Ctrl-C to it; a pool is stopped at once, not after its running tasks."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import itertools
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def init_worker(parent: int) -> None:
    """In a pool's worker: die with the parent (its PID), leave Ctrl-C to it.

    SIGINT (sent by a terminal to the whole process group) is the parent's to handle: it stops the workers.
    SIGTERM takes its default action (a forked worker would otherwise run the parent's handler).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with(parent)


def die_with(parent: int) -> None:
    """In a child (a pool's worker, or Chromium before it starts): be killed when `parent` (its PID) dies.

    The kernel sends SIGKILL when the parent dies (even by kill -9), so no child outlives the build; a parent
    already gone before this ran is caught by the getppid check.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: workers end when their pipe to the parent breaks
            pass
    if os.getppid() != parent:
        os._exit(1)  # the parent died before the death signal was set


def release_memory() -> None:
    """Hand what a finished render freed back to the system: the garbage it left (page boxes hold cycles) and
    glibc's free heap, which a process otherwise keeps at its peak (a chunk's worker then holds hundreds of MB
    idle while another renders the frame)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL(None).malloc_trim(0)


def release_memory_after_reply(busy: threading.Lock, delay: float = 0.05) -> None:
    """release_memory() in a worker, once the result of its task has been sent: ~0.1–0.7 s of collection less
    on the build's critical path after each render it waits for (the skeleton, the parts, the frame). The
    worker's main thread pickles and sends the (small) result well within `delay`; should it not, the reply
    only waits for the collection, as it did before. `busy` is held by the worker's renders: the collection
    runs cffi's destructors (Pango, HarfBuzz, fontconfig objects, none thread-safe), so it waits for a render
    that has begun, and a render begun meanwhile waits for it."""
    def release() -> None:
        with busy:
            release_memory()

    timer = threading.Timer(delay, release)
    timer.daemon = True
    timer.start()


def stop(executor: ProcessPoolExecutor) -> None:
    """Kill a pool's workers now. shutdown() alone lets each finish its task, and so does the interpreter's
    exit, which joins them: minutes for a PDF chunk."""
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError):  # already gone, or closed
            process.kill()
    executor.shutdown(wait=True, cancel_futures=True)


# ------------------------------------------------------------------------------------------ forked map

# The functions of the running forked_maps, by key, inherited by their workers: a key, not one global, as
# volumes may write in threads (compile/build/volumes.py), each with a forked_map of its own.
_WORKS: dict[int, Callable[[Any], Any]] = {}
_KEYS = itertools.count()

# A forked pool costs ~0.06 s to start and a round trip per batch: worth it from a few dozen articles' templates.
MIN_FORKED = 48


def forked_map(work: Callable[[T], R], items: Sequence[T], workers: int, batch: int = 16,
               minimum: int | None = None) -> list[R]:
    """`[work(item) for item in items]`, spread over `workers` forked processes when there are several (and
    at least `minimum` items).

    For a writer's per-article work (templates, XHTML, characters): the workers inherit `work` and all it
    reaches (the book, the templates' environment) by forking, so only the items and the results cross
    between processes, never the book. An exception in `work` is raised here, as it would be in a loop.
    """
    enough = len(items) >= (MIN_FORKED if minimum is None else minimum)
    if workers <= 1 or not enough or "fork" not in multiprocessing.get_all_start_methods():
        return [work(item) for item in items]
    key = next(_KEYS)
    _WORKS[key] = work
    context = multiprocessing.get_context("fork")  # the workers are forked at the first submit, below
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=init_worker,
                                   initargs=(os.getpid(),))
    try:
        runs = [items[start:start + batch] for start in range(0, len(items), batch)]
        results = [result for run in executor.map(functools.partial(_run, key), runs) for result in run]
    except BaseException:  # an error, or Ctrl-C (compile/cli.py): no worker stays behind
        stop(executor)
        raise
    finally:
        del _WORKS[key]
    executor.shutdown()
    return results


@dataclass(frozen=True)
class Died:
    """In place of a result of `aside`: its process ended without one (killed: out of memory, a signal)."""

    how: str  # "its process died (killed by SIGKILL)"


@contextlib.contextmanager
def aside(work: Callable[[T], R], items: Sequence[T]) -> Iterator[Callable[[], list[R | Died]]]:
    """`work(item)` for each of `items`, each in a forked process of its own, while the block runs here; the
    block calls what this yields for their results (in order), a Died for a process that died. An exception in
    `work` is raised there; a block that raises stops them. With no items, no fork, or a fork that fails, the
    work is done here when its results are asked for.

    For the formats a build writes side by side: a process inherits the book by forking, as forked_map's do.
    Each is a plain process with a pipe, not a pool: a pool's threads would be running while the block forks
    pools of its own (CPython issue 90622)."""
    key = next(_KEYS)
    _WORKS[key] = work
    started: list[tuple[Any, Any] | None] = []
    try:
        for item in items:
            started.append(_start_aside(key, item))
        yield lambda: [_aside_result(entry) if entry else work(item) for entry, item in zip(started, items,
                                                                                             strict=True)]
    except BaseException:
        for entry in started:
            if entry:
                entry[0].kill()
        raise
    finally:
        del _WORKS[key]
        for entry in started:
            if entry:
                entry[0].join()
                entry[1].close()


def _start_aside(key: int, item: Any) -> tuple[Any, Any] | None:
    """(process, the pipe's end its result comes on), or None: no fork here, or it failed (no memory)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_aside_child, args=(key, item, sender, os.getpid()))
    try:
        process.start()
    except OSError:
        receiver.close()
        return None
    finally:
        sender.close()  # the child's copy is the only one: its death ends the pipe
    return process, receiver


def _aside_child(key: int, item: Any, sender, parent: int) -> None:
    init_worker(parent)
    try:
        result: tuple[str, Any] = ("done", _WORKS[key](item))
    except Exception as exc:  # noqa: BLE001 - raised again in the parent, as a loop would
        result = ("raised", exc)
    try:
        sender.send(result)
    except Exception as exc:  # noqa: BLE001 - a result or exception that does not pickle
        sender.send(("raised", RuntimeError(f"{type(exc).__name__}: {exc}")))


def _aside_result(entry: tuple[Any, Any]) -> Any:
    process, receiver = entry
    try:
        status, value = receiver.recv()
    except EOFError:  # it died before it could say anything
        process.join()
        return Died("its process died" + how_it_died([process]))
    if status == "raised":
        raise value
    return value


def how_it_died(dead: list) -> str:
    """' (killed by SIGSEGV)', ' (exit status 1)', or '' when the process is no longer known.

    Read once the pool has stopped: while its thread reaps the process, our own wait could find it gone
    (ECHILD) and report no status at all."""
    for process in dead:
        code = process.exitcode
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                return f" (killed by {signal.Signals(-code).name})"
        if code:
            return f" (exit status {code})"
    return ""


def _run(key: int, items: Sequence[Any]) -> list[Any]:
    work = _WORKS[key]  # registered by forked_map before this worker was forked
    return [work(item) for item in items]
