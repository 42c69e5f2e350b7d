"""Peak memory of the build and all its worker processes together, for 300 and 1,000 articles.

RSS counts the pages forked workers share with their parent once per process; PSS shares them out,
so the PSS sum is the memory the build really holds. Both are printed.

    python bench/memory_bench.py [--counts 300 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import _common
import psutil

ROOT = Path(__file__).resolve().parents[1]


def peak_memory(command: list[str], env: dict) -> tuple[float, float, float]:
    started = time.perf_counter()
    process = psutil.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    peak_rss = peak_pss = 0
    while process.poll() is None:
        rss = pss = 0
        for proc in [process, *process.children(recursive=True)]:
            try:
                info = proc.memory_full_info()
                rss, pss = rss + info.rss, pss + info.pss
            except psutil.Error:
                pass
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(0.1)
    return peak_rss / 2**20, peak_pss / 2**20, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", type=int, nargs="+", default=[300, 1000])
    args = parser.parse_args()
    for count in args.counts:
        work = _common.workspace(count)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "compile", "build", str(work / "src"), "-o", str(work / "out"), "--offline"]
        rss, pss, seconds = peak_memory(command, env)
        print(f"{count} articles: peak over all processes: RSS sum {rss:.0f} MiB, PSS sum {pss:.0f} MiB; "
              f"{seconds:.0f} s, {_common.cores()} cores")


if __name__ == "__main__":
    main()
