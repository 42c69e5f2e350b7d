"""The writers' registry (compile/writers/registry.py): one entry per format the settings accept."""

from __future__ import annotations

import inspect

import pytest

from compile import config, pages, theme
from compile.writers import epub, registry
from compile.writers.pdf import writer as pdf


def test_the_registry_names_the_formats_the_settings_accept():
    # config.py may not import the writers (heavy, and a cycle), so it keeps its own list: the two must agree.
    assert tuple(registry.WRITERS) == config.FORMATS
    assert all(name == writer.name for name, writer in registry.WRITERS.items())


def test_every_format_writer_has_the_one_signature():
    signatures = {inspect.signature(module.write) for module in (epub, pdf)}
    assert [str(s) for s in signatures] == ["(book: 'Book', target: 'Path', resources: 'Resources') -> 'Output'"]


def test_a_format_names_the_images_it_wants():
    settings = config.Settings()
    settings.images.epub_profile, settings.images.pdf_budget_mb = "eink", 20.0

    chosen = theme.load("book")
    book = registry.Book(anthology=None, theme=chosen, settings=settings, slug="x")  # type: ignore[arg-type]
    assert registry.WRITERS["epub"].images(book) == registry.ImageSpec("eink", 0.0, settings.images.epub_budget_mb)
    wanted = registry.WRITERS["pdf"].images(book)
    assert wanted.profile == "print" and wanted.budget_mb == 20.0
    assert wanted.width_mm == pytest.approx(chosen.measure_pt * 25.4 / 72), "the theme's text block, in mm"
    settings.pdf.page_size = "A4"  # another page than the theme's: a typical text block on it
    assert registry.WRITERS["pdf"].images(book).width_mm == pages.text_width_mm("A4")
