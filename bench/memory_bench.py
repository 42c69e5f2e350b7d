"""Peak memory of the whole command, `anthology build` (EPUB + PDF, cold), with its worker processes (goal <= 1.5 GB).

    python bench/memory_bench.py [--counts 300 1000]

Two measures. Sampled every 0.1 s over the command and all its descendants: the RSS sum (pages forked
workers share with their parent counted once per process) and the PSS sum (shared pages shared out: the
memory the build really holds; the goal's figure). A peak shorter than a sample can be missed. And from the
kernel at the end (wait4's ru_maxrss): the largest single process among the command and the workers it
waited for, exact but not a sum.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import _common
import psutil


def sampled_peaks(command: list[str], env: dict) -> tuple[float, float, _common.Run]:
    """Peak RSS sum and PSS sum over the process tree (MiB), and the command measured as _common.timed does."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=_common.ROOT)
    root = psutil.Process(process.pid)
    peak_rss = peak_pss = 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        rss = pss = 0
        for proc in [root, *root.children(recursive=True)]:
            try:
                info = proc.memory_full_info()
                rss, pss = rss + info.rss, pss + info.pss
            except psutil.Error:
                pass
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}")
    return peak_rss / 2**20, peak_pss / 2**20, _common.Run(seconds, usage.ru_utime + usage.ru_stime,
                                                           usage.ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", type=int, nargs="+", default=[300, 1000])
    args = parser.parse_args()
    for count in args.counts:
        work = _common.workspace(count)
        command = _common.build_command(work / "src", work / "out", "epub,pdf")
        rss, pss, run = sampled_peaks(command, _common.fresh_env(work / "cache"))
        print(f"{count} articles: peak over all processes: PSS sum {pss:.0f} MiB (goal <= 1536), "
              f"RSS sum {rss:.0f} MiB; largest single process {run.peak_mib:.0f} MiB; "
              f"{run.seconds:.0f} s, {_common.cores()} cores")


if __name__ == "__main__":
    main()
