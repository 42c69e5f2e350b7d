"""EPUB: our EPUB build of 1,000 articles ÷ pandoc converting the same article HTML to EPUB 3 (goal <= 1.0).

    python bench/epub_bench.py [--count 1000]
"""

from __future__ import annotations

import argparse
import subprocess
import time

import _common

from compile.writers import epub
from compile.writers.context import Resources, environment, render_article


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    work = _common.workspace(args.count)
    started = time.perf_counter()
    book = _common.book(work / "src")
    prepare = time.perf_counter() - started
    started = time.perf_counter()
    epub.write(book, work / "tool.epub", Resources(work / "cache"))
    ours = time.perf_counter() - started

    env = environment(book.theme, book.zone)
    html = "<html><head><title>bench</title></head><body>" + "".join(
        render_article(env, book, a, lambda image: None) for a in book.anthology.articles) + "</body></html>"
    (work / "book.html").write_text(html, encoding="utf-8")
    started = time.perf_counter()
    subprocess.run(["pandoc", "-f", "html", "-t", "epub3", "--metadata", "title=bench", "-o", str(work / "pandoc.epub"),
                    str(work / "book.html")], check=True)
    pandoc = time.perf_counter() - started
    print(f"{args.count} articles, {_common.cores()} cores: read+clean {prepare:.1f} s (cold store), "
          f"EPUB writer {ours:.1f} s, pandoc {pandoc:.1f} s")
    print(f"ratio writer/pandoc {ours / pandoc:.2f}; "
          f"(read+writer)/pandoc {(prepare + ours) / pandoc:.2f} (goal <= 1.0)")


if __name__ == "__main__":
    main()
