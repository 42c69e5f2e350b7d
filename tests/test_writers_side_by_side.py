"""The formats are written side by side (compile/build/pipeline.py write_outputs): all but the last in a forked
process of their own. Each writer sees its own images' variants, and what a writer aside says of the book (a
warning, an article's warning) reaches the report as if it had been written here."""

from __future__ import annotations

import io
import os
import signal
import textwrap
import threading
from pathlib import Path

import pytest
from PIL import Image as PILImage

from compile import processes
from compile.build import pipeline
from compile.writers import registry
from compile.writers.context import Output
from tests.conftest import make_settings


def _source(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    picture = io.BytesIO()
    PILImage.new("RGB", (2400, 1600), (40, 90, 160)).save(picture, "JPEG")
    (source / "pic.jpg").write_bytes(picture.getvalue())
    (source / "story.md").write_text(textwrap.dedent("""
        ---
        title: A story with a picture
        date: 2021-05-22
        ---
        The text of the story, long enough to be an article body.

        ![A caption](pic.jpg)
        """).lstrip(), encoding="utf-8")
    return source


def _recording(fmt: str):
    """A writer of `fmt` that says which process wrote it and the size of the image it was given."""

    def write(book, target: Path, resources) -> list[Output]:
        (image,) = book.anthology.images
        with PILImage.open(image.path) as variant:
            said = f"{fmt} in {os.getpid()} with {variant.width}x{variant.height}"
        book.anthology.warnings.append(said)
        book.anthology.articles[0].warn(f"article: {said}")
        target.write_text(said, encoding="utf-8")
        return [Output(target, fmt, target.stat().st_size)]

    return registry.Writer(fmt, write, registry.WRITERS[fmt].images)


@pytest.mark.parametrize(("workers", "formats"), [(2, ["epub", "pdf"]), (1, ["epub", "pdf"]), (2, ["pdf", "epub"])])
def test_each_format_is_written_with_its_own_images_and_its_words_come_back(tmp_path, monkeypatch, workers,
                                                                           formats):
    for fmt in ("epub", "pdf"):
        monkeypatch.setitem(registry.WRITERS, fmt, _recording(fmt))
    settings = make_settings(formats=formats)
    settings.pdf.workers = workers
    result = pipeline.build(_source(tmp_path), tmp_path / "out", settings)

    said = {w.split(" in ")[0]: w for w in result.report["warnings"] if " in " in w}
    epub_pid, epub_file = said["epub"].split(" in ")[1].split(" with ")
    pdf_pid, pdf_file = said["pdf"].split(" in ")[1].split(" with ")
    assert pdf_pid == str(os.getpid())  # the PDF is written here, whatever the order
    assert (epub_pid != str(os.getpid())) == (workers > 1)  # the others beside it, when there are cores for it
    assert epub_file == "1600x1067" and pdf_file != epub_file  # each its own variant of the one picture
    (article,) = result.report["articles"]
    assert [w for w in article["warnings"] if w.startswith("article:")] == [f"article: {said[f]}" for f in formats]
    assert [o.format for o in result.outputs] == formats  # in the formats' order
    assert (tmp_path / "out" / "src.epub").read_text(encoding="utf-8") == said["epub"]
    timings = {o["format"]: o["details"]["timing"] for o in result.report["outputs"]}
    assert set(timings) == set(formats) and all(set(t) == {"wall_s", "cpu_s"} for t in timings.values())


def test_a_writer_failing_aside_fails_the_build_as_it_would_here(tmp_path, monkeypatch):
    def broken(book, target, resources):
        raise RuntimeError("the EPUB writer broke")

    monkeypatch.setitem(registry.WRITERS, "epub", registry.Writer("epub", broken, registry.WRITERS["epub"].images))
    monkeypatch.setitem(registry.WRITERS, "pdf", _recording("pdf"))
    settings = make_settings(formats=["epub", "pdf"])
    settings.pdf.workers = 2
    with pytest.raises(RuntimeError, match="the EPUB writer broke"):
        pipeline.build(_source(tmp_path), tmp_path / "out", settings)
    assert not (tmp_path / "out" / "src.pdf").exists()  # nothing published


def test_a_writer_whose_process_dies_costs_its_format_only(tmp_path, monkeypatch):
    def killed(book, target, resources):  # as the kernel's OOM killer would
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setitem(registry.WRITERS, "epub", registry.Writer("epub", killed, registry.WRITERS["epub"].images))
    monkeypatch.setitem(registry.WRITERS, "pdf", _recording("pdf"))
    settings = make_settings(formats=["epub", "pdf"])
    settings.pdf.workers = 2
    result = pipeline.build(_source(tmp_path), tmp_path / "out", settings)
    assert [o.format for o in result.outputs] == ["pdf"] and (tmp_path / "out" / "src.pdf").exists()
    assert not (tmp_path / "out" / "src.epub").exists()
    assert "EPUB: not written: its process died (killed by SIGKILL)" in result.report["warnings"]


def test_a_process_aside_leaves_no_thread_behind_for_the_forks_that_follow():
    """A plain process and a pipe, not a pool: the PDF's pools fork while it runs (CPython issue 90622)."""
    before = threading.active_count()
    with processes.aside(lambda n: n * 2, [1, 2]) as results:
        assert threading.active_count() == before
        assert results() == [2, 4]
