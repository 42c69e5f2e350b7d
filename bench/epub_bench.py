"""EPUB: `anthology build --format epub`, whole command and cold, ÷ pandoc making EPUB 3 of the same text (goal <= 1.0).

    python bench/epub_bench.py [--count 1000] [--runs 2]

Each run times, in turn, the tool as a user runs it (a new process, an empty cache) and pandoc on one
HTML file of the same articles (titles and paragraphs, made once, untimed); the figure is the median of
the pairs' ratios. Then the tool's own breakdown by stage, from the last run's report.json.
"""

from __future__ import annotations

import argparse

import _common
import corpus


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    work = _common.workspace(args.count)
    (work / "book.html").write_text(corpus.plain_html(args.count), encoding="utf-8")
    pandoc = ["pandoc", "-f", "html", "-t", "epub3", "--metadata", f"title={corpus.TITLE}",
              "-o", str(work / "pandoc.epub"), str(work / "book.html")]

    pairs = []
    for _ in range(args.runs):
        env = _common.fresh_env(work / "cache")
        tool = _common.timed(_common.build_command(work / "src", work / "out", "epub"), env, work / "tool.log")
        naive = _common.timed(pandoc, _common.fresh_env(work / "cache-pandoc"), work / "pandoc.log")
        pairs.append((tool, naive))

    ours = (work / "out" / "bench.epub").stat().st_size
    print(f"{args.count} articles, {_common.cores()} cores; EPUB {ours / 1e6:.1f} MB (fonts embedded), "
          f"pandoc's {(work / 'pandoc.epub').stat().st_size / 1e6:.1f} MB (no fonts); in {work}")
    print("\n".join(_common.paired_summary(pairs, "pandoc", goal=1.0)))
    print("tool's stages, last run:")
    print("\n".join(_common.stage_lines(_common.report(work / "out"), pairs[-1][0])))


if __name__ == "__main__":
    main()
