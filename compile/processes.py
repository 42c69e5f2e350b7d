"""Worker processes, for every pool of the build (reading, volumes, PDF chunks): they die with the build and
leave Ctrl-C to it; a pool is stopped at once, not after its running tasks."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

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


def stop(executor: ProcessPoolExecutor) -> None:
    """Kill a pool's workers now. shutdown() alone lets each finish its task, and so does the interpreter's
    exit, which joins them: minutes for a PDF chunk."""
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError):  # already gone, or closed
            process.kill()
    executor.shutdown(wait=True, cancel_futures=True)
