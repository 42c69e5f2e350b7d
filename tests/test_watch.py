"""`anthology build --watch`: the archive polled as the build reads it, rebuilt in the same process, with the
outputs a new command would write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from compile.build import watch
from tests.conftest import ROOT, run_cli

ARTICLE = "标题：监看测试\n\n<p>第一段文字。</p>\n"


def _archive(tmp_path: Path) -> Path:
    source = tmp_path / "archive"
    source.mkdir()
    (source / "a.txt").write_text(ARTICLE, encoding="utf-8")
    return source


def test_snapshot_sees_edits_additions_and_removals(tmp_path):
    source = _archive(tmp_path)
    before = watch.snapshot(source)
    assert watch.snapshot(source) == before
    (source / "a.txt").write_text(ARTICLE + "<p>补记。</p>\n", encoding="utf-8")
    edited = watch.snapshot(source)
    assert edited != before
    (source / "b.txt").write_text(ARTICLE, encoding="utf-8")
    added = watch.snapshot(source)
    assert added != edited
    (source / "b.txt").unlink()
    assert watch.snapshot(source) == edited


def test_snapshot_leaves_out_the_output_folder_and_does_not_follow_links_out(tmp_path):
    source = _archive(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("secret", encoding="utf-8")
    (source / "link.txt").symlink_to(outside)
    (source / "dist").mkdir()
    before = watch.snapshot(source, skip=[source / "dist"])
    (source / "dist" / "book.epub").write_bytes(b"written by the build")
    outside.write_text("secret, changed and longer", encoding="utf-8")  # not looked at: a link out of the archive
    assert watch.snapshot(source, skip=[source / "dist"]) == before
    assert any(entry[1] == "link.txt" and "outside" in entry[2] for entry in before)


def test_snapshot_watches_a_config_file_outside_the_archive(tmp_path):
    source = _archive(tmp_path)
    config = tmp_path / "book.toml"
    config.write_text('title = "一"\n', encoding="utf-8")
    before = watch.snapshot(source, [config])
    config.write_text('title = "二二"\n', encoding="utf-8")
    assert watch.snapshot(source, [config]) != before


def test_a_change_is_built_once_two_polls_agree():
    states = iter(["old", "old", "saving", "saved", "saved", "never asked"])
    pauses = []
    found = watch.wait_for_change(lambda: frozenset([next(states)]), frozenset(["old"]), pauses.append)
    assert found == frozenset(["saved"])
    assert len(pauses) == 5 and min(pauses) >= watch.PAUSE


def test_a_change_undone_before_the_next_poll_is_not_built():
    states = iter(["new", "old", "old", "old", "newer", "newer"])
    found = watch.wait_for_change(lambda: frozenset([next(states)]), frozenset(["old"]), lambda _: None)
    assert found == frozenset(["newer"])


class _Watcher:
    """`anthology build SOURCE --watch` in its own process; its stderr read line by line in a thread."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "compile", "build", *args, "--offline", "--watch"], cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self.lines: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.lines.append("<ended>")
            self.changed.notify_all()

    def until(self, text: str, count: int = 1, timeout: float = 180) -> None:
        with self.changed:
            found = self.changed.wait_for(
                lambda: sum(text in line for line in self.lines) >= count or "<ended>" in self.lines, timeout)
        assert found and sum(text in line for line in self.lines) >= count, "".join(self.lines)

    def stop(self, signum: int = signal.SIGINT) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=60)


def _texts(pdf: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(pdf).pages]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_watch_rebuilds_an_edit_as_a_new_command_would(seeds_copy, tmp_path, signum):
    out = tmp_path / "out"
    watcher = _Watcher(str(seeds_copy), "-o", str(out))
    try:
        watcher.until("; watching ")
        article = sorted(seeds_copy.glob("*.txt"))[0]
        article.write_text(article.read_text(encoding="utf-8") + "\n<p>监看补记：一处修订。</p>\n", encoding="utf-8")
        watcher.until("; watching ", count=2)
    finally:
        code = watcher.stop(signum)
    assert code == 0, "".join(watcher.lines)
    assert "stopped watching" in "".join(watcher.lines)
    failed = [line for line in watcher.lines if "image failed" in line]  # offline: every image, each build
    assert failed and len(failed) == len(set(failed)), "a rebuild repeats what the build before said"
    assert any("as in the build before, not repeated" in line for line in watcher.lines)
    fresh = tmp_path / "fresh"
    result = run_cli("build", str(seeds_copy), "-o", str(fresh), "--offline")
    assert result.returncode == 0, result.stderr
    name = seeds_copy.name
    assert (out / f"{name}.epub").read_bytes() == (fresh / f"{name}.epub").read_bytes()
    texts = _texts(out / f"{name}.pdf")
    assert texts == _texts(fresh / f"{name}.pdf")
    assert any("监看补记" in text for text in texts)


def test_watch_goes_on_after_a_bad_config_and_ignores_its_own_outputs(tmp_path):
    source = _archive(tmp_path)
    out = source / "dist"  # inside the archive: the watcher's own writes are no change
    watcher = _Watcher(str(source), "-o", str(out), "--format", "epub")
    try:
        watcher.until("; watching ")
        (source / "anthology.toml").write_text("[pdf]\nworkers = -5\n", encoding="utf-8")
        watcher.until("still watching")
        (source / "anthology.toml").write_text('title = "修好了"\n', encoding="utf-8")
        watcher.until("; watching ", count=3)
        time.sleep(5 * watch.PAUSE)  # polls enough to see its own outputs, were they a change
        assert sum("changed: building again" in line for line in watcher.lines) == 2, "".join(watcher.lines)
    finally:
        code = watcher.stop()
    assert code == 0
    assert "修好了" in (out / "archive.report.json").read_text(encoding="utf-8")
    assert os.path.exists(out / "archive.epub")


def test_an_editors_swap_file_is_no_change(tmp_path):
    source = _archive(tmp_path)
    before = watch.snapshot(source)
    (source / ".a.txt.swp").write_bytes(b"vim")
    assert watch.snapshot(source) == before
    (source / "photo.png").write_bytes(b"an image an article may show")  # not an article, but an input
    assert watch.snapshot(source) != before


def test_a_rebuild_repeats_no_line_of_the_last_build_that_said_anything(capsys):
    """A failed build prints no per-file line: the next one is compared with the build before it."""
    from compile import cli

    notes = cli._Notes()
    notes.say("  a.md: warning one")
    notes.end()
    notes.next_build()
    notes.next_build()  # a build that failed before its summary
    notes.say("  a.md: warning one")
    notes.say("  b.md: warning two")
    notes.end()
    printed = capsys.readouterr().err
    assert printed.count("warning one") == 1 and "warning two" in printed and "1 lines as in the build" in printed


def test_no_change_no_build(tmp_path):
    """The theme's folder, named by the first build, is watched from then on: being named is no change (every
    watch built twice at its start)."""
    source = _archive(tmp_path)
    watcher = _Watcher(str(source), "-o", str(tmp_path / "out"), "--format", "epub")
    try:
        watcher.until("; watching ")
        time.sleep(10 * watch.PAUSE)
    finally:
        assert watcher.stop() == 0
    assert not any("changed" in line for line in watcher.lines), "".join(watcher.lines)
