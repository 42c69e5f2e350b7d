"""The EPUB's identity: one stable identifier per book from its content, a creator a library shows, and
targets whose files differ as their presets say (compile/writers/epub.py)."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from compile import config, theme
from compile.build import pipeline
from compile.model import Anthology, Article
from compile.writers import epub as epub_writer
from compile.writers.context import Book
from tests.checks import epubcheck_messages
from tests.conftest import SEEDS, make_settings, run_cli

NS = {"opf": "http://www.idpf.org/2007/opf", "dc": "http://purl.org/dc/elements/1.1/"}


def build(source: Path, out: Path, **overrides) -> tuple[Path, dict]:
    settings = config.load(source / "anthology.toml" if (source / "anthology.toml").is_file() else None)
    settings.formats, settings.offline, settings.embed_fonts = ["epub"], True, False
    for key, value in overrides.items():
        setattr(settings, key, value)
    result = pipeline.build(source, out, settings)
    (output,) = [o for o in result.report["outputs"] if o["format"] == "epub"]
    return Path(output["path"]), output


def opf(path: Path) -> etree._Element:
    with zipfile.ZipFile(path) as z:
        return etree.fromstring(z.read("EPUB/content.opf"))


def identifier(path: Path) -> str:
    return opf(path).findtext(".//dc:identifier", namespaces=NS)


def unconfigured(tmp_path: Path, name: str, files: list[str]) -> Path:
    """Some of the seeds' articles in a folder without anthology.toml: the default title and settings."""
    folder = tmp_path / name
    folder.mkdir()
    for file in files:
        shutil.copy(SEEDS / file, folder / file)
    return folder


SEED_FILES = sorted(p.name for p in SEEDS.glob("*.txt"))


def book(articles: list[Article], title: str = "选集", editor: str = "", language: str = "zh-Hans", **settings) -> Book:
    anthology = Anthology(title=title, language=language, editor=editor, articles=articles)
    return Book(anthology, theme.load("book"), make_settings(**settings), "t")


def article(n: int, body: str, outlet: str = "") -> Article:
    return Article(id=f"a{n}", source=f"{n}.md", title=f"标题{n}", body=body, outlet=outlet)


# ------------------------------------------------------------------ identifier


def test_same_book_same_id_wherever_and_for_whichever_reader(tmp_path):
    one = unconfigured(tmp_path, "one", SEED_FILES)
    moved = shutil.copytree(one, tmp_path / "elsewhere" / "renamed")
    first, report = build(one, tmp_path / "a")
    again, _ = build(moved, tmp_path / "b")
    kindle, _ = build(one, tmp_path / "c", epub_target="kindle", embed_fonts=True)
    assert identifier(first) == identifier(again) == identifier(kindle) == report["details"]["identifier"]
    assert identifier(first).startswith("urn:uuid:") and identifier(first)[9:][14] == "5"  # a version 5 UUID


def test_books_without_a_config_get_their_own_ids(tmp_path):
    first, _ = build(unconfigured(tmp_path, "first", SEED_FILES[:3]), tmp_path / "a")
    second, _ = build(unconfigured(tmp_path, "second", SEED_FILES[3:]), tmp_path / "b")
    whole, _ = build(unconfigured(tmp_path, "whole", SEED_FILES), tmp_path / "c")
    assert len({identifier(first), identifier(second), identifier(whole)}) == 3


def test_a_traditional_edition_is_another_book(tmp_path):
    simplified, _ = build(SEEDS, tmp_path / "a")
    traditional, _ = build(SEEDS, tmp_path / "b", script="hant")
    assert identifier(simplified) != identifier(traditional)


def test_the_id_follows_the_words_not_the_typesetting():
    base = epub_writer.book_identifier(book([article(1, "<p>“我们”在伦敦会谈，GDP 增长 5%。</p>"),
                                             article(2, "<p>第二篇。</p>")]))
    typeset = book([article(1, '<p>「我们」在<span class="cjk-latin">伦敦</span>会谈，GDP增长 5 %。</p>'),
                    article(2, "<p>第二篇</p>\n")])
    assert epub_writer.book_identifier(typeset) == base
    for other in (book([article(1, "<p>“我们”在东京会谈，GDP 增长 5%。</p>"), article(2, "<p>第二篇。</p>")]),
                  book([article(1, "<p>“我们”在伦敦会谈，GDP 增长 5%。</p>")]),
                  book([article(2, "<p>第二篇。</p>"), article(1, "<p>“我们”在伦敦会谈，GDP 增长 5%。</p>")]),
                  book([article(1, "<p>“我们”在伦敦会谈，GDP 增长 5%。</p>"), article(2, "<p>第二篇。</p>")],
                       title="另一本"),
                  book([article(1, "<p>“我们”在伦敦会谈，GDP 增长 5%。</p>"), article(2, "<p>第二篇。</p>")],
                       language="en", script="hant")):
        assert epub_writer.book_identifier(other) != base


# ------------------------------------------------------------------ creator


def test_creator_is_the_editor_else_the_outlets_else_a_word_for_many():
    assert epub_writer.creators(book([article(1, "x", "新华社")], editor="选集编辑部")) == ["选集编辑部"]
    three = [article(n, "x", outlet) for n, outlet in enumerate(("美国之音", "新华社", "美国之音", "BBC"))]
    assert epub_writer.creators(book(three)) == ["BBC", "新华社", "美国之音"]
    many = [article(n, "x", f"outlet {n}") for n in range(4)]
    assert epub_writer.creators(book(many)) == ["多位作者"]
    assert epub_writer.creators(book([article(1, "x")], language="en")) == ["Various"]
    assert epub_writer.creators(book([article(1, "x")], script="hant")) == ["多位作者"]


def test_calibre_sees_an_author(tmp_path):
    """Calibre takes as authors the creators with role `aut`, else those with no role: an editor-only creator
    (role `edt`) showed as "Unknown"."""
    path, _ = build(SEEDS, tmp_path / "a")
    package = opf(path)
    creators = package.findall(".//dc:creator", NS)
    assert [c.text for c in creators] == ["选集编辑部"]
    roles = {m.get("refines") for m in package.findall(".//opf:meta[@property='role']", NS)}
    assert not any(f"#{c.get('id')}" in roles for c in creators)
    bare, _ = build(unconfigured(tmp_path, "bare", SEED_FILES), tmp_path / "b")
    assert [c.text for c in opf(bare).findall(".//dc:creator", NS)] == ["新华社", "法国国际广播电台", "美国之音"]


# ------------------------------------------------------------------ targets


def test_targets_agree_with_the_config_and_the_cli():
    assert tuple(epub_writer.TARGETS) == config.EPUB_TARGETS
    result = run_cli("build", "--help")
    assert "generic|kindle|apple|email" in result.stdout.replace("\n", "").replace(" ", "")


def test_kobo_still_builds_as_generic(tmp_path):
    """kobo made generic's file byte for byte; it is still accepted (users' scripts name it), as generic."""
    (tmp_path / "anthology.toml").write_text('epub_target = "kobo"\n', encoding="utf-8")
    assert config.load(tmp_path / "anthology.toml").epub_target == "generic"
    (tmp_path / "anthology.toml").write_text('epub_target = "nook"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match="generic, kindle, apple, email"):
        config.load(tmp_path / "anthology.toml")


def test_every_target_differs_from_generic_as_its_preset_says(tmp_path, monkeypatch):
    """kindle: no fonts; apple: Apple's display options file; email: its 18 MB budget, so under it the file is
    generic's, over it the fonts go (a budget just under generic's size shows it)."""
    paths, details = {}, {}
    for name in epub_writer.TARGETS:
        paths[name], output = build(SEEDS, tmp_path / name, epub_target=name, embed_fonts=True)
        details[name] = output["details"]
    size = paths["generic"].stat().st_size
    monkeypatch.setitem(epub_writer.TARGETS, "email", epub_writer.Target(
        "email", size - 1, True, epub_writer.TARGETS["email"].applied))
    paths["tight email"], output = build(SEEDS, tmp_path / "tight", epub_target="email", embed_fonts=True)
    details["tight email"] = output["details"]
    digests = {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in paths.items()}
    assert digests["email"] == digests["generic"], "under its budget, email is generic"
    assert len({digests[n] for n in ("generic", "kindle", "apple")}) == 3, digests
    assert digests["tight email"] != digests["generic"]  # (and is kindle's: no fonts either, nothing else)

    def names(name: str) -> list[str]:
        with zipfile.ZipFile(paths[name]) as z:
            return z.namelist()

    options = epub_writer.APPLE_OPTIONS[0]
    assert options in names("apple") and not any(options in names(n) for n in ("generic", "kindle", "tight email"))
    assert names("apple")[:3] == ["mimetype", "META-INF/container.xml", options]
    assert details["generic"]["fonts"] and details["apple"]["fonts"] and details["email"]["fonts"]
    assert not details["kindle"]["fonts"] and not details["tight email"]["fonts"]
    assert any("dropped to fit" in line for line in details["tight email"]["applied"])
    with zipfile.ZipFile(paths["tight email"]) as z:  # packaged again from the same documents, without the fonts
        assert not [n for n in z.namelist() if n.endswith(".xhtml") and b"fonts.css" in z.read(n)]
    for name in ("apple", "generic"):
        assert identifier(paths[name]) == identifier(paths["kindle"])
        bad = [m for m in epubcheck_messages(paths[name]) if m["severity"] in ("FATAL", "ERROR", "WARNING")]
        assert not bad, (name, bad)
