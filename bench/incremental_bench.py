"""Incremental: rebuild after editing one article ÷ cold build, 300 articles, EPUB + PDF (goal <= 0.2).

    python bench/incremental_bench.py [--count 300] [--mode chunked]
"""

from __future__ import annotations

import argparse
import time

import _common

from compile import config
from compile.build import pipeline


def build(work, mode: str) -> float:
    settings = config.load(work / "src" / "anthology.toml", offline=True)
    settings.pdf.mode = mode
    started = time.perf_counter()
    pipeline.build(work / "src", work / "out", settings)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--mode", default="chunked")
    args = parser.parse_args()
    work = _common.workspace(args.count)
    cold = build(work, args.mode)
    edited = sorted((work / "src").glob("*_rss.txt"))[len(list((work / "src").glob("*_rss.txt"))) // 2]
    edited.write_text(edited.read_text(encoding="utf-8").rstrip() + "<p>编者补记：一处修订。</p>\n", encoding="utf-8")
    warm = build(work, args.mode)
    print(f"{args.count} articles, {_common.cores()} cores, mode {args.mode}: cold {cold:.1f} s, "
          f"after one edit {warm:.1f} s, ratio {warm / cold:.2f} (goal <= 0.2)")


if __name__ == "__main__":
    main()
