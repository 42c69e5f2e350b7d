"""The book's language and title when the config names none: the archive's, as most of its articles are
written (a Jekyll site of Traditional digests came out with Simplified chrome, titled 新闻选集)."""

from __future__ import annotations

import json
import zipfile

import pytest

from compile.build import pipeline
from compile.model import Article
from tests.conftest import run_cli

HANT = "臺灣的研究機構今天發表報告，說明這項技術對產業發展的影響，並呼籲政府加強監管與國際合作。"
HANS = "研究机构今天发表报告，说明这项技术对产业发展的影响，并呼吁政府加强监管与国际合作。"
EN = "The institute published a report today on how the technology affects the industry and its workers."


@pytest.mark.parametrize("languages, expected", [
    (["zh-Hant", "zh-Hant", "zh-Hans"], "zh-Hant"),
    (["en", "en", "zh-Hans"], "en"),
    (["zh-Hans", "zh-Hant"], "zh-Hans"),  # a tie: the default
    (["", ""], "zh-Hans"),
    ([], "zh-Hans"),
    (["zh-TW", "zh-hk", "zh-Hans"], "zh-Hant"),  # tags as written
])
def test_the_book_is_in_its_articles_language(languages, expected):
    articles = [Article(id=str(n), source=f"{n}.txt", language=tag) for n, tag in enumerate(languages)]
    assert pipeline.archive_language(articles) == expected


def _build(tmp_path, texts: list[str], config: str = "") -> tuple[dict, str]:
    source = tmp_path / "archive"
    source.mkdir()
    for n, text in enumerate(texts):
        (source / f"{n}.txt").write_text(f"標題{n}\n\n{text}\n\n{text}\n", encoding="utf-8")
    if config:
        (source / "anthology.toml").write_text(config, encoding="utf-8")
    result = run_cli("build", str(source), "-o", str(tmp_path / "out"), "--format", "epub", "--offline")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "archive.report.json").read_text(encoding="utf-8"))
    with zipfile.ZipFile(tmp_path / "out" / "archive.epub") as epub:
        opf = epub.read("EPUB/content.opf").decode("utf-8")
    return report["anthology"], opf


@pytest.mark.parametrize("text, language, title", [
    (HANT, "zh-Hant", "新聞選集"),
    (EN, "en", "News anthology"),
    (HANS, "zh-Hans", "新闻选集"),
])
def test_an_archive_without_config_gets_its_own_language_and_title(tmp_path, text, language, title):
    anthology, opf = _build(tmp_path, [text, text.replace("。", "！", 1)])
    assert (anthology["language"], anthology["title"]) == (language, title)
    assert f"<dc:language>{language}</dc:language>" in opf and title in opf


def test_the_config_still_decides(tmp_path):
    anthology, _ = _build(tmp_path, [HANT, HANT], 'title = "我的選集"\nlanguage = "zh-Hans"\n')
    assert (anthology["language"], anthology["title"]) == ("zh-Hans", "我的選集")
