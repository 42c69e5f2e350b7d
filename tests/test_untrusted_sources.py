"""The source folder is untrusted (issue 18): links out of it, special files, big files, unsafe URLs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from compile import config, sources
from compile.build import pipeline
from tests.conftest import ROOT, SEEDS, make_settings

MARKER = "SECRET-MARKER-7f3a9c"
ARTICLE = "002_fabee16c874f7378.txt"
PASSWD_FIRST_LINE = Path("/etc/passwd").read_text().splitlines()[0]


def _leaky_archive(tmp_path: Path) -> Path:
    """A folder whose every trick would leak a file outside it, hang the build or read a file twice."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{MARKER} 机密文件的内容。\n", encoding="utf-8")
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(SEEDS / ARTICLE, source)
    (source / "leak.txt").symlink_to(outside / "secret.txt")
    (source / "relative-leak.md").symlink_to("../outside/secret.txt")
    (source / "passwd.txt").symlink_to("/etc/passwd")
    (source / "environ.txt").symlink_to("/proc/self/environ")
    (source / "outdir").symlink_to(outside, target_is_directory=True)
    (source / "again.txt").symlink_to(ARTICLE)  # inside: fine, but the file is read once
    (source / "loop").symlink_to(".", target_is_directory=True)
    (source / "broken.txt").symlink_to("nowhere")
    os.mkfifo(source / "pipe.txt")
    (source / ".git").mkdir()
    (source / ".git" / "notes.txt").write_text(f"{MARKER} in a dot-folder", encoding="utf-8")
    return source


@pytest.fixture(scope="module")
def leaky_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leaky")
    source = _leaky_archive(tmp)
    out = tmp / "out"
    # A FIFO opened for reading blocks until a writer comes: the timeout proves it is never opened.
    result = subprocess.run([sys.executable, "-m", "compile", "build", str(source), "-o", str(out), "--offline",
                             "--pdfa"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return out, json.loads((out / "src.report.json").read_text(encoding="utf-8"))


def test_every_trick_is_listed_with_its_reason(leaky_build):
    _, data = leaky_build
    inputs = {entry["source"]: (entry["status"], entry.get("reason", "")) for entry in data["inputs"]}
    outside = ("skipped", sources.OUTSIDE)
    assert inputs["leak.txt"] == outside and inputs["relative-leak.md"] == outside
    assert inputs["passwd.txt"] == outside and inputs["environ.txt"] == outside and inputs["outdir"] == outside
    assert inputs["pipe.txt"] == ("skipped", sources.NOT_REGULAR)
    assert inputs["broken.txt"] == ("skipped", "broken symlink")
    assert inputs[ARTICLE][0] == "article"
    assert inputs["again.txt"] == ("skipped", f"same file as {ARTICLE}, read once")
    assert not any(name.startswith((".git", "loop")) for name in inputs)  # not walked
    assert [a["source"] for a in data["articles"]] == [ARTICLE]


def _leaked(text: str) -> list[str]:
    return [needle for needle in (MARKER, PASSWD_FIRST_LINE, "PATH=") if needle in text]


def test_no_byte_of_a_link_target_reaches_the_epub(leaky_build):
    out, _ = leaky_build
    with zipfile.ZipFile(out / "src.epub") as epub:
        for name in epub.namelist():
            data = epub.read(name)
            assert MARKER.encode() not in data and PASSWD_FIRST_LINE.encode() not in data, name


def test_no_byte_of_a_link_target_reaches_the_pdf_or_its_attachments(leaky_build):
    out, _ = leaky_build
    raw = (out / "src.pdf").read_bytes()
    assert MARKER.encode() not in raw and PASSWD_FIRST_LINE.encode() not in raw
    pdf = PdfReader(out / "src.pdf")
    assert not _leaked("".join(page.extract_text() for page in pdf.pages))
    attachments = pdf.attachments
    assert ARTICLE in attachments and "report.json" in attachments  # the real attachments are there
    assert set(attachments) == {ARTICLE, "report.json"}
    for name, contents in attachments.items():
        for data in contents:
            assert MARKER.encode() not in data and PASSWD_FIRST_LINE.encode() not in data, name


def test_read_bytes_never_follows_a_link_nor_opens_a_fifo(tmp_path):
    (tmp_path / "secret").write_text(MARKER)
    (tmp_path / "link").symlink_to(tmp_path / "secret")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(sources.Skipped):
        sources.read_bytes(tmp_path / "link")
    started = time.monotonic()
    with pytest.raises(sources.Skipped, match=sources.NOT_REGULAR):
        sources.read_bytes(tmp_path / "fifo")
    assert time.monotonic() - started < 1


def test_a_file_replaced_after_discovery_is_not_read(tmp_path):
    (tmp_path / "a.txt").write_text("第一篇文章的正文。")
    entry = sources.discover(tmp_path)[0]
    (tmp_path / "a.txt").rename(tmp_path / "kept")  # the old inode stays in use: the new file gets another
    (tmp_path / "a.txt").symlink_to("/etc/passwd")
    with pytest.raises(sources.Skipped):
        sources.read_bytes(entry.path, entry.identity)
    (tmp_path / "a.txt").unlink()
    (tmp_path / "a.txt").write_text(MARKER)  # another file under the same name
    with pytest.raises(sources.Skipped, match="replaced"):
        sources.read_bytes(entry.path, entry.identity)


def test_a_file_over_the_size_limit_is_skipped_unread(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(SEEDS / ARTICLE, source)
    with open(source / "huge.txt", "wb") as huge:  # sparse: 200 MB that cost no disk
        huge.truncate(200 * sources.MB)
    prepared = pipeline.prepare(source, make_settings())
    inputs = {entry["source"]: entry for entry in prepared.inputs}
    assert inputs["huge.txt"]["status"] == "skipped"
    assert inputs["huge.txt"]["reason"] == "too large (200 MB > 20 MB)"
    assert inputs[ARTICLE]["status"] == "article"


def test_read_bytes_reads_at_most_the_limit(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"x" * 1000)
    assert sources.read_bytes(tmp_path / "a.txt", limit=1000) == b"x" * 1000
    with pytest.raises(sources.Skipped, match="too large"):
        sources.read_bytes(tmp_path / "a.txt", limit=999)


@pytest.mark.parametrize("files", [[], ["anthology.toml", "photo.jpg"]])
def test_a_folder_without_article_files_is_a_configuration_error(tmp_path, files):
    for name in files:
        (tmp_path / name).write_text("x")
    with pytest.raises(config.ConfigError, match=str(tmp_path)):
        pipeline.prepare(tmp_path, make_settings())


def test_an_article_over_its_time_limit_is_reported_failed(tmp_path, monkeypatch):
    shutil.copy(SEEDS / ARTICLE, tmp_path / "slow.txt")
    shutil.copy(SEEDS / "000_a1d4f1b7f99dda5e.txt", tmp_path)
    real_read_one = pipeline.read_one

    def read_one(source, path, *args, **kwargs):
        if path.name == "slow.txt":
            time.sleep(30)  # the limit interrupts it
        return real_read_one(source, path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "read_one", read_one)
    started = time.monotonic()
    prepared = pipeline.prepare(tmp_path, make_settings(read_seconds=0.5))
    assert time.monotonic() - started < 10
    inputs = {entry["source"]: entry for entry in prepared.inputs}
    assert inputs["slow.txt"]["status"] == "failed"
    assert inputs["slow.txt"]["reason"] == "reading took longer than 0.5 s"
    assert inputs["000_a1d4f1b7f99dda5e.txt"]["status"] == "article"


def test_the_time_limit_restores_the_previous_handler():
    import signal

    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(sources.ReadTimeout), sources.time_limit(0.2):
        time.sleep(5)
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


UNSAFE_URLS = {
    "rss.txt": "<!--1621698305000-->\n[标题一](javascript:alert(1))\n------\n\n<p>第一篇正文。</p>\n",
    "page.html": ('<!doctype html><html><head><title>标题二</title><link rel="canonical" href="file:///etc/passwd">'
                  "</head><body><article><p>第二篇正文。</p></article></body></html>"),
    "post.md": "---\ntitle: 标题三\nurl: data:text/html,x\n---\n第三篇正文。\n",
}


@pytest.mark.parametrize("name", sorted(UNSAFE_URLS))
def test_an_unsafe_article_url_is_dropped(tmp_path, name):
    (tmp_path / name).write_text(UNSAFE_URLS[name], encoding="utf-8")
    article = pipeline.prepare(tmp_path, make_settings()).anthology.articles[0]
    assert article.url == ""
    if name != "post.md":  # front matter's own check drops it first, silently as before
        assert any("not a web address" in w for w in article.warnings)


def test_a_web_url_is_kept(tmp_path):
    text = UNSAFE_URLS["rss.txt"].replace("javascript:alert(1)", "https://example.org/news/1")
    (tmp_path / "rss.txt").write_text(text, encoding="utf-8")
    assert pipeline.prepare(tmp_path, make_settings()).anthology.articles[0].url == "https://example.org/news/1"
