"""The formats a build writes: one entry each, with one signature (pandoc's table of writers).

An entry's `write(book, target, resources)` makes what its format adds to a build: the file at `target`, any
file beside it (the PDF's imposed booklet), or nothing when it could not be made, the book saying why.
Its `images(book)` says which variants of the figures it wants; compile/build/pipeline.py makes them before
it writes (image I/O stays with the build). Adding a format is one module and one entry here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compile import pages
from compile.model import Anthology
from compile.theme import Theme
from compile.writers.context import Book, Output, Resources

if TYPE_CHECKING:
    from compile.writers.pdf.document import RenderTimeout

# Each writer is imported when its format is written: an EPUB-only build never loads WeasyPrint (~0.4 s).


@dataclass(frozen=True)
class ImageSpec:
    """The figures a format wants: a profile of images/variants.py (`profile()`), recompressed within a budget."""

    profile: str  # epub | eink | print
    width_mm: float = 0.0  # printed width of a full-width figure (print); 0 = the profile's default
    budget_mb: float = 0.0  # 0 = no budget


@dataclass(frozen=True)
class Writer:
    """One format: how it writes a book, and the images it wants for it."""

    name: str  # as `formats` and --format say it; also the file's extension
    write: Callable[[Book, Path, Resources], list[Output]]
    images: Callable[[Book], ImageSpec]
    # Why this format cannot be made here for a theme (an engine not installed), or None. The build writes the
    # other formats and says why; the CLI then exits non-zero (compile/cli.py).
    missing: Callable[[Theme], str | None] = lambda chosen: None


def _write_epub(book: Book, target: Path, resources: Resources) -> list[Output]:
    from compile.writers import epub

    return [epub.write(book, target, resources)]


def _epub_images(book: Book) -> ImageSpec:
    settings = book.settings.images
    return ImageSpec(settings.epub_profile, budget_mb=settings.epub_budget_mb)


def _write_pdf(book: Book, target: Path, resources: Resources) -> list[Output]:
    from compile.writers.pdf import chromium, prepress
    from compile.writers.pdf import writer as pdf

    try:
        output = pdf.write(book, target, resources)
    except pdf.RenderTimeout as exc:  # the other outputs are still made and published
        _too_slow(book.anthology, exc)
        return []
    except chromium.EngineMissing as exc:  # no Chromium for a vertical book: no PDF, and the CLI exits 2
        book.anthology.warnings.append(str(exc))
        return []
    except chromium.EngineFailed as exc:  # it ran and made nothing: no PDF, said on the terminal too
        logging.getLogger("anthology").warning("%s", exc)
        book.anthology.warnings.append(str(exc))
        return []
    if book.settings.pdf.impose == "booklet":
        bind = "right" if book.theme.page_progression == "rtl" else "left"
        return [output, prepress.impose_booklet(target, target.with_name(f"{book.slug}.booklet.pdf"), bind)]
    return [output]


def _pdf_engine_missing(chosen: Theme) -> str | None:
    from compile.writers.pdf import chromium

    return chromium.missing() if chosen.writing_mode.startswith("vertical") else None


def _too_slow(part: Anthology, exc: RenderTimeout) -> None:
    """No PDF: the book's warnings say why, and each article that was being rendered says so too."""
    part.warnings.append(str(exc))
    for article in part.articles:
        if article.id in exc.ids:
            article.warn(f"PDF: rendering took longer than {exc.seconds:.0f} s; no PDF was written")


def _pdf_images(book: Book) -> ImageSpec:
    """Print resolution at the width of a full-width figure: the theme's text block on its own page (A5's is
    114.8 mm: sized for a typical 110 mm block, a figure printed at 287 dpi), a typical block on another."""
    chosen = book.settings.pdf.page_size
    if (chosen and chosen != book.theme.page_size) or book.theme.writing_mode.startswith("vertical"):
        width = pages.text_width_mm(chosen or book.theme.page_size)  # a vertical measure is a column's height
    else:
        width = book.theme.measure_pt * pages.MM_PER["pt"]
    return ImageSpec("print", width, book.settings.images.pdf_budget_mb)


# compile/config.py's FORMATS names the same (it may not import the writers; tests/test_writer_registry.py).
WRITERS: dict[str, Writer] = {writer.name: writer for writer in (
    Writer("epub", _write_epub, _epub_images),
    Writer("pdf", _write_pdf, _pdf_images, _pdf_engine_missing),
)}


def missing(chosen: Theme, formats: list[str]) -> list[str]:
    """Why each of `formats` that cannot be made here for `chosen` cannot."""
    return [reason for fmt in formats if fmt in WRITERS and (reason := WRITERS[fmt].missing(chosen))]
