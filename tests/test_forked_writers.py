"""The writers' per-article work in forked processes (compile/processes.forked_map): the same book, byte for byte,
as when it is made in the build's own process; and the pool itself (order, errors)."""

from __future__ import annotations

import io
import os
import posixpath
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from compile import processes
from compile.build import pipeline
from compile.transforms import typeset
from tests.conftest import make_settings

ARTICLES = 7


def _archive(root: Path) -> Path:
    """Articles whose images share files and file names: the EPUB names each file once, in book order."""
    source = root / "src"
    for folder in ("images", "more"):
        (source / folder).mkdir(parents=True)
    Image.new("RGB", (60, 40), (180, 40, 40)).save(source / "images" / "photo.png")
    Image.new("RGB", (60, 40), (40, 90, 160)).save(source / "more" / "photo.png")  # same name, other file
    for n in range(ARTICLES):
        image = ["images/photo.png", "more/photo.png"][n % 2]
        (source / f"a{n}.md").write_text(
            f"---\ntitle: 第{n}篇报道：峰会之后的安排\ndate: 2023-08-{10 + n}T09:20:00+02:00\n"
            f"outlet: {['德国之声', '联合早报'][n % 3 == 0]}\nurl: https://example.invalid/{n}\n---\n\n"
            f"第一段文字，第{n}篇。\n\n![图注{n}]({image})\n\n第二段文字，带链接 [原文](https://example.invalid/x{n})。\n"
            + ("\n![两张图](images/photo.png)\n" if n == 3 else ""),  # its second image: the other file
            encoding="utf-8")
    return source


def _build(source: Path, out: Path, formats: list[str]) -> dict:
    settings = make_settings(formats=formats, offline=True, embed_fonts=True)
    settings.pdf.workers = 2
    return pipeline.build(source, out, settings).report


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The archive built twice: every article's document in this process, then in forked workers."""
    root = tmp_path_factory.mktemp("forked")
    source = _archive(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(processes, "MIN_FORKED", 10_000)
        here = _build(source, root / "here", ["epub", "pdf"])
    typeset._SHORT.clear()  # nothing the first build typeset may help the second
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(processes, "MIN_FORKED", 1)
        forked = _build(source, root / "forked", ["epub", "pdf"])
    return root, here, forked


def test_the_epub_made_in_workers_is_the_same_file(built):
    root, here, forked = built
    epub_here, epub_forked = root / "here" / "src.epub", root / "forked" / "src.epub"
    assert epub_forked.read_bytes() == epub_here.read_bytes()
    [output] = [o for o in forked["outputs"] if o["format"] == "epub"]
    assert output["details"]["fonts"], "the characters the workers found chose the embedded faces"


def test_the_epub_names_each_image_file_once_and_shows_each_article_its_own(built):
    root, _, _ = built
    red, blue = (180, 40, 40), (40, 90, 160)
    with zipfile.ZipFile(root / "forked" / "src.epub") as epub:
        names = [n for n in epub.namelist() if n.startswith("EPUB/images/") and "cover" not in n]
        assert len(names) == 2, names  # two files, whatever the number of articles showing them
        for n in range(ARTICLES):
            chapter = epub.read(f"EPUB/text/a{n}.xhtml").decode()
            shown = [Image.open(io.BytesIO(epub.read(posixpath.normpath(f"EPUB/text/{src}")))).getpixel((1, 1))
                     for src in re.findall(r'<img[^>]* src="([^"]+)"', chapter)]
            assert shown == [[red, blue][n % 2]] + ([red] if n == 3 else []), (n, shown)


def test_the_pdf_made_with_workers_is_the_same_text(built):
    root, _, _ = built
    here, forked = (subprocess.run(["pdftotext", "-layout", str(root / folder / "src.pdf"), "-"], check=True,
                                   capture_output=True, text=True).stdout for folder in ("here", "forked"))
    assert forked.count("篇报道") > ARTICLES and forked.count("第二段文字") == ARTICLES
    assert forked == here


def _square(n: int) -> int:
    return n * n


def _pid(_: int) -> int:
    return os.getpid()


def _fail(n: int) -> int:
    if n == 37:
        raise ValueError("article 37")
    return n


def test_forked_map_keeps_the_order_and_uses_workers():
    assert processes.forked_map(_square, range(100), workers=2, batch=7, minimum=1) == [n * n for n in range(100)]
    pids = set(processes.forked_map(_pid, range(64), workers=2, batch=4, minimum=1))
    assert os.getpid() not in pids


def test_forked_map_raises_a_workers_error_here():
    with pytest.raises(ValueError, match="article 37"):
        processes.forked_map(_fail, range(100), workers=2, batch=8, minimum=1)


def test_forked_map_works_here_below_its_minimum():
    assert set(processes.forked_map(_pid, range(10), workers=2, minimum=48)) == {os.getpid()}


def test_forked_maps_in_threads_each_run_their_own_work():
    """Volumes write in threads under a Dask scheduler: each thread's forked_map runs its own function."""
    from concurrent.futures import ThreadPoolExecutor

    def run(offset: int) -> list[int]:
        return processes.forked_map(lambda n: n + offset, range(60), workers=2, batch=5, minimum=1)

    with ThreadPoolExecutor(3) as threads:
        results = list(threads.map(run, (0, 1000, 2000)))
    assert results == [[n + offset for n in range(60)] for offset in (0, 1000, 2000)]
