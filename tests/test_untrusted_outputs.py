"""Writing the book under failure (issue 18): outputs published together under a lock, clear errors with the
old outputs intact, Ctrl-C and kill -9 with no worker left behind, a time limit on PDF chunk renders."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from compile import atomic, cli, config
from compile.build import pipeline
from tests.checks import gone_within, running
from tests.conftest import ROOT, run_cli

# Runs the real CLI with the PDF chunk render slowed down in the workers (fork: the patch is inherited).
# Each worker leaves its PID in SLOW_MARK as it starts a chunk; SLOW_LIMIT sets the chunks' time limit.
SLOW_CLI = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from compile.writers.pdf.chunked import build as pdf_chunks
    from compile.writers.pdf.chunked import worker as pdf_worker
    from compile.cli import main

    _render = pdf_worker.render

    def render(job):
        if job.extra_css:  # a chunk (not the probe or the frame)
            (Path(os.environ["SLOW_MARK"]) / str(os.getpid())).touch()
            time.sleep(float(os.environ["SLOW_SECONDS"]))
        return _render(job)

    pdf_worker.render = render  # workers call it by name (pdf_chunks.task)
    if "SLOW_LIMIT" in os.environ:
        pdf_chunks.CHUNK_SECONDS = float(os.environ["SLOW_LIMIT"])
    main(sys.argv[1:], prog_name="anthology")
""")
OLD = {"book.epub": b"old epub", "book.pdf": b"old pdf", "book.report.json": b'{"old": true}'}


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path):
    """A failing test must not leave its build (or the build's workers) running."""
    yield
    for process in _STARTED:
        if process.poll() is None:
            process.kill()
            process.communicate()
    _STARTED.clear()
    for mark in tmp_path.glob("*/[0-9]*"):
        pid = int(mark.name)
        with contextlib.suppress(OSError):  # gone meanwhile
            if running(pid) and b"slow_cli.py" in Path(f"/proc/{pid}/cmdline").read_bytes():  # not a reused PID
                os.kill(pid, signal.SIGKILL)


def make_archive(folder: Path, title: str, articles: int = 3) -> Path:
    folder.mkdir(parents=True)
    for n in range(1, articles + 1):
        (folder / f"a{n}.md").write_text(f"# {title} 第{n}篇\n\n2020年1月{n}日电 {title}的第{n}篇文章。\n",
                                         encoding="utf-8")
    (folder / "anthology.toml").write_text(
        f'title = "{title}"\nslug = "book"\n[pdf]\nmode = "chunked"\nworkers = 2\nchunk_articles = 1\n',
        encoding="utf-8")
    return folder


def slow_build(tmp_path: Path, source: Path, out: Path, seconds: float, *extra: str, limit: float | None = None,
               mark: Path | None = None) -> subprocess.Popen:
    script = tmp_path / "slow_cli.py"
    script.write_text(SLOW_CLI, encoding="utf-8")
    mark = mark or tmp_path / "workers"
    mark.mkdir(exist_ok=True)
    env = {**os.environ, "SLOW_MARK": str(mark), "SLOW_SECONDS": str(seconds),
           "ANTHOLOGY_CACHE": str(tmp_path / f"cache-{source.name}")}  # no chunk comes from a cache
    if limit is not None:
        env["SLOW_LIMIT"] = str(limit)
    process = subprocess.Popen([sys.executable, str(script), "build", str(source), "-o", str(out), "--offline",
                                *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)  # its own process group, as a terminal's foreground job
    _STARTED.append(process)
    return process


def wait_for_workers(mark: Path, process: subprocess.Popen, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        pids = [int(p.name) for p in mark.iterdir()]
        if pids:
            return pids
        time.sleep(0.05)
    pytest.fail(f"no worker started a chunk: {process.communicate()}")


def old_outputs(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, data in OLD.items():
        (out / name).write_bytes(data)


def assert_old_outputs(out: Path) -> None:
    assert {name: (out / name).read_bytes() for name in OLD} == OLD
    assert not list(out.glob(".anthology-staging.*")), "the staging folder was left behind"
    assert not list(out.glob(".*.part"))


def epub_title(path: Path) -> str:
    with zipfile.ZipFile(path) as book:
        opf = next(name for name in book.namelist() if name.endswith(".opf"))
        text = book.read(opf).decode("utf-8")
    return text.split("<dc:title", 1)[1].split(">", 1)[1].split("<", 1)[0]


# ------------------------------------------------------------------------------------------------ publishing

def test_two_builds_into_one_folder_publish_one_whole_set(tmp_path):
    """Both builds are writing at once (each chunk takes 1 s): the second waits for the lock, and what is
    in the folder is all from one build: EPUB, PDF and report."""
    out = tmp_path / "out"
    first = slow_build(tmp_path, make_archive(tmp_path / "a", "甲书"), out, 1, mark=tmp_path / "mark-a")
    second = slow_build(tmp_path, make_archive(tmp_path / "b", "乙书"), out, 1, mark=tmp_path / "mark-b")
    results = [p.communicate(timeout=300) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], results
    assert sum("waiting for another build writing to" in stderr for _, stderr in results) == 1
    report = json.loads((out / "book.report.json").read_text(encoding="utf-8"))
    title = report["anthology"]["title"]
    assert epub_title(out / "book.epub") == title
    pdf_text = "".join(page.extract_text() for page in PdfReader(out / "book.pdf").pages)
    assert title in pdf_text and ({"甲书", "乙书"} - {title}).pop() not in pdf_text
    assert {o["path"] for o in report["outputs"]} == {str(out / "book.epub"), str(out / "book.pdf")}
    assert not list(out.glob(".anthology-staging.*"))


def test_stale_staging_of_a_dead_build_is_removed(tmp_path):
    out = tmp_path / "out"
    stale = out / ".anthology-staging.999999.x"
    stale.mkdir(parents=True)
    (stale / "book.epub").write_bytes(b"half")
    result = run_cli("build", str(make_archive(tmp_path / "a", "甲书")), "-o", str(out), "--offline",
                     "--format", "epub")
    assert result.returncode == 0, result.stderr
    assert not stale.exists()
    assert epub_title(out / "book.epub") == "甲书"


def test_ctrl_c_while_publishing_waits_until_every_file_is_in_place(tmp_path, monkeypatch):
    original = atomic._publish

    def interrupted_publish(staging, out_dir):
        signal.raise_signal(signal.SIGINT)  # Ctrl-C just as the renames begin
        original(staging, out_dir)

    monkeypatch.setattr(atomic, "_publish", interrupted_publish)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt), atomic.publishing(out) as staging:
        for name in ("book.epub", "book.pdf", "book.report.json"):
            (staging / name).write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [".anthology.lock", "book.epub", "book.pdf", "book.report.json"]


# ------------------------------------------------------------------------------------------------ signals

@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_during_pdf_rendering(tmp_path, signum, code):
    """Ctrl-C goes to the whole process group (workers included), as a terminal sends it; SIGTERM to the build."""
    out = tmp_path / "out"
    old_outputs(out)
    build = slow_build(tmp_path, make_archive(tmp_path / "a", "甲书"), out, 60)
    workers = wait_for_workers(tmp_path / "workers", build)
    children = subprocess.run(["pgrep", "-P", str(build.pid)], capture_output=True, text=True).stdout.split()
    if signum == signal.SIGINT:
        os.killpg(build.pid, signum)
    else:
        build.send_signal(signum)
    _, stderr = build.communicate(timeout=30)
    assert build.returncode == code, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert gone_within(workers + [int(pid) for pid in children], 2), "a worker outlived the build"
    assert_old_outputs(out)


def test_kill_9_of_the_build_takes_its_workers_with_it(tmp_path):
    out = tmp_path / "out"
    old_outputs(out)
    build = slow_build(tmp_path, make_archive(tmp_path / "a", "甲书"), out, 60)
    workers = wait_for_workers(tmp_path / "workers", build)
    build.send_signal(signal.SIGKILL)
    build.communicate(timeout=30)
    assert gone_within(workers, 2), "PDF workers outlived their parent"
    assert {name: (out / name).read_bytes() for name in OLD} == OLD  # its staging folder goes at the next build


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL])
def test_volume_workers_stop_with_the_build(tmp_path, signum):
    """Two volumes (2019, 2020) in the volume pool; each worker renders its PDF itself, slowly."""
    source = make_archive(tmp_path / "a", "甲书", articles=2)
    (source / "a2.md").write_text("# 乙篇\n\n2019年5月2日电 另一年的文章。\n", encoding="utf-8")
    with (source / "anthology.toml").open("a", encoding="utf-8") as toml:
        toml.write('[volumes]\nby = "year"\n')
    out = tmp_path / "out"
    old_outputs(out)
    build = slow_build(tmp_path, source, out, 60)
    workers = wait_for_workers(tmp_path / "workers", build)
    if signum == signal.SIGINT:
        os.killpg(build.pid, signum)  # Ctrl-C: the whole process group
    else:
        build.send_signal(signum)
    _, stderr = build.communicate(timeout=30)
    assert gone_within(workers, 2), "a volume worker outlived the build"
    assert {name: (out / name).read_bytes() for name in OLD} == OLD
    assert not list(out.glob("book-0*"))
    if signum == signal.SIGINT:
        assert build.returncode == 130 and "Traceback" not in stderr, stderr
        assert not list(out.glob(".anthology-staging.*"))


# ------------------------------------------------------------------------------------------------ time limit

def test_a_chunk_over_its_time_limit_fails_the_pdf_not_the_book(tmp_path):
    out = tmp_path / "out"
    build = slow_build(tmp_path, make_archive(tmp_path / "a", "甲书"), out, 60, limit=1)
    _, stderr = build.communicate(timeout=120)
    assert build.returncode == 0, stderr
    report = json.loads((out / "book.report.json").read_text(encoding="utf-8"))
    assert [o["format"] for o in report["outputs"]] == ["epub"]
    assert not (out / "book.pdf").exists()
    assert epub_title(out / "book.epub") == "甲书"
    warning = next(w for w in report["warnings"] if w.startswith("PDF: rendering articles"))
    assert "took longer than 1 s" in warning
    slow = [a for a in report["articles"] if any("PDF: rendering took longer" in w for w in a["warnings"])]
    assert slow and all(a["id"] in warning for a in slow)
    assert gone_within([int(p.name) for p in (tmp_path / "workers").iterdir()], 2)


# ------------------------------------------------------------------------------------------------ errors

@pytest.fixture
def small_mount(tmp_path):
    """A 1 MB tmpfs (needs root and mount(2); skipped otherwise: as root, chmod does not stop writes)."""
    folder = tmp_path / "mnt"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root, or no mount permission)")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_read_only_output_folder(tmp_path, small_mount):
    out = small_mount / "out"
    old_outputs(out)
    subprocess.run(["mount", "-o", "remount,ro", str(small_mount)], check=True)
    result = run_cli("build", str(make_archive(tmp_path / "a", "甲书")), "-o", str(out), "--offline")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error:") and str(out) in line and "Read-only file system" in line
    assert_old_outputs(out)


@pytest.mark.parametrize("formats", ["epub", "pdf"])
def test_full_disk(tmp_path, small_mount, formats):
    out = small_mount / "out"
    old_outputs(out)
    (small_mount / "filler").write_bytes(b"\0" * (1024 * 1024 - 48 * 1024))
    result = run_cli("build", str(make_archive(tmp_path / "a", "甲书")), "-o", str(out), "--offline",
                     "--format", formats)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error:") and str(out) in line and "No space left on device" in line
    assert_old_outputs(out)


def test_out_naming_an_existing_file(tmp_path):
    target = tmp_path / "book.epub"
    target.write_bytes(b"mine")
    result = run_cli("build", str(make_archive(tmp_path / "a", "甲书")), "-o", str(target), "--offline")
    assert result.returncode == 2
    assert f"{target}: not a folder" in result.stderr and "Traceback" not in result.stderr
    assert target.read_bytes() == b"mine"


@pytest.mark.parametrize("command", ["build", "inspect"])
def test_config_error_found_late_exits_2(tmp_path, monkeypatch, command):
    def refuse(source, *args, **kwargs):
        raise config.ConfigError(f"{source}: no article files in the source folder")

    monkeypatch.setattr(pipeline, "prepare", refuse)
    source = make_archive(tmp_path / "a", "甲书")
    args = [command, str(source)] + (["-o", str(tmp_path / "out"), "--offline"] if command == "build" else [])
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 2, result.output
    assert f"{source}: no article files in the source folder" in result.output
    assert not (tmp_path / "out" / "book.epub").exists()


def test_a_process_forked_while_publishing_does_not_keep_the_folder_locked(tmp_path):
    """The PDF's worker pool outlives a build in the same process (a script building twice): forked while the
    lock was held, it shares the lock's descriptor, and the next build must not wait for it."""
    out = tmp_path / "out"
    with atomic.publishing(out):
        child = os.fork()
        if child == 0:  # a worker: it sleeps, holding every descriptor it inherited
            time.sleep(30)
            os._exit(0)
    try:
        fd = os.open(out / atomic.LOCK_NAME, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if the child still held it
        finally:
            os.close(fd)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
