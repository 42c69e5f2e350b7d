"""Articles read in worker processes, merged back in the folder's order.

Reading (decode → reader → date → clean → lead image → outlet → title) is pure CPU work per article, so the
pipeline hands it to a process pool: each job carries the file's bytes, already read and checked in the main
process (compile/sources.py), and comes back as plain data (an `Article`, or the reason it failed). Outcomes are
yielded in the order the jobs came in, whatever order the workers finish in, so a build reads the same book, the
same report and the same log lines as a serial one.

A worker that dies (a crash in a C parser, the OOM killer) breaks the whole pool and loses every job it held.
A table shared with the workers says which articles were being read at that moment: each of those is read
again alone, in a pool of one process; one that kills that too is `failed` ("the reading process died"). The
other lost jobs go to a new pool, as if nothing had happened.

Workers are forked: they start with this process's modules loaded and configured, and its hash seed (sets
iterate in the same order, so the articles are the same as if read here). Their number follows `pdf.workers`
(0 = one per CPU): one setting says how many cores a build may take. Few articles, one CPU, or no `fork` on
this platform: everything is read here, in this process.
"""

from __future__ import annotations

import atexit
import gc
import logging
import multiprocessing
import os
import pickle
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from compile import processes
from compile.config import Override, available_cpus
from compile.model import Article

# Below this many articles to read, a pool costs more than it saves: starting two workers and the first round
# trip take ~0.06 s, an article 6-10 ms, so two cores save 3-5 ms an article (measured: 4-64 generated articles).
MIN_ARTICLES = 24
BATCH = 16  # articles per task at most: fewer round trips, and still several tasks per worker to balance
DIED = "the reading process died"
# States in the shared table, one byte per job index.
WAITING, READING, DONE = 0, 1, 2


@dataclass(frozen=True)
class Job:
    """One article to read: the bytes were read (once, checked) by the main process."""

    index: int  # its place in the folder's order: outcomes come back in this order
    relative: str  # its name in the source folder
    path: Path  # the file it was read from
    data: bytes
    override: Override | None = None
    article: Article | None = None  # an article already read, for a later per-article stage (typesetting)
    key: str = ""  # the article store's key for what is read (compile/build/store.py)


@dataclass(frozen=True)
class Outcome:
    """What became of one file: an article, or a status (`skipped`, `failed`) with the reason for `inputs`."""

    index: int
    article: Article | None = None
    status: str = ""
    reason: str = ""
    report: dict | None = None  # what a later stage reports of the article (its script conversion)
    grams: tuple[bytes, ...] = ()  # what duplicates and stories compare (packed_grams), made by the reader
    records: list[logging.LogRecord] = field(default_factory=list)  # logged by a worker, replayed here in order


Reader = Callable[[Job], Outcome]  # picklable (a module-level function, or a partial of one): it runs in workers


def workers_for(setting: int, count: int, minimum: int | None = None) -> int:
    """Processes to read `count` articles with, by `pdf.workers` (0 = one per CPU); 1 means here, no pool
    (fewer than `minimum` articles, MIN_ARTICLES by default: a pool would cost more than it saves)."""
    if count < (MIN_ARTICLES if minimum is None else minimum) or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(setting or available_cpus(), count))


def batch_size(count: int, workers: int) -> int:
    """About four tasks per worker, at most BATCH articles each: no worker left idle at the end."""
    return max(1, min(BATCH, -(-count // (4 * workers))))


def run(items: Iterable[Job | Outcome], read: Reader, workers: int, size: int, batch: int = BATCH
        ) -> Iterator[Outcome]:
    """An outcome for each item, in the items' order. An Outcome passes through (decided without reading: a
    cached article, a skipped file); a Job is read by `read`, in this process when `workers` is 1, else in a
    pool. `size`: more than the largest job index. Items are taken lazily, so only the bytes of the articles
    being read are held."""
    if workers <= 1:
        for item in items:
            yield item if isinstance(item, Outcome) else read(item)
        return
    pool = _Pool(read, workers, batch, size)
    _LIVE.add(pool)
    try:
        yield from pool.ordered(items)
    finally:  # done, an error, Ctrl-C (cli.py), or the consumer stopped early: no worker stays behind
        pool.close()
        _LIVE.discard(pool)


_LIVE: set[_Pool] = set()


@atexit.register
def close_pools() -> None:
    """Kill every reading worker now (Ctrl-C: compile/cli.py, as for the PDF's pools; at exit)."""
    for pool in list(_LIVE):
        pool.close()
    _LIVE.clear()


# ------------------------------------------------------------------------------------------------ the pool

class _Pool:
    def __init__(self, read: Reader, workers: int, batch: int, size: int):
        self.read, self.workers, self.batch = read, workers, batch
        self.context = multiprocessing.get_context("fork")  # workers see this process's code as it is now
        self.states = self.context.RawArray("b", size)  # which job each worker is reading, shared with them
        self.executor: ProcessPoolExecutor | None = None
        self.started = False  # once a pool has been used, nothing is read in this process
        self.alone: ProcessPoolExecutor | None = None  # for the suspects of a crash, one at a time
        self.running: dict[Future, list[Job]] = {}
        self.done: dict[int, Outcome] = {}

    def ordered(self, items: Iterable[Job | Outcome]) -> Iterator[Outcome]:
        order: deque[int] = deque()
        waiting: list[Job] = []
        for item in items:
            order.append(item.index)
            if isinstance(item, Outcome):
                self.done[item.index] = item
            else:
                waiting.append(item)
            # The pool starts once there are enough articles to read (a rebuild may find nearly all in the store).
            if len(waiting) >= (self.batch if self.started else max(self.batch, MIN_ARTICLES)):
                self._submit_all(waiting)
                waiting = []
            while len(self.running) >= 2 * self.workers:  # bound what is in flight: bytes, and results unread
                self._collect()
            yield from self._ready(order)
        if not self.started:
            self.done.update((job.index, self.read(job)) for job in waiting)  # too few for a pool: read here
        else:
            self._submit_all(waiting)
        while self.running:
            self._collect()
        yield from self._ready(order)

    def _ready(self, order: deque[int]) -> Iterator[Outcome]:
        """The outcomes at the head of the order that are in, each after its worker's log lines."""
        while order and order[0] in self.done:
            outcome = self.done.pop(order.popleft())
            for record in outcome.records:
                logging.getLogger(record.name).handle(record)
            yield replace(outcome, records=[])

    def _executor(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=self.context, initializer=_init_worker,
                                   initargs=(os.getpid(), self.states))

    def _submit_all(self, jobs: list[Job]) -> None:
        self.started = True
        if not jobs:
            return
        self.executor = self.executor or self._executor(self.workers)
        for start in range(0, len(jobs), self.batch):
            batch = jobs[start:start + self.batch]
            self.running[self.executor.submit(_read_batch, self.read, batch)] = batch

    def _collect(self) -> None:
        finished, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
        if not self._take(finished):
            self._recover()

    def _take(self, futures) -> bool:
        """The outcomes of finished tasks; False if any was lost with a dead worker (then still running)."""
        broken = False
        for future in futures:
            try:
                self.done.update((outcome.index, outcome) for outcome in future.result())
            except BrokenProcessPool:
                broken = True
                continue
            del self.running[future]
        return not broken

    def _recover(self) -> None:
        """A worker died, and every job the pool still had is lost with it. Those being read at that moment
        are suspects, read again one by one, each alone; the others go to a new pool."""
        self._take(list(self.running))  # tasks that finished before the pool broke are not lost
        lost = [job for jobs in self.running.values() for job in jobs]
        self.running.clear()
        if self.executor is not None:
            processes.stop(self.executor)
        self.executor = None
        suspects = [job for job in lost if self.states[job.index] == READING] or lost  # died between articles
        for job in suspects:
            self.done[job.index] = self._read_alone(job)
        self._submit_all([job for job in lost if job.index not in self.done])

    def _read_alone(self, job: Job) -> Outcome:
        """The job in a pool of one process: if that dies too, this article is what kills it."""
        self.alone = self.alone or self._executor(1)
        try:
            return self.alone.submit(_read_batch, self.read, [job]).result()[0]
        except BrokenProcessPool:
            dead = list((getattr(self.alone, "_processes", None) or {}).values())
            processes.stop(self.alone)  # joins the pool's own thread, which reaps the process: its status is set
            self.alone = None
            how = processes.how_it_died(dead)
            return Outcome(job.index, status="failed", reason=DIED + how,
                           records=_warning(f"{job.relative}: {DIED}{how}"))

    def close(self) -> None:
        for executor in (self.executor, self.alone):
            if executor is not None:
                processes.stop(executor)
        self.executor = self.alone = None
        self.running.clear()


def _warning(message: str) -> list[logging.LogRecord]:
    """A warning to log when its outcome's turn comes (none if warnings are not shown)."""
    log = logging.getLogger("anthology")
    return [log.makeRecord(log.name, logging.WARNING, __file__, 0, message, (), None)] \
        if log.isEnabledFor(logging.WARNING) else []


# ------------------------------------------------------------------------------------------------ in a worker

_STATES: Any = None  # the shared table (a RawArray), in a worker


class _Collect(logging.Handler):
    """A worker's log records, kept to be sent back with its outcome (the parent logs them in order)."""

    def __init__(self):
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:  # a traceback does not pickle: its text does
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.exc_info = None
        try:
            record.msg = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the message: what logging would print anyway
            record.msg = f"{record.msg} {record.args!r}"
        record.args = None
        self.records.append(record)


_COLLECT = _Collect()


def _init_worker(parent: int, states) -> None:
    global _STATES
    processes.init_worker(parent)  # dies with the build, leaves Ctrl-C to it
    gc.freeze()  # the heap inherited from the build is never garbage here: no collection need walk it (or copy it)
    _STATES = states
    root = logging.getLogger()
    root.handlers = [_COLLECT]  # levels stay as the parent set them: only records it would print are made


def _read_batch(read: Reader, jobs: list[Job]) -> list[Outcome]:
    """Read each job in turn, marking which one is being read (a crash is then pinned on it)."""
    outcomes = []
    for job in jobs:
        _STATES[job.index] = READING
        _COLLECT.records = []
        outcome = replace(read(job), records=_COLLECT.records)
        outcomes.append(_sendable(job, outcome))
        _STATES[job.index] = DONE
    return outcomes


def _sendable(job: Job, outcome: Outcome) -> Outcome:
    """The outcome, if it pickles; else its failure: one odd object in an article must not lose the batch."""
    try:
        pickle.dumps(outcome)
    except Exception as exc:  # noqa: BLE001 - whatever pickling raises, the article is what failed
        return Outcome(outcome.index, status="failed", reason=f"internal error: {exc!r}",
                       records=outcome.records + _warning(f"{job.relative}: could not be read: {exc}"))
    return outcome
