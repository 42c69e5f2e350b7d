"""PDF: `anthology build --format pdf`, whole command and cold, ÷ one plain WeasyPrint pass over the same text.

    python bench/pdf_bench.py [--count 300] [--runs 2] [--mode auto|single|chunked] [--writer-only]

Each run times, in turn, the tool as a user runs it (a new process, an empty cache, new workers) and the
naive alternative: the `weasyprint` command on one HTML file of the same articles (titles and paragraphs,
made once, untimed) with a plain book stylesheet (bench/plain_book.css: A5, page numbers, justified serif
CJK, one article per page run). The figure is the median of the pairs' ratios; then the pages of both
PDFs and the tool's own breakdown by stage.

--writer-only measures, in this process, the tool's PDF writer against WeasyPrint on the same HTML and the
theme's CSS (the figure before issue #22: reading, typesetting and start-up left out on both sides).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import _common
import corpus

PLAIN_CSS = Path(__file__).resolve().parent / "plain_book.css"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--mode", choices=["auto", "single", "chunked"], help="[pdf] mode (default: the tool's)")
    parser.add_argument("--writer-only", action="store_true", help="the writer alone, in-process")
    args = parser.parse_args()
    work = _common.workspace(args.count)
    (writer_only if args.writer_only else whole_command)(work, args)


def whole_command(work: Path, args) -> None:
    if args.mode:
        with (work / "src" / "anthology.toml").open("a", encoding="utf-8") as config:
            config.write(f'[pdf]\nmode = "{args.mode}"\n')
    (work / "book.html").write_text(corpus.plain_html(args.count), encoding="utf-8")
    plain = [_common.program("weasyprint"), str(work / "book.html"), str(work / "plain.pdf"), "-s", str(PLAIN_CSS)]

    pairs = []
    for _ in range(args.runs):
        env = _common.fresh_env(work / "cache")
        tool = _common.timed(_common.build_command(work / "src", work / "out", "pdf"), env, work / "tool.log")
        naive = _common.timed(plain, _common.fresh_env(work / "cache-plain"), work / "plain.log")
        pairs.append((tool, naive))

    ours, theirs = work / "out" / "bench.pdf", work / "plain.pdf"
    print(f"{args.count} articles, {_common.cores()} cores, mode {args.mode or 'default'}; in {work}")
    print(f"tool  {_common.pages(ours)} pages, {ours.stat().st_size / 1e6:.1f} MB")
    print(f"plain {_common.pages(theirs)} pages, {theirs.stat().st_size / 1e6:.1f} MB (WeasyPrint, plain_book.css)")
    print("\n".join(_common.paired_summary(pairs, "plain WeasyPrint", goal=1.0)))
    print("tool's stages, last run:")
    print("\n".join(_common.stage_lines(_common.report(work / "out"), pairs[-1][0])))


def writer_only(work: Path, args) -> None:
    """The tool's PDF writer ÷ one WeasyPrint pass on the same HTML and CSS, both in this process."""
    import logging
    import shutil

    from compile.writers.context import Resources
    from compile.writers.pdf import writer as pdf
    from compile.writers.pdf.chunked import build as pdf_chunks

    handler = logging.StreamHandler()  # the writer's own figures: chunks, frame, font step
    handler.addFilter(lambda record: record.getMessage().startswith("pdf"))
    logging.getLogger("anthology").addHandler(handler)
    logging.getLogger("anthology").setLevel(logging.INFO)
    book = _common.book(work / "src")
    if args.mode:
        book = dataclasses.replace(book, settings=dataclasses.replace(
            book.settings, pdf=dataclasses.replace(book.settings.pdf, mode=args.mode)))
    ratios = []
    for run in range(args.runs):
        shutil.rmtree(work / "cache" / "pdf", ignore_errors=True)  # cold: no chunk, frame or probe cached,
        pdf_chunks.close_pools()  # and new workers
        started = time.perf_counter()
        output = pdf.write(book, work / "tool.pdf", Resources(work / "cache", (work / "cache",)))
        tool = time.perf_counter() - started
        plain = theme_weasyprint(book, work / "plain.pdf")
        ratios.append(tool / plain)
        print(f"run {run + 1}: writer {tool:5.1f} s, WeasyPrint {plain:5.1f} s, ratio {tool / plain:.2f}")
    size = (work / "plain.pdf").stat().st_size
    print(f"{args.count} articles, {output.pages} pages, {_common.cores()} cores, mode {book.settings.pdf.mode}")
    print(f"writer     {output.bytes / 1e6:5.1f} MB  {'; '.join(output.notes)}")
    print(f"WeasyPrint {size / 1e6:5.1f} MB, {_common.pages(work / 'plain.pdf')} pages")
    print(f"ratio writer ÷ WeasyPrint {statistics.median(ratios):.2f} median of {args.runs}; "
          f"size {output.bytes / size:.2f}")


def theme_weasyprint(book, target: Path) -> float:
    """One pass of WeasyPrint as installed, on the tool's HTML and the theme's CSS: the seconds it took."""
    import weasyprint

    from compile.writers.pdf import document as render

    started = time.perf_counter()
    html = render.html_document(book)
    document = weasyprint.HTML(string=html, base_url=book.theme.root.as_uri() + "/")
    sheets = [weasyprint.CSS(filename=str(p)) for p in book.theme.print_stylesheets()]
    document.write_pdf(target, stylesheets=sheets)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
