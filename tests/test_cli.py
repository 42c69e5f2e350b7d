"""Day-to-day use through the real entry point: init -> build, volumes, include/exclude, cache, store."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys

from compile import config
from compile.build import pipeline
from compile.build.store import ArticleStore
from compile.sanitize import sanitize_html
from tests.conftest import ROOT, SEEDS, run_cli


def test_init_then_build_round_trip(tmp_path):
    book = tmp_path / "book"
    result = run_cli("init", str(book))
    assert result.returncode == 0, result.stderr
    text = (book / "anthology.toml").read_text(encoding="utf-8")
    assert text.count("#") > 20, "the starter config explains itself"
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, book)
    build = run_cli("build", str(book), "-o", str(tmp_path / "out"), "--offline")
    assert build.returncode == 0, build.stderr
    assert (tmp_path / "out" / "book.epub").exists() and (tmp_path / "out" / "book.pdf").exists()
    again = run_cli("init", str(book))
    assert again.returncode == 2 and "--force" in again.stderr


def test_help_teaches():
    result = run_cli("--help")
    assert result.returncode == 0
    for word in ("init", "inspect", "build", "themes", "cache"):
        assert word in result.stdout
    assert "--offline" in run_cli("build", "--help").stdout


def test_unknown_option_is_usage_error():
    assert run_cli("build", "--no-such-option").returncode == 2


def test_wrong_type_names_key_and_line(seeds_copy):
    (seeds_copy / "anthology.toml").write_text('title = "x"\n\n[images]\nconnect_timeout = "fast"\n')
    result = run_cli("inspect", str(seeds_copy))
    assert result.returncode == 2
    assert "anthology.toml:4" in result.stderr and "images.connect_timeout" in result.stderr


def test_themes_lists_book():
    result = run_cli("themes")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert "book" in names, result.stdout


def test_volumes_by_year_and_size(seeds_copy, tmp_path):
    with (seeds_copy / "anthology.toml").open("a", encoding="utf-8") as handle:
        handle.write('\n[volumes]\nby = "year"\n')
    out = tmp_path / "out"
    result = run_cli("build", str(seeds_copy), "-o", str(out), "--offline", "--format", "epub")
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "seeds.report.json").read_text(encoding="utf-8"))
    assert [len(v["articles"]) for v in report["volumes"]] == [1, 2, 1, 1]
    assert sorted(p.name for p in out.glob("*.epub")) == [f"seeds-0{i}.epub" for i in range(1, 5)]


def test_max_articles_volumes(seeds_copy):
    settings = config.load(seeds_copy / "anthology.toml")
    settings.volumes.max_articles = 2
    from zoneinfo import ZoneInfo

    from compile.transforms import order

    prepared = pipeline.prepare(seeds_copy, settings)
    parts = order.volumes(prepared.anthology, settings.volumes, ZoneInfo(settings.timezone), "year")
    assert [len(p.articles) for p in parts] == [2, 2, 1]
    assert all(p.volume_count == 3 for p in parts)
    assert [a.id for p in parts for a in p.articles] == [a.id for a in prepared.anthology.articles]


def test_include_exclude_globs(seeds_copy):
    settings = config.load(seeds_copy / "anthology.toml")
    settings.exclude = ["00[01]_*"]
    prepared = pipeline.prepare(seeds_copy, settings)
    assert len(prepared.anthology.articles) == 3
    excluded = [i for i in prepared.inputs if i["status"] == "excluded"]
    assert {i["source"][:3] for i in excluded} == {"000", "001"}


def test_offline_build_reports_missing_images(tmp_path):
    result = run_cli("build", str(SEEDS), "-o", str(tmp_path), "--offline", "--format", "epub")
    assert result.returncode == 0
    report = json.loads((tmp_path / "seeds.report.json").read_text(encoding="utf-8"))
    assert all("offline" in i["reason"] for i in report["images"])
    assert "images missing" in result.stderr


def test_many_failures_alike_are_summed_up_on_the_terminal(tmp_path):
    """An archive whose images all lived on one dead host, or whose files all lack a date: the first few lines of
    each kind, then how many more; the report still lists every one."""
    book = tmp_path / "book"
    book.mkdir()
    for n in range(12):
        images = "\n\n".join(f"![图{k}](https://cdn.example.com/{n}-{k}.jpg)" for k in range(2))
        text = f"# 第{n}篇\n\n正文第{n}篇，内容足够长，可以成段。\n\n{images}\n"
        (book / f"{n}.md").write_text(text, encoding="utf-8")
    result = run_cli("build", str(book), "-o", str(tmp_path / "out"), "--offline", "--format", "epub")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    failed = [line for line in lines if "image failed: https://cdn.example.com/" in line]
    assert len(failed) == 10 and sum("image failed: 14 more from cdn.example.com" in line for line in lines) == 1
    undated = [line for line in lines if line.endswith(".md: no publication date found; placed last")]
    assert len(undated) == 10
    assert any("2 more files: no publication date found; placed last, in the report" in line for line in lines)
    report = json.loads((tmp_path / "out" / "book.report.json").read_text(encoding="utf-8"))
    assert len(report["images"]) == 24 and all(not a["published"] for a in report["articles"])


def test_cache_info_and_clean(tmp_path):
    env = {"ANTHOLOGY_CACHE": str(tmp_path / "cache")}
    run_cli("inspect", str(SEEDS), env=env)
    build = run_cli("build", str(SEEDS), "-o", str(tmp_path / "o"), "--offline", "--format", "epub", env=env)
    assert build.returncode == 0
    info = run_cli("cache", "info", env=env)
    assert "articles" in info.stdout and "     5 files" in info.stdout
    assert run_cli("cache", "clean", env=env).returncode == 0
    assert "     0 files" in run_cli("cache", "info", env=env).stdout


def test_article_store_reuse_and_invalidation(seeds_copy, tmp_path):
    store = ArticleStore(tmp_path / "cache")
    settings = config.load(seeds_copy / "anthology.toml")
    first = pipeline.prepare(seeds_copy, settings, store)
    assert (store.hits, store.misses) == (0, 5)
    second = pipeline.prepare(seeds_copy, settings, store)
    assert (store.hits, store.misses) == (5, 5)
    # Cached bodies are sanitised again on load (the cache is not trusted): same HTML, serialised by nh3.
    assert [sanitize_html(a.body) for a in first.anthology.articles] == [a.body for a in second.anthology.articles]
    assert [a.published for a in first.anthology.articles] == [a.published for a in second.anthology.articles]
    edited = seeds_copy / "000_a1d4f1b7f99dda5e.txt"
    edited.write_text(edited.read_text(encoding="utf-8").replace("文在寅", "文在寅总统", 1), encoding="utf-8")
    settings.overrides["004_1ce8e493f6fa649e.txt"].date = "2018-06-13"
    third = pipeline.prepare(seeds_copy, settings, store)
    assert (store.hits, store.misses) == (8, 7), "the edited file and the changed override are re-read"
    assert "文在寅总统" in next(a.body for a in third.anthology.articles if a.id.startswith("000"))
    settings.timezone = "UTC"
    pipeline.prepare(seeds_copy, settings, store)
    assert store.misses == 12, "a setting that shapes reading invalidates every entry"


def test_a_terminal_sees_the_files_being_read(tmp_path):
    """On a terminal, a bar counts the files read (a large archive of saved pages reads for minutes); it is drawn
    as files are done, with no thread of its own (the reading workers fork meanwhile), and erased afterwards."""
    source = tmp_path / "src"
    shutil.copytree(SEEDS, source)
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "compile", "build", str(source), "-o", str(tmp_path / "out"),
                                "--format", "epub", "--offline"], cwd=ROOT, stdin=slave, stdout=slave, stderr=slave,
                               env={**os.environ, "TERM": "xterm", "ANTHOLOGY_CACHE": str(tmp_path / "cache")})
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal's other end closed: the build is over
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert process.wait(timeout=300) == 0, shown.decode(errors="replace")
    files = len(list(source.iterdir()))  # every file of the folder is looked at: the config, a README ...
    counted = re.search(rb"reading.{0,400}?(?<![0-9])[0-9]+/%d(?![0-9])" % files, shown, re.S)
    assert counted, shown.decode(errors="replace")
    assert b"wrote " in shown
