"""PDF: the tool's PDF build of 300 articles ÷ plain one-pass WeasyPrint on the same HTML and CSS.

    python bench/pdf_bench.py [--count 300] [--mode chunked|single|auto] [--runs 3]

Tool and plain run in turn, each tool run cold (the chunk cache emptied); the median of the pairs' ratios
is the figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shutil
import statistics
import time

import _common
import weasyprint

from compile.writers.context import Resources
from compile.writers.pdf import render
from compile.writers.pdf import writer as pdf
from compile.writers.pdf.chunked import build as pdf_chunks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--mode", default="chunked")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    handler = logging.StreamHandler()  # the writer's own figures: chunks, frame, font step
    handler.addFilter(lambda record: record.getMessage().startswith("pdf"))
    logging.getLogger("anthology").addHandler(handler)
    logging.getLogger("anthology").setLevel(logging.INFO)
    work = _common.workspace(args.count)
    book = _common.book(work / "src")
    book = dataclasses.replace(book, settings=dataclasses.replace(
        book.settings, pdf=dataclasses.replace(book.settings.pdf, mode=args.mode)))

    ratios = []
    for run in range(args.runs):
        shutil.rmtree(work / "cache" / "pdf", ignore_errors=True)  # cold: no chunk, frame or probe cached,
        pdf_chunks.close_pools()  # and new workers
        started = time.perf_counter()
        output = pdf.write(book, work / "tool.pdf", Resources(work / "cache", (work / "cache",)))
        tool = time.perf_counter() - started
        plain = plain_weasyprint(book, work / "plain.pdf")
        ratios.append(tool / plain)
        print(f"run {run + 1}: tool {tool:5.1f} s, plain {plain:5.1f} s, ratio {tool / plain:.2f}")

    size = (work / "plain.pdf").stat().st_size
    print(f"{args.count} articles, {output.pages} pages, {_common.cores()} cores, mode {args.mode}")
    print(f"tool  {output.bytes / 1e6:5.1f} MB  {'; '.join(output.notes)}")
    print(f"plain {size / 1e6:5.1f} MB")
    print(f"ratio {statistics.median(ratios):.2f} median of {args.runs} (goal <= 0.5); size {output.bytes / size:.2f}")


def plain_weasyprint(book, target) -> float:
    """One pass of WeasyPrint as installed, on the same HTML and the theme's CSS: the seconds it took."""
    started = time.perf_counter()
    html = render.html_document(book)
    document = weasyprint.HTML(string=html, base_url=book.theme.root.as_uri() + "/")
    sheets = [weasyprint.CSS(filename=str(p)) for p in book.theme.print_stylesheets()]
    document.write_pdf(target, stylesheets=sheets)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
