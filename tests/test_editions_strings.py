"""The book's own words per edition (compile/locales.py): a Traditional edition shows no Simplified UI string,
an English edition no Chinese one, and the provenance line names a date's origin in words, never a rule id."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import string
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfReader

from compile import cover, locales
from compile.build import pipeline
from compile.model import Article
from compile.transforms import order
from compile.writers.context import display_date, section_title
from tests.checks import epubcheck_messages
from tests.conftest import CORPUS_DEV, FIXTURES, ROOT, SEEDS

ENGLISH = FIXTURES / "editions" / "en"
HAN = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
XHTML = "{http://www.w3.org/1999/xhtml}"
# What the articles bring (their text, titles, outlets, authors) and the URLs they came from: not UI strings.
CONTENT = ("article-body", "article-title", "outlet", "author")


# ------------------------------------------------------------------ helpers


def build(source: Path, out: Path, **overrides) -> dict[str, Path]:
    from compile import config

    settings = config.load(source / "anthology.toml" if (source / "anthology.toml").is_file() else None)
    settings.formats, settings.offline = ["epub", "pdf"], True
    for key, value in overrides.items():
        setattr(settings, key, value)
    result = pipeline.build(source, out, settings)
    return {o["format"]: Path(o["path"]) for o in result.report["outputs"]} | {"report": result.report_path}


def ui_texts(epub: Path) -> dict[str, str]:
    """Every document's text without the articles' content (and the package's and NCX's text whole)."""
    texts = {}
    with zipfile.ZipFile(epub) as z:
        for name in z.namelist():
            if name.endswith((".opf", ".ncx")):
                texts[name] = "".join(etree.fromstring(z.read(name)).itertext())
            elif name.endswith(".xhtml"):
                root = etree.fromstring(z.read(name))
                placeholders = ["".join(e.itertext()) for e in root.iter(f"{XHTML}div")
                                if "image-missing" in (e.get("class") or "")]  # ours, inside an article's body
                for element in list(root.iter()):
                    classes = (element.get("class") or "").split() if isinstance(element.tag, str) else []
                    in_link = element.tag == f"{XHTML}a" and element.getparent().get("class") == "source-url"
                    if (set(classes) & set(CONTENT) or in_link) and element.getparent() is not None:
                        element.getparent().remove(element)
                texts[name] = "".join(root.find(f"{XHTML}body").itertext()) + "\n".join(placeholders)
    return texts


def pdf_pages(path: Path) -> list[str]:
    """Each page's text without whitespace (justification may split a word into letters)."""
    return [re.sub(r"\s+", "", page.extract_text() or "") for page in PdfReader(path).pages]


def simplified_only() -> list[str]:
    """The literal pieces of every zh-Hans message that its zh-Hant form does not share: what a Traditional
    edition must never show."""
    hans, hant = locales.load("zh-Hans"), locales.load("zh-Hant")
    pieces = []
    pairs = [(hans.messages[k], hant.messages[k]) for k in hans.messages]
    pairs += [(hans.origins[k], hant.origins[k]) for k in hans.origins]
    for simplified, traditional in pairs:
        if simplified == traditional:
            continue
        other = re.sub(r"\s+", "", traditional)
        for literal, *_ in string.Formatter().parse(simplified):
            piece = re.sub(r"\s+", "", literal)
            if piece and piece not in other:
                pieces.append(piece)
    return sorted(set(pieces))


def assert_no_simplified_ui(outputs: dict[str, Path]) -> None:
    pieces = simplified_only()
    for name, text in ui_texts(outputs["epub"]).items():
        flat = re.sub(r"\s+", "", text)
        found = [p for p in pieces if p in flat]
        assert not found, (name, found)
    pages = pdf_pages(outputs["pdf"])
    # In the PDF the articles cannot be told from the rest: pieces of two characters or more anywhere, the
    # one-character ones (编) on the title page, where everything else is converted.
    found = [(i + 1, p) for i, text in enumerate(pages) for p in pieces if len(p) > 1 and p in text]
    found += [(1, p) for p in pieces if len(p) == 1 and p in pages[0]]
    assert not found, found


# ------------------------------------------------------------------ the catalogues


def test_catalogues_have_the_same_keys_and_fields():
    base = locales.load("zh-Hans")
    for language in locales.LANGUAGES:
        strings = locales.load(language)
        assert {k for k in strings.messages if not k.endswith("_one")} == set(base.messages), language
        assert set(strings.origins) == set(base.origins), language
        for key, text in strings.messages.items():
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            model = base.messages[key.removesuffix("_one")]
            assert fields <= {f for _, f, _, _ in string.Formatter().parse(model) if f} | {"month_name"}, key
    english = locales.load("en")
    assert not [t for t in [*english.messages.values(), *english.origins.values()] if HAN.search(t)]


def test_what_a_traditional_edition_must_not_show():
    pieces = simplified_only()
    for word in ("来源文件", "日期依据", "图片未能获取", "日期不详", "目录", "编", "书名页", "正文中的时间戳"):
        assert any(word in piece for piece in pieces), word
    assert not any(piece in ("年", "月", "日", "篇", "共", "原文：", "其他") for piece in pieces)


def test_catalogues_are_packaged_with_the_module():
    assert locales.FOLDER == ROOT / "compile" / "locales"
    assert sorted(p.stem for p in locales.FOLDER.glob("*.toml")) == sorted(locales.LANGUAGES)


@pytest.mark.parametrize(("language", "script", "expected"), [
    ("zh-Hans", "", "zh-Hans"), ("zh", "", "zh-Hans"), ("zh-CN", "", "zh-Hans"), ("zh-Hant", "", "zh-Hant"),
    ("zh-TW", "", "zh-Hant"), ("zh-HK", "", "zh-Hant"), ("en", "", "en"), ("en-GB", "", "en"), ("ja", "", "en"),
    ("zh-Hans", "hant", "zh-Hant"), ("zh-Hant", "hans", "zh-Hans"), ("en", "hant", "zh-Hant"),
])
def test_the_edition_picks_the_catalogue(language, script, expected):
    assert locales.edition_language(language, script) == expected


def test_dates_and_section_labels_per_language():
    day = dt.date(2021, 5, 22)
    assert locales.load("zh-Hans").date(day) == "2021年5月22日"
    assert locales.load("zh-Hant").date(day) == "2021年5月22日"
    assert locales.load("en").date(day) == "May 22, 2021"
    zone = dt.UTC
    dated = Article(id="a", source="a.md", published=dt.datetime(2021, 5, 22, 12, tzinfo=zone))
    undated = Article(id="b", source="b.md")
    for by, keys in (("month", ["m2021-05", "undated"]), ("year", ["y2021", "undated"])):
        sections = order.sections([dated, undated], by, zone)
        assert [s.key for s in sections] == keys and [s.title for s in sections] == ["", ""]
    month, year = order.sections([dated], "month", zone)[0], order.sections([dated], "year", zone)[0]
    none = order.sections([undated], "year", zone)[0]
    other = order.sections([undated], "outlet", zone)[0]
    expected = {"zh-Hans": ("2021年5月", "2021年", "日期不详", "其他"),
                "zh-Hant": ("2021年5月", "2021年", "日期不詳", "其他"),
                "en": ("May 2021", "2021", "Date unknown", "Other")}
    for language, labels in expected.items():
        strings = locales.load(language)
        assert tuple(section_title(s, strings) for s in (month, year, none, other)) == labels
    # An article's own language may still pick its date's form; without one, the edition's.
    english = Article(id="c", source="c.md", language="en", published=dated.published)
    assert display_date(english, zone, locales.load("zh-Hant")) == "May 22, 2021"
    assert display_date(dated, zone, locales.load("en")) == "May 22, 2021"
    chinese = Article(id="d", source="d.md", language="zh-Hans", published=dated.published)
    assert display_date(chinese, zone, locales.load("en")) == "2021年5月22日"


def _rule_ids() -> set[str]:
    """Every date_source id compile/transforms/dates.py can set: the source argument of each `_finding(...)`
    and `DateFinding(...)` call, and the override."""
    tree = ast.parse((ROOT / "compile" / "transforms" / "dates.py").read_text(encoding="utf-8"))
    found = {"override"}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        index = {"_finding": 1, "DateFinding": 2}.get(node.func.id)
        if index is None or len(node.args) <= index:
            continue
        arg = node.args[index]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            found.add(arg.value)
        elif isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
            found.add(str(arg.values[0].value) + "x")  # html-meta:{key} -> html-meta:x
    return found


def test_every_date_rule_has_words_in_every_language():
    ids = _rule_ids()
    assert {"json-ld", "body-timestamp:rfc2822", "archived (feed capture time, not publication)"} <= ids
    ids |= {"url (no zone; read in the configured zone Asia/Shanghai)", "byline, time from json-ld"}
    for language in locales.LANGUAGES:
        strings = locales.load(language)
        for rule in ids:
            words = strings.date_origin(rule)
            assert words != strings.origins["unknown"], (language, rule)
            ids_in_it = re.findall(r"\w+[:\-][\w:\-/]+|\(feed capture", rule)  # body-timestamp:rfc2822, json-ld
            assert words != rule and not any(i in words for i in ids_in_it), (language, rule)
        assert strings.date_origin("some-future-rule:x") == strings.origins["unknown"]
        assert strings.date_origin("") == strings.origins["none"]
    assert locales.load("zh-Hans").date_origin("body-timestamp:rfc2822") == "正文中的时间戳"
    assert locales.load("en").date_origin("body-timestamp:rfc2822") == "a timestamp in the text"


# ------------------------------------------------------------------ editions, built


def test_simplified_edition_reads_as_before_with_words_for_the_date_origin(tmp_path):
    outputs = build(SEEDS, tmp_path)
    texts = ui_texts(outputs["epub"])
    everything = "".join(texts.values())
    assert "来源文件：" in everything and "日期依据：正文中的时间戳" in everything and "目录" in everything
    assert "body-timestamp" not in everything and "archived (" not in everything
    pages = pdf_pages(outputs["pdf"])
    assert "选集编辑部编" in pages[0] and "共5篇" in pages[0]
    assert not any("body-timestamp" in p or "dateline:" in p for p in pages)
    report = outputs["report"].read_text(encoding="utf-8")
    assert "body-timestamp:rfc2822" in report  # the report keeps the rule ids: a public contract


def test_traditional_seeds_show_no_simplified_ui_string(tmp_path):
    outputs = build(SEEDS, tmp_path, script="hant")
    assert_no_simplified_ui(outputs)
    everything = "".join(ui_texts(outputs["epub"]).values())
    assert "目錄" in everything and "來源檔案：" in everything and "日期依據：正文中的時間戳記" in everything
    assert "圖片未能取得" in "".join(pdf_pages(outputs["pdf"]))
    messages = [m for m in epubcheck_messages(outputs["epub"]) if m["severity"] in ("FATAL", "ERROR", "WARNING")]
    assert not messages, messages


@pytest.mark.skipif(not CORPUS_DEV.is_dir(), reason="corpus-dev is not here")
def test_traditional_corpus_dev_shows_no_simplified_ui_string(tmp_path):
    outputs = build(CORPUS_DEV, tmp_path, script="hant")
    assert_no_simplified_ui(outputs)


def test_english_edition_shows_no_chinese_ui_string(tmp_path, monkeypatch):
    drawn = tmp_path / "drawn.jsonl"  # the EPUB may be written in a forked process: what it drew, in a file
    real = cover.render

    def render(text, *args, **kwargs):
        with drawn.open("a", encoding="utf-8") as file:
            file.write(json.dumps(vars(text), ensure_ascii=False, default=str) + "\n")
        return real(text, *args, **kwargs)

    monkeypatch.setattr(cover, "render", render)
    outputs = build(ENGLISH, tmp_path)
    texts = ui_texts(outputs["epub"])
    found = {name: HAN.findall(text) for name, text in texts.items() if HAN.search(text)}
    assert not found, found
    everything = "".join(texts.values())
    for words in ("Contents", "Date unknown", "March 2023", "Source file: talks.html; date from: the page's "
                  "structured data", "Image not available: images.example.org", "Landmarks", "Next"):
        assert words in everything, words
    # The fixture's articles are English: the PDF's whole text, content included, has no Han character.
    pages = pdf_pages(outputs["pdf"])
    assert not [(i + 1, HAN.findall(p)) for i, p in enumerate(pages) if HAN.search(p)]
    assert "3articles" in pages[0] and "Contents" in pages[1]
    (text,) = [json.loads(line) for line in drawn.read_text(encoding="utf-8").splitlines()]
    assert text["count"] == "3 articles" and not any(HAN.search(str(v)) for v in text.values())
    messages = [m for m in epubcheck_messages(outputs["epub"]) if m["severity"] in ("FATAL", "ERROR", "WARNING")]
    assert not messages, messages
