"""PDF: the tool's PDF build of 300 articles ÷ plain one-pass WeasyPrint on the same HTML and CSS.

    python bench/pdf_bench.py [--count 300] [--mode chunked|single|auto]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time

import _common
import weasyprint

from compile.writers import pdf


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--mode", default="chunked")
    args = parser.parse_args()
    handler = logging.StreamHandler()  # the writer's own figures: chunks, frame, font step
    handler.addFilter(lambda record: record.getMessage().startswith("pdf"))
    logging.getLogger("anthology").addHandler(handler)
    logging.getLogger("anthology").setLevel(logging.INFO)
    work = _common.workspace(args.count)
    book = _common.book(work / "src")
    book = dataclasses.replace(book, settings=dataclasses.replace(
        book.settings, pdf=dataclasses.replace(book.settings.pdf, mode=args.mode)))

    started = time.perf_counter()
    output = pdf.write(book, work / "tool.pdf", [work / "cache"])
    tool = time.perf_counter() - started

    started = time.perf_counter()
    html = pdf.html_document(book)
    document = weasyprint.HTML(string=html, base_url=book.theme.root.as_uri() + "/")
    sheets = [weasyprint.CSS(filename=str(p)) for p in book.theme.print_stylesheets()]
    document.write_pdf(work / "plain.pdf", stylesheets=sheets)
    plain = time.perf_counter() - started

    print(f"{args.count} articles, {output.pages} pages, {_common.cores()} cores, mode {args.mode}")
    print(f"tool  {tool:6.1f} s  {output.bytes / 1e6:5.1f} MB  {'; '.join(output.notes)}")
    print(f"plain {plain:6.1f} s  {(work / 'plain.pdf').stat().st_size / 1e6:5.1f} MB")
    print(f"ratio {tool / plain:.2f}  (goal <= 0.5); size {output.bytes / (work / 'plain.pdf').stat().st_size:.2f}")


if __name__ == "__main__":
    main()
