"""Incremental: the rebuild after editing one article ÷ the cold build, whole command, EPUB + PDF (goal <= 0.2).

    python bench/incremental_bench.py [--count 300] [--runs 1] [--corpus-dev [FOLDER]] [--grow N]

Each run copies the archive afresh, builds it as a user would (a new process, an empty cache), appends a
paragraph to one article and builds again with the cache the first build left, then edits that article again
and builds once more (its chunk's pieces are then cached: compile/writers/pdf/chunked/build.py `finer`).
--corpus-dev builds a copy of the development corpus (../shared/corpus-dev, 36 real articles) instead of
generated ones. --grow N appends N paragraphs instead of one: enough to move the pages after the article, so
that the rebuild lays out the book's parts and its frame again (as an article grown or added does). Then the
tool's own breakdown by stage, of the cold build and of the rebuild.

Last, the same edit with `build --watch` (the process stays): from the moment the file is saved to the moment
the watcher says the outputs are written, polling included (WATCH_EDITS edits, the median).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import _common
import corpus

CORPUS_DEV = _common.ROOT.parent / "shared" / "corpus-dev"
EDIT = "<p>编者补记：一处修订。</p>\n"
AGAIN = "<p>再次补记：又一处修订。</p>\n"


def edit_one(source: Path, edit: str = EDIT) -> Path:
    """Append a paragraph to the middle article (an HTML-bodied one, where a <p> is at home)."""
    files = sorted(source.glob("*_rss.txt")) or sorted(source.glob("*.txt"))
    edited = files[len(files) // 2]
    edited.write_text(edited.read_text(encoding="utf-8").rstrip() + edit, encoding="utf-8")
    return edited


WATCH_EDITS = 5


def watched_rebuilds(command: list[str], env: dict[str, str], source: Path, log: Path) -> list[float]:
    """Seconds from each edit's save to `build --watch` reporting its outputs written."""
    seconds = []
    with open(log, "w", encoding="utf-8") as output:
        watcher = subprocess.Popen([*command, "--watch"], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, encoding="utf-8")
        try:
            _until_watching(watcher, output)  # the first build: nothing changed since the command's
            for n in range(WATCH_EDITS):
                edit_one(source, f"<p>监看补记{n}：又一处修订。</p>\n")
                saved = time.perf_counter()
                _until_watching(watcher, output)
                seconds.append(time.perf_counter() - saved)
        finally:
            watcher.send_signal(signal.SIGINT)
            watcher.wait(timeout=60)
    return seconds


def _until_watching(watcher: subprocess.Popen, output) -> None:
    for line in watcher.stderr:
        output.write(line)
        if "; watching " in line:
            return
    raise RuntimeError(f"build --watch ended (exit code {watcher.wait()}): see {output.name}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--corpus-dev", nargs="?", type=Path, const=CORPUS_DEV, metavar="FOLDER",
                        help=f"build a copy of this folder instead (default {CORPUS_DEV})")
    parser.add_argument("--grow", type=int, default=0, metavar="N",
                        help="the edit appends N paragraphs (enough moves the pages that follow)")
    args = parser.parse_args()
    edit = "".join(f"<p>编者补记：一处较长的修订，让这篇文章多出几页。{n}</p>\n" for n in range(args.grow)) or EDIT
    if args.corpus_dev:
        work = Path(tempfile.mkdtemp(prefix="anthology-bench-corpus-dev-"))
        pristine = work / "pristine" / args.corpus_dev.resolve().name
        shutil.copytree(args.corpus_dev, pristine)  # the benchmark edits an article: never the original
        what = f"{args.corpus_dev} ({len(list(pristine.glob('*.txt')))} files)"
    else:
        work = Path(tempfile.mkdtemp(prefix=f"anthology-bench-{args.count}-"))
        pristine = work / "pristine" / "src"
        corpus.generate(pristine, args.count)
        what = f"{args.count} generated articles"

    results, watches = [], []
    for _ in range(args.runs):
        source = work / "run" / pristine.name
        shutil.rmtree(work / "run", ignore_errors=True)
        shutil.copytree(pristine, source)
        env = _common.fresh_env(work / "cache")
        command = _common.build_command(source, work / "out", "epub,pdf")
        cold = _common.timed(command, env, work / "cold.log")
        cold_report = _common.report(work / "out")
        edited = edit_one(source, edit)
        warm = _common.timed(command, env, work / "warm.log")
        warm_report = _common.report(work / "out")
        results.append((cold, warm))
        edit_one(source, AGAIN)  # the same article edited again: its chunk's pieces are in the cache now
        again = _common.timed(command, env, work / "again.log")
        watched = statistics.median(watched_rebuilds(command, env, source, work / "watch.log"))
        watches.append(watched / cold.seconds)
        print(f"run {len(results)}: cold {cold.seconds:6.1f} s, after editing {edited.name}: {warm.seconds:6.1f} s, "
              f"ratio {warm.seconds / cold.seconds:.2f}; edited again: {again.seconds:6.1f} s, "
              f"ratio {again.seconds / cold.seconds:.2f}; with --watch, save to outputs: {watched:.1f} s, "
              f"ratio {watched / cold.seconds:.2f} (median of {WATCH_EDITS} edits)")

    ratio = statistics.median(warm.seconds / cold.seconds for cold, warm in results)
    print(f"{what}, {_common.cores()} cores, EPUB + PDF, whole command; in {work}")
    print(f"ratio rebuild ÷ cold: {ratio:.2f} (median of {len(results)}; goal <= 0.2)")
    print(f"ratio rebuild with --watch (save to outputs) ÷ cold: {statistics.median(watches):.2f}")
    print(f"peak memory (largest single process): cold {max(c.peak_mib for c, _ in results):.0f} MiB, "
          f"rebuild {max(w.peak_mib for _, w in results):.0f} MiB")
    print("tool's stages, cold build (last run):")
    print("\n".join(_common.stage_lines(cold_report, results[-1][0])))
    print("tool's stages, rebuild (last run):")
    print("\n".join(_common.stage_lines(warm_report, results[-1][1])))


if __name__ == "__main__":
    main()
