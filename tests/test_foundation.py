"""End to end on the seeds: the contract of the foundation issue."""

from __future__ import annotations

import json
import re
import zipfile

from pypdf import PdfReader

from tests.checks import epubcheck_messages, outline_titles, pdf_fonts
from tests.conftest import run_cli

CHRONOLOGICAL = ["004_1ce8e493f6fa649e", "002_fabee16c874f7378", "000_a1d4f1b7f99dda5e",
                 "001_5d74d41885d7a365", "003_febb013b7a39c0d2"]


def test_outputs_exist(seeds_build):
    for name in ("seeds.epub", "seeds.pdf", "seeds.report.json"):
        assert (seeds_build / name).stat().st_size > 1000
    assert not list(seeds_build.glob(".*.part")), "temporary files left behind"


def test_report_contract(seeds_report):
    assert set(seeds_report) >= {"anthology", "articles", "images", "outputs", "warnings"}
    assert [a["id"] for a in seeds_report["articles"]] == CHRONOLOGICAL
    for article in seeds_report["articles"]:
        assert set(article) >= {"id", "source", "title", "outlet", "url", "published", "date_source",
                                "archived", "warnings"}
        assert article["published"] and article["date_source"] and article["title"] and article["outlet"]
    for image in seeds_report["images"]:
        assert set(image) >= {"url", "article", "status", "reason"}
        assert image["status"] == "failed" and image["reason"]
    assert {o["format"] for o in seeds_report["outputs"]} == {"epub", "pdf"}
    assert all(o["bytes"] > 0 for o in seeds_report["outputs"])
    inputs = {i["source"]: i["status"] for i in seeds_report["inputs"]}
    assert sum(1 for s in inputs.values() if s == "article") == 5


def test_epubcheck_clean(seeds_build):
    messages = epubcheck_messages(seeds_build / "seeds.epub")
    bad = [m for m in messages if m["severity"] in ("FATAL", "ERROR", "WARNING")]
    assert bad == [], bad


def test_epub_one_file_per_article_and_placeholders(seeds_build):
    with zipfile.ZipFile(seeds_build / "seeds.epub") as z:
        names = z.namelist()
        for article_id in CHRONOLOGICAL:
            assert f"EPUB/text/{article_id}.xhtml" in names
        text = z.read("EPUB/text/002_fabee16c874f7378.xhtml").decode()
    assert "image-missing" in text, "a failed image becomes a placeholder"
    assert "美国国务卿布林肯和英国外交大臣拉布" in text, "the caption is kept"
    assert "weserv" not in text and "<img" not in text, "nothing remote is referenced"


def test_pdf_outline_in_chronological_order(seeds_build, seeds_report):
    reader = PdfReader(seeds_build / "seeds.pdf")
    titles = {a["title"]: a["id"] for a in seeds_report["articles"]}
    entries = [(t, p) for _, t, p in outline_titles(reader) if t in titles]
    assert [titles[t] for t, _ in entries] == CHRONOLOGICAL
    pages = [p for _, p in entries]
    assert pages == sorted(pages)


def test_pdf_text_and_fonts(seeds_build):
    reader = PdfReader(seeds_build / "seeds.pdf")
    text = "".join(page.extract_text() for page in reader.pages)
    assert "金正恩与特朗普结束会晤" in text
    assert "韩荷两国发表联合声明" in text
    fonts = pdf_fonts(reader)
    assert fonts and all(fonts.values()), fonts
    assert all(re.match(r"^/[A-Z]{6}\+", name) for name in fonts), f"not subset: {list(fonts)}"
    assert any("CJK" in name for name in fonts)


def test_no_junk_reaches_outputs(seeds_build):
    reader = PdfReader(seeds_build / "seeds.pdf")
    text = "".join(page.extract_text() for page in reader.pages)
    with zipfile.ZipFile(seeds_build / "seeds.epub") as z:
        epub_text = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".xhtml"))
    for junk in ("获取更多RSS", "feedx", "分享", "share-button", "selfpromo", "whatsapp"):
        assert junk not in text, junk
        assert junk not in epub_text, junk


def test_inspect_json_dates():
    result = run_cli("inspect", "seeds", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == CHRONOLOGICAL
    by_id = {r["id"]: r for r in rows}
    assert by_id["004_1ce8e493f6fa649e"]["published"].startswith("2018-06-12")
    assert by_id["004_1ce8e493f6fa649e"]["date_source"] == "override"
    assert by_id["000_a1d4f1b7f99dda5e"]["published"] == "2021-05-22T17:24:00+02:00"  # Paris time
    assert by_id["002_fabee16c874f7378"]["published"] == "2021-05-03T22:54:08+00:00"
    assert by_id["001_5d74d41885d7a365"]["published"].startswith("2022-11-13T03:43")
    assert by_id["003_febb013b7a39c0d2"]["published"].startswith("2023-12-13T17:48")
    for row in rows:
        assert row["date_source"]
        assert set(row) >= {"id", "source", "title", "outlet", "published", "date_source", "archived",
                            "characters", "images", "warnings"}


def test_without_override_004_is_flagged_and_last(seeds_copy):
    config = seeds_copy / "anthology.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"\[overrides\..*", "", text, flags=re.S), encoding="utf-8")
    result = run_cli("inspect", str(seeds_copy), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    last = rows[-1]
    assert last["id"] == "004_1ce8e493f6fa649e"
    assert last["published"] is None and last["date_source"] is None
    assert any("no year" in w for w in last["warnings"])


def test_strict_exits_1_on_warnings(tmp_path):
    result = run_cli("build", "seeds", "-o", str(tmp_path), "--offline", "--strict", "--format", "epub")
    assert result.returncode == 1, result.stderr
    assert (tmp_path / "seeds.epub").exists()


def test_bad_config_exits_2_naming_file_and_key(seeds_copy):
    config = seeds_copy / "anthology.toml"
    config.write_text('theem = "book"\n' + config.read_text(encoding="utf-8"), encoding="utf-8")
    result = run_cli("build", str(seeds_copy), "-o", str(seeds_copy / "out"))
    assert result.returncode == 2
    assert "anthology.toml:1" in result.stderr and "'theem'" in result.stderr
    assert "did you mean 'theme'" in result.stderr
