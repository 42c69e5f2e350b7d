"""Reading in parallel: `pipeline.prepare` on N generated articles, cold (no article store), read serially and in
worker processes, in turn; min / median / max of each, and the speed-up of the medians.

Two figures per run: the whole of `prepare` (reading, then what follows in the main process: duplicates, order,
sections) and its reading stage alone (compile/build/reading.py, bytes to articles).

    python bench/reading_bench.py [--count 1000] [--runs 3] [--workers 0]
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import statistics
import time

import _common

from compile import config
from compile.build import pipeline, reading


class ReadingClock:
    """Wall time from the start of reading to its last outcome (reading.run, wrapped)."""

    def __init__(self):
        self.seconds = 0.0
        self.run = reading.run
        reading.run = self.timed

    def timed(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            yield from self.run(*args, **kwargs)
        finally:  # prepare closes it after the last outcome it needs
            self.seconds = time.perf_counter() - started


def once(source, workers: int, clock: ReadingClock) -> tuple[float, float, float, pipeline.Prepared]:
    """(wall seconds of prepare, of its reading stage, CPU seconds of this process and its workers, result)."""
    settings = config.load(source / "anthology.toml", offline=True)
    settings.pdf.workers = workers
    cpu, started = _cpu(), time.perf_counter()
    prepared = pipeline.prepare(source, settings)  # no store: every article is read
    return time.perf_counter() - started, clock.seconds, _cpu() - cpu, prepared


def _cpu() -> float:
    """CPU seconds of this process and of its children that ended (the workers end with each prepare)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def spread(values: list[float]) -> str:
    return f"{min(values):6.2f} {statistics.median(values):6.2f} {max(values):6.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0, help="reading processes (0 = one per CPU)")
    args = parser.parse_args()
    source = _common.workspace(args.count) / "src"
    workers = reading.workers_for(args.workers, args.count)
    clock = ReadingClock()
    times: dict[str, tuple[list[float], ...]] = {"serial": ([], [], []), "parallel": ([], [], [])}
    books = {}
    load = os.getloadavg()[0]
    for _ in range(args.runs):  # in turn, so that a machine getting slower or faster weighs on both alike
        for name, count in (("serial", 1), ("parallel", args.workers)):
            *figures, prepared = once(source, count, clock)
            for column, value in zip(times[name], figures, strict=True):
                column.append(value)
            books[name] = (prepared.inputs, prepared.anthology.articles)
    print(f"{args.count} generated articles, {_common.cores()} cores, {workers} reading processes, "
          f"{args.runs} runs each (seconds: min median max); load average {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after (other work on the machine takes cores from the workers)")
    for name, (whole, stage, cpu) in times.items():
        print(f"  {name:8}  prepare {spread(whole)}   reading {spread(stage)}   cpu {spread(cpu)}")
    speedup = [statistics.median(times["serial"][i]) / statistics.median(times["parallel"][i]) for i in (0, 1)]
    print(f"  speed-up (medians): prepare {speedup[0]:.2f}x, reading {speedup[1]:.2f}x; "
          f"same articles and inputs: {books['serial'] == books['parallel']}; "
          f"the articles pickled (as workers send them): {len(pickle.dumps(books['parallel'][1])) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
