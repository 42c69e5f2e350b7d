"""Articles read in worker processes (compile/build/reading.py): the same book as serial reading, failures reported
as serial reading reports them, a worker's death costs only its article, and no worker outlives the build."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compile import config, sources
from compile.build import pipeline, reading
from compile.build.store import ArticleStore
from tests.checks import gone_within
from tests.conftest import CORPUS_DEV, ROOT, SEEDS, make_settings

ARTICLE = "004_1ce8e493f6fa649e.txt"


@pytest.fixture
def parallel(monkeypatch):
    """Worker processes even for a handful of articles."""
    monkeypatch.setattr(reading, "MIN_ARTICLES", 0)


def copies(folder: Path, count: int) -> list[str]:
    """`count` articles made from the seeds."""
    seeds = sorted(SEEDS.glob("*.txt"))
    names = []
    for index in range(count):
        text = seeds[index % len(seeds)].read_text(encoding="utf-8")
        name = f"{index:03d}.txt"
        (folder / name).write_text(f"{text.rstrip()}\n\n<p>第 {index} 篇的补记。</p>\n", encoding="utf-8")
        names.append(name)
    return names


def statuses(prepared: pipeline.Prepared) -> dict[str, tuple[str, str]]:
    return {entry["source"]: (entry["status"], entry.get("reason", "")) for entry in prepared.inputs}


def all_read(found: dict[str, tuple[str, str]]) -> bool:
    """Every file became an article (a copy of a seed may be kept once, as the duplicate of another)."""
    return {status for status, _ in found.values()} <= {"article", "duplicate"}


def build(source: Path, out: Path, workers: int, monkeypatch) -> tuple[bytes, dict]:
    """An offline EPUB build with a cold cache, read by `workers` processes (1: serial)."""
    monkeypatch.setenv("ANTHOLOGY_CACHE", str(out / "cache"))
    monkeypatch.setattr(reading, "MIN_ARTICLES", 0 if workers > 1 else 10**9)
    monkeypatch.setattr(pipeline, "MIN_TYPESET", 0 if workers > 1 else 10**9)
    settings = config.load(source / "anthology.toml" if (source / "anthology.toml").exists() else None,
                           source=source, offline=True, formats=["epub"])
    settings.pdf.workers = workers
    result = pipeline.build(source, out / "dist", settings)
    epub = next(o.path for o in result.outputs if o.format == "epub")
    data = json.loads(result.report_path.read_text(encoding="utf-8"))
    return epub.read_bytes(), data


# What differs between two builds of the same book: where they were written, and how long they took.
VARYING = {"outputs", "seconds", "timings"}


def without_outputs(data):
    """The report less its outputs' paths and its clock readings."""
    if isinstance(data, dict):
        return {key: without_outputs(value) for key, value in data.items() if key not in VARYING}
    return [without_outputs(value) for value in data] if isinstance(data, list) else data


# ------------------------------------------------------------------ the same book


@pytest.mark.parametrize("folder", [SEEDS, CORPUS_DEV], ids=["seeds", "corpus-dev"])
def test_parallel_reading_makes_the_same_epub_and_report(folder, tmp_path, monkeypatch):
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    calls = []
    real_run = reading.run
    monkeypatch.setattr(reading, "run", lambda *args, **kw: calls.append(args[2]) or real_run(*args, **kw))
    serial_epub, serial_report = build(folder, tmp_path / "serial", 1, monkeypatch)
    parallel_epub, parallel_report = build(folder, tmp_path / "parallel", 2, monkeypatch)
    assert calls == [1, 1, 2, 2], "the first build read and typeset here, the second in two workers"
    assert serial_report["articles"], "articles were read"
    assert without_outputs(parallel_report) == without_outputs(serial_report)
    assert parallel_epub == serial_epub


def test_outcomes_come_back_in_the_folder_order_whatever_the_batches(tmp_path, parallel):
    names = copies(tmp_path, 30)
    (tmp_path / "010.txt").write_bytes(b"")  # a failure in the middle keeps its place too
    settings = make_settings()
    settings.pdf.workers = 2
    inputs = pipeline.prepare(tmp_path, settings).inputs
    assert [entry["source"] for entry in inputs] == names
    assert statuses(pipeline.prepare(tmp_path, settings))["010.txt"] == ("failed", "the file is empty")


# ------------------------------------------------------------------ failures, as serial reading reports them


def test_an_article_over_its_time_limit_in_a_worker_is_failed(tmp_path, monkeypatch, parallel, caplog):
    names = copies(tmp_path, 6)
    real_read_one = pipeline.read_one

    def read_one(source, path, *args, **kwargs):
        if path.name == names[2]:
            time.sleep(30)  # the worker's own SIGALRM interrupts it
        return real_read_one(source, path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "read_one", read_one)
    settings = make_settings(read_seconds=0.5)
    settings.pdf.workers = 2
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="anthology"):
        prepared = pipeline.prepare(tmp_path, settings)
    assert time.monotonic() - started < 10
    found = statuses(prepared)
    assert found.pop(names[2]) == ("failed", "reading took longer than 0.5 s")
    assert all_read(found)
    assert f"{names[2]}: reading took longer than 0.5 s" in caplog.messages, "the worker's warning is logged here"


def test_unreadable_and_broken_files_are_reported_as_serial_reading_does(tmp_path, monkeypatch):
    copies(tmp_path, 4)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 200)
    real_read_one = pipeline.read_one

    def read_one(source, path, *args, **kwargs):
        if path.name == "001.txt":
            raise RuntimeError("a bug")
        return real_read_one(source, path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "read_one", read_one)
    settings = make_settings()
    settings.pdf.workers = 2
    serial = statuses(pipeline.prepare(tmp_path, settings))
    monkeypatch.setattr(reading, "MIN_ARTICLES", 0)
    assert statuses(pipeline.prepare(tmp_path, settings)) == serial
    assert serial["001.txt"] == ("failed", "internal error: RuntimeError('a bug')")
    assert serial["empty.txt"] == ("failed", "the file is empty")
    assert serial["binary.txt"][0] == "failed"


def test_an_article_that_cannot_be_sent_back_fails_alone(tmp_path, monkeypatch, parallel, caplog):
    names = copies(tmp_path, 6)
    real_read_one = pipeline.read_one

    def read_one(source, path, *args, **kwargs):
        article = real_read_one(source, path, *args, **kwargs)
        if path.name == names[1]:
            article.meta["odd"] = lambda: None  # a reader that kept something no pickle can carry
        return article

    monkeypatch.setattr(pipeline, "read_one", read_one)
    settings = make_settings()
    settings.pdf.workers = 2
    with caplog.at_level(logging.WARNING, logger="anthology"):
        found = statuses(pipeline.prepare(tmp_path, settings))
    status, reason = found.pop(names[1])
    assert status == "failed" and reason.startswith("internal error: ") and "pickle" in reason
    assert any(m.startswith(f"{names[1]}: could not be read: ") for m in caplog.messages)
    assert all_read(found)


def test_a_file_is_still_read_in_the_main_process_with_its_checks(tmp_path, parallel):
    copies(tmp_path, 4)
    (tmp_path / "leak.txt").symlink_to("/etc/hostname")
    with open(tmp_path / "huge.txt", "wb") as huge:
        huge.truncate(30 * sources.MB)
    settings = make_settings()
    settings.pdf.workers = 2
    found = statuses(pipeline.prepare(tmp_path, settings))
    assert found["huge.txt"] == ("skipped", "too large (30 MB > 20 MB)")
    assert found["leak.txt"] == ("skipped", sources.OUTSIDE)


# ------------------------------------------------------------------ a worker that dies


def dying_reader(monkeypatch, victim: str, marker: Path | None = None):
    """read_one that kills its process on `victim` (only while `marker` exists, when given: once)."""
    real_read_one = pipeline.read_one

    def read_one(source, path, *args, **kwargs):
        if path.name == victim and (marker is None or marker.exists()):
            if marker is not None:
                marker.unlink()
            os._exit(1)  # as a segfault in a C parser or the OOM killer would: no exception, no goodbye
        return real_read_one(source, path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "read_one", read_one)


def test_a_dead_worker_fails_only_its_article(tmp_path, monkeypatch, parallel, caplog):
    source = tmp_path / "src"
    source.mkdir()
    names = copies(source, 40)
    dying_reader(monkeypatch, names[5])
    alone = []
    read_alone = reading._Pool._read_alone
    monkeypatch.setattr(reading._Pool, "_read_alone", lambda pool, job: alone.append(job.relative) or
                        read_alone(pool, job))
    settings = make_settings()
    settings.pdf.workers = 2
    with caplog.at_level(logging.WARNING, logger="anthology"):
        prepared = pipeline.prepare(source, settings)
    assert names[5] in alone and len(alone) <= 2, "only what the workers were reading when one died is suspect"
    found = statuses(prepared)
    assert found.pop(names[5]) == ("failed", f"{reading.DIED} (exit status 1)")
    assert all_read(found), "every other article is read"
    assert [entry["source"] for entry in prepared.inputs] == names
    assert f"{names[5]}: {reading.DIED} (exit status 1)" in caplog.messages


def test_an_article_that_killed_a_worker_once_is_read_again(tmp_path, monkeypatch, parallel):
    source = tmp_path / "src"
    source.mkdir()
    names = copies(source, 20)
    marker = tmp_path / "die-once"
    marker.touch()
    dying_reader(monkeypatch, names[12], marker)
    settings = make_settings()
    settings.pdf.workers = 2
    found = statuses(pipeline.prepare(source, settings))
    assert not marker.exists(), "a worker died"
    assert all_read(found)


# ------------------------------------------------------------------ the store, and stopping


def test_only_store_misses_are_read_and_stored_by_the_main_process(seeds_copy, tmp_path, monkeypatch, parallel):
    store = ArticleStore(tmp_path / "cache")
    settings = config.load(seeds_copy / "anthology.toml")
    settings.pdf.workers = 2
    first = pipeline.prepare(seeds_copy, settings, store)
    assert (store.hits, store.misses) == (0, 5)
    assert len(list(store.entries.folder.rglob("*.json"))) == 5, "what the workers read was stored"
    calls = []
    monkeypatch.setattr(pipeline, "read_one", lambda *args, **kwargs: calls.append(args))
    second = pipeline.prepare(seeds_copy, settings, store)
    assert (store.hits, store.misses) == (5, 5) and not calls
    assert [a.id for a in second.anthology.articles] == [a.id for a in first.anthology.articles]


def test_a_rebuild_with_few_articles_to_read_starts_no_pool(tmp_path, monkeypatch):
    source = tmp_path / "src"
    source.mkdir()
    names = copies(source, reading.MIN_ARTICLES + 8)
    store = ArticleStore(tmp_path / "cache")
    settings = make_settings()
    settings.pdf.workers = 2
    pools = []
    make_pool = reading._Pool._executor
    monkeypatch.setattr(reading._Pool, "_executor", lambda pool, workers: pools.append(workers) or
                        make_pool(pool, workers))
    pipeline.prepare(source, settings, store)
    assert pools == [2], "a cold build reads in two workers"
    edited = source / names[3]
    edited.write_text(edited.read_text(encoding="utf-8") + "<p>补记。</p>\n", encoding="utf-8")
    again = pipeline.prepare(source, settings, store)
    assert pools == [2], "one article to read: read here, no pool started"
    assert store.misses == len(names) + 1
    assert "补记。" in next(a.body for a in again.anthology.articles if a.source == names[3])


def test_an_interrupt_stops_the_reading_workers(tmp_path, monkeypatch, parallel):
    copies(tmp_path, 12)
    pids = tmp_path.parent / f"{tmp_path.name}-pids"
    pids.mkdir()

    def read_one(*args, **kwargs):
        (pids / str(os.getpid())).touch()
        time.sleep(60)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "read_one", read_one)
    settings = make_settings(read_seconds=120)
    settings.pdf.workers = 2
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.5)  # the main process, waiting for its workers, is interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            pipeline.prepare(tmp_path, settings)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    workers = [int(path.name) for path in pids.iterdir()]
    assert len(workers) == 2
    for pid in workers:
        with pytest.raises(ProcessLookupError):  # killed and reaped, not left reading for a minute
            os.kill(pid, 0)
    shutil.rmtree(pids)


# The real command, with every article slow to read: each worker leaves its PID in SLOW_MARK.
SLOW_READING = """
import os, sys, time
from compile.build import pipeline
from compile.cli import main


def read_one(*args, **kwargs):
    open(os.path.join(os.environ["SLOW_MARK"], str(os.getpid())), "w").close()
    time.sleep(60)


pipeline.read_one = read_one
main(sys.argv[1:], prog_name="anthology")
"""


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_while_reading_stops_the_workers(tmp_path, signum, code):
    source = tmp_path / "src"
    source.mkdir()
    copies(source, reading.MIN_ARTICLES + 8)
    (source / "anthology.toml").write_text("[pdf]\nworkers = 2\n", encoding="utf-8")
    script, mark = tmp_path / "slow_reading.py", tmp_path / "workers"
    script.write_text(SLOW_READING, encoding="utf-8")
    mark.mkdir()
    build = subprocess.Popen([sys.executable, str(script), "build", str(source), "-o", str(tmp_path / "out"),
                              "--offline"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "SLOW_MARK": str(mark)}, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(mark.iterdir())) < 2 and time.monotonic() < deadline and build.poll() is None:
            time.sleep(0.05)
        workers = [int(path.name) for path in mark.iterdir()]
        assert len(workers) == 2, "two workers read"
        if signum == signal.SIGINT:
            os.killpg(build.pid, signum)  # as a terminal sends it: the whole process group
        else:
            build.send_signal(signum)
        _, stderr = build.communicate(timeout=30)
    finally:
        if build.poll() is None:
            build.kill()
            build.communicate()
    assert build.returncode == code, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert gone_within(workers, 2), "a reading worker outlived the build"


def test_few_articles_or_one_worker_are_read_here():
    assert reading.workers_for(0, reading.MIN_ARTICLES - 1) == 1
    assert reading.workers_for(1, 1000) == 1
    assert reading.workers_for(2, 1000) == 2
    assert reading.workers_for(8, reading.MIN_ARTICLES) == min(8, reading.MIN_ARTICLES)
    assert reading.batch_size(1000, 2) == reading.BATCH and reading.batch_size(30, 2) == 4
