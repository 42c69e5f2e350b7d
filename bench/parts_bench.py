"""What the book's parts (chronology, sources with QR codes, outlet index) cost a PDF build.

    python bench/parts_bench.py [--count 300] [--runs 3] [--theme book]

Runs in turn a cold chunked build (chunk cache emptied) with every part and one with none, and reports the
medians: the book's HTML (articles and parts; QR codes made in it), the frame (where the parts are laid out:
their page numbers need every article's page), the whole PDF, and the pages the parts add.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import time

import _common

from compile import config
from compile.writers.pdf import document as render
from compile.writers.pdf.chunked import build as pdf_chunks


def run(book, work, label: str) -> dict:
    shutil.rmtree(work / "cache", ignore_errors=True)
    render.parts.qr.code.cache_clear()  # a cold build makes every code
    started = time.perf_counter()
    render.html_document(book)
    html = time.perf_counter() - started
    output, stats = pdf_chunks.build(book, work / f"{label}.pdf", [work / "cache"], work / "cache",
                                     book.workers)
    return {"html": html, "frame": stats.seconds.get("frame", 0.0), "pdf": stats.seconds["total"],
            "pages": output.pages}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--theme", default="book")
    args = parser.parse_args()
    work = _common.workspace(args.count)
    book = _common.book(work / "src", theme=args.theme)
    none = dataclasses.replace(book, settings=dataclasses.replace(
        book.settings, parts=config.PartSettings(chronology=False, sources=False, outlets=False)))
    results: dict[str, list[dict]] = {"parts": [], "none": []}
    for _ in range(args.runs):
        results["none"].append(run(none, work, "none"))
        results["parts"].append(run(book, work, "parts"))
    medians = {label: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
               for label, runs in results.items()}
    for key in ("html", "frame", "pdf"):
        print(f"{key:6} none {medians['none'][key]:6.2f} s   parts {medians['parts'][key]:6.2f} s   "
              f"cost {medians['parts'][key] - medians['none'][key]:+6.2f} s")
    print(f"pages  none {medians['none']['pages']:.0f}   parts {medians['parts']['pages']:.0f}   "
          f"({args.count} articles, {_common.cores()} cores, theme {args.theme})")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
