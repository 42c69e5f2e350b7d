"""Volumes run as independent units of work: through a process pool, and through a Dask cluster."""

from __future__ import annotations

import dataclasses
import sys

import pytest
from pypdf import PdfReader

from compile import config
from compile.build import pipeline
from tests.conftest import ROOT, make_settings

sys.path.insert(0, str(ROOT / "bench"))
import corpus  # noqa: E402 - bench/ is not a package


def _settings(**overrides):
    return make_settings(offline=True, slug="vol", volumes=config.VolumeSettings(max_articles=4), **overrides)


def test_volumes_through_the_process_pool(tmp_path):
    corpus.generate(tmp_path / "src", 12, seed=2)
    result = pipeline.build(tmp_path / "src", tmp_path / "out", _settings())
    pdfs = sorted(o.path.name for o in result.outputs if o.format == "pdf")
    assert pdfs == ["vol-01.pdf", "vol-02.pdf", "vol-03.pdf"]
    for output in result.outputs:
        assert output.path.is_file() and output.bytes > 0
        if output.format == "pdf":
            assert len(PdfReader(output.path).pages) == output.pages > 4
    assert [len(v["articles"]) for v in result.report["volumes"]] == [4, 4, 4]


def test_volumes_through_a_dask_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    corpus.generate(tmp_path / "src", 8, seed=4)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        settings = _settings(formats=["epub"], scheduler=cluster.scheduler_address)
        result = pipeline.build(tmp_path / "src", tmp_path / "out", settings)
    assert sorted(o.path.name for o in result.outputs) == ["vol-01.epub", "vol-02.epub"]
    assert all(o.bytes > 0 for o in result.outputs)


def test_volume_workers_do_not_nest_pools():
    from compile.build.volumes import _alone
    from compile.writers.context import Book

    settings = make_settings(formats=["pdf"])
    settings.pdf.workers, settings.pdf.page_size = 4, "A4"  # what the user asked for the whole book
    book = Book(anthology=None, theme=None, settings=settings, slug="x")  # type: ignore[arg-type]
    alone = _alone(book)
    assert alone.settings.pdf.workers == 1  # the pool already uses every core: one PDF worker per volume
    assert dataclasses.replace(alone.settings.pdf, workers=4) == settings.pdf  # nothing else changes
    assert dataclasses.replace(alone.settings, pdf=settings.pdf) == settings and alone.slug == "x"
    assert book.settings is settings and settings.pdf.workers == 4, "the caller's book is not mutated"
