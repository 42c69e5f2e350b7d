"""The PDF's variants (compile/writers/pdf/prepress.py): a tagged PDF (PDF/UA-1) a screen reader can read,
--pdfa as PDF/A-3a with the sources attached, --print as PDF/X-4 with a CMYK output intent, and print images
under 300 dpi listed in the report. Read back with pikepdf; veraPDF (the reference validator) is not
installable here, so these check the structures the standards require, one by one."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from compile import config
from compile.writers.pdf import prepress
from tests.conftest import run_cli

ENGLISH = ("The three leaders agreed to hold a summit every year and to consult one another in a crisis. "
           "Analysts said the improving relations between Seoul and Tokyo made the meeting possible, but "
           "domestic politics in both capitals could still limit how far the cooperation goes. ") * 3
ENGLISH_MORE = ("Beijing called the summit an attempt to build a small circle against it, and said the region needed "
                "dialogue rather than blocs. Officials in Washington replied that the meeting targeted no one. ") * 3
CHINESE = ("美国总统拜登、日本首相岸田文雄和韩国总统尹锡悦在戴维营举行会晤，这是三国领导人首次单独举行峰会。"
           "三方同意今后每年至少举行一次三边首脑会晤，并建立危机时期相互磋商的机制。") * 4
COMMENT = ("分析人士指出，日韩关系在过去一年里明显回暖，是这次峰会得以举行的前提。但首尔和东京的国内政治都可能"
           "影响合作的持续性，而三国在对华政策上的分歧也没有消失。") * 4
SMALL = (120, 90)  # printed at its natural size: 96 dpi
LARGE = (1000, 1900)  # portrait: shrunk to the figure's height limit (60vh), over 300 dpi


def _archive(root: Path) -> Path:
    """Two Chinese articles with a small and a large local image, and one in English."""
    source = root / "src"
    (source / "images").mkdir(parents=True)
    Image.new("RGB", SMALL, (180, 40, 40)).save(source / "images" / "small.png")
    Image.new("RGB", LARGE, (40, 90, 160)).save(source / "images" / "large.jpg", quality=70)
    (source / "anthology.toml").write_text('title = "三国峰会"\nlanguage = "zh-Hans"\n', encoding="utf-8")
    (source / "a.md").write_text(
        "---\ntitle: 戴维营峰会\ndate: 2023-08-19T09:20:00+02:00\noutlet: 德国之声\n"
        "url: https://www.dw.com/zh/a-66569210\n---\n\n"
        f"{CHINESE}\n\n![三国领导人举行联合记者会](images/small.png)\n\n{CHINESE}\n", encoding="utf-8")
    (source / "b.md").write_text(
        "---\ntitle: 峰会之后\ndate: 2023-08-20T10:00:00+08:00\noutlet: 联合早报\n"
        "url: https://www.zaobao.com.sg/news/a1\n---\n\n"
        f"{COMMENT}\n\n![戴维营](images/large.jpg)\n\n{COMMENT}\n", encoding="utf-8")
    (source / "c.md").write_text(
        "---\ntitle: After Camp David\ndate: 2023-08-21T10:00:00+00:00\noutlet: Reuters\n"
        "url: https://www.reuters.com/world/a1\n---\n\n" + f"{ENGLISH}\n\n{ENGLISH_MORE}\n", encoding="utf-8")
    return source


def _build(root: Path, *flags: str) -> tuple[pikepdf.Pdf, dict]:
    source = root / "src" if (root / "src").is_dir() else _archive(root)
    out = root / ("out" + "".join(flags).replace("-", "_"))
    result = run_cli("build", str(source), "-o", str(out), "--offline", "--format", "pdf", *flags)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "src.report.json").read_text(encoding="utf-8"))
    return pikepdf.open(out / "src.pdf"), report


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("tagged"), "--tagged")


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    if prepress.output_profile(config.Settings().pdf) is None:
        pytest.skip("no CMYK output profile on this machine (bootstrap.sh installs libgs-common)")
    return _build(tmp_path_factory.mktemp("print"), "--print", "--tagged")


def _pdf_output(report: dict) -> dict:
    (output,) = [o for o in report["outputs"] if o["format"] == "pdf"]
    return output


def _elements(root) -> list[pikepdf.Dictionary]:
    """Every structure element under `root`, depth first."""
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        if not isinstance(node, pikepdf.Dictionary) or node.get("/Type") in ("/MCR", "/OBJR"):
            continue
        found.append(node)
        kids = node.get("/K")
        stack.extend(reversed(list(kids)) if isinstance(kids, pikepdf.Array) else [kids] if kids is not None else [])
    return found


def _ancestors_reach_root(element, root) -> bool:
    for _ in range(200):
        if element.objgen == root.objgen:
            return True
        if "/P" not in element:
            return False
        element = element.P
    return False


def _language(element) -> str | None:
    while element is not None and "/S" in element:
        if "/Lang" in element:
            return str(element.Lang)
        element = element.get("/P")
    return None


# --- Tagged ---------------------------------------------------------------------------------------------------

def test_a_structure_tree_with_one_document_root(tagged):
    pdf, report = tagged
    root = pdf.Root.StructTreeRoot
    kids = root.K if isinstance(root.K, pikepdf.Array) else [root.K]
    assert [str(k.S) for k in kids] == ["/Document"]
    assert pdf.Root.MarkInfo.Marked is True
    assert pdf.Root.ViewerPreferences.DisplayDocTitle is True
    assert str(pdf.Root.Lang) == "zh-Hans"
    assert "pdfuaid:part" in str(pdf.open_metadata()) or pdf.open_metadata().get("pdfuaid:part") == "1"
    variant = _pdf_output(report)["details"]["variant"]
    assert variant["name"] == "pdf/ua-1" and variant["tagged"] is True


def _reachable(root) -> dict[tuple[int, int], set[int]]:
    """The MCIDs the structure tree holds, by the page (objgen) each is on: walked down from the root's /K."""
    held: dict[tuple[int, int], set[int]] = {}
    for element in _elements(root):
        kids = element.get("/K")
        for kid in (kids if isinstance(kids, pikepdf.Array) else [kids] if kids is not None else []):
            if isinstance(kid, int):
                held.setdefault(element.Pg.objgen, set()).add(int(kid))
            elif isinstance(kid, pikepdf.Dictionary) and kid.get("/Type") == "/MCR":
                held.setdefault(kid.get("/Pg", element.get("/Pg")).objgen, set()).add(int(kid.MCID))
    return held


def test_every_page_is_tagged_and_every_mark_is_in_the_tree(tagged):
    """Each page names its /StructParents; everything it draws is marked, as content or as an artifact; every
    MCID it marks is held by an element of the tree (walked down from the root) and in the ParentTree, and the
    tree holds no MCID the page lacks. Running heads and folios (margin boxes) are artifacts."""
    pdf, _ = tagged
    root = pdf.Root.StructTreeRoot
    held = _reachable(root)
    in_tree = {element.objgen for element in _elements(root)}
    parents = dict(pikepdf.NumberTree(root.ParentTree).items())
    artifact_text = 0
    for number, page in enumerate(pdf.pages, start=1):
        marked, kinds = [], []
        for operands, operator in pikepdf.parse_content_stream(page):
            op = str(operator)
            if op in ("BDC", "BMC"):
                kinds.append(str(operands[0]))
                if op == "BDC" and isinstance(operands[1], pikepdf.Dictionary) and "/MCID" in operands[1]:
                    marked.append(int(operands[1].MCID))
            elif op == "EMC":
                kinds.pop()
            elif op in ("Tj", "TJ", "'", '"', "Do"):
                assert kinds, f"page {number}: {op} outside marked content"
                artifact_text += kinds[0] == "/Artifact" and op != "Do"
        assert not kinds, f"page {number}: unbalanced BDC/EMC"
        assert len(marked) == len(set(marked)), f"page {number}: an MCID twice"
        assert set(marked) == held.get(page.obj.objgen, set()), f"page {number}: marks and tree differ"
        mapping = parents[int(page.obj.StructParents)]
        assert all(mapping[mcid].objgen in in_tree for mcid in marked)
    assert artifact_text >= len(pdf.pages) // 2  # the folios and running heads


def test_each_article_says_its_language(tagged):
    pdf, _ = tagged
    articles = [e for e in _elements(pdf.Root.StructTreeRoot) if e.get("/S") == "/Art"]
    languages = {str(a.get("/Lang", "")) for a in articles}
    assert languages == {"zh-Hans", "en"}, languages
    english = [a for a in articles if str(a.Lang) == "en"]
    text = [e for a in english for e in _elements(a)]
    assert text and all(_language(e) == "en" for e in text)


def test_figures_have_alt_text(tagged):
    pdf, _ = tagged
    figures = [e for e in _elements(pdf.Root.StructTreeRoot) if e.get("/S") == "/Figure"]
    assert all(str(f.get("/Alt", "")).strip() for f in figures)  # the articles' images and the book's own (QR codes)
    assert {"三国领导人举行联合记者会", "戴维营"} <= {str(f.Alt) for f in figures}


def test_the_outline_is_kept(tagged):
    pdf, _ = tagged
    with pdf.open_outline() as outline:
        titles = [item.title for top in outline.root for item in [top, *top.children]]
    assert {"戴维营峰会", "峰会之后", "After Camp David"} <= set(titles)


def test_the_default_pdf_is_not_tagged(tmp_path):
    pdf, report = _build(tmp_path)
    assert "/StructTreeRoot" not in pdf.Root and "/MarkInfo" not in pdf.Root
    details = _pdf_output(report)["details"]
    assert "variant" not in details and "images_below_dpi" not in details


# --- PDF/A-3a ---------------------------------------------------------------------------------------------------

def test_pdfa_is_3a_tagged_with_the_sources_attached(tmp_path):
    pdf, report = _build(tmp_path, "--pdfa")
    xmp = str(pdf.open_metadata())
    assert re.search(r'pdfaid:part="?3', xmp) and re.search(r'pdfaid:conformance="?A', xmp)
    assert "/StructTreeRoot" in pdf.Root and pdf.Root.MarkInfo.Marked is True
    assert {"a.md", "b.md", "c.md", "report.json"} <= set(pdf.attachments)
    assert len(pdf.Root.AF) >= 4
    assert all(str(spec.AFRelationship) for spec in pdf.Root.AF)
    assert str(pdf.Root.OutputIntents[0].S) == "/GTS_PDFA1"
    assert _pdf_output(report)["details"]["variant"]["name"] == "pdf/a-3a"


# --- PDF/X-4 and print images -------------------------------------------------------------------------------

def test_print_is_pdfx4_with_a_cmyk_output_intent(printed):
    pdf, report = printed
    (intent,) = pdf.Root.OutputIntents
    assert str(intent.S) == "/GTS_PDFX" and str(intent.OutputConditionIdentifier)
    profile = intent.DestOutputProfile
    assert int(profile.N) == 4 and profile.read_bytes()[12:20] == b"prtrCMYK"
    meta = pdf.open_metadata()
    assert meta.get("pdfxid:GTS_PDFXVersion") == "PDF/X-4"
    assert pdf.pdf_version == "1.6" and str(pdf.trailer.Info.Trapped) == "/False"
    for page in pdf.pages:
        assert "/TrimBox" in page.obj and "/BleedBox" in page.obj
        # DeviceRGB colours and images are calibrated (sRGB), as PDF/X-4 requires under a CMYK intent
        assert str(page.Resources.ColorSpace.DefaultRGB[0]) == "/ICCBased"
    assert "/StructTreeRoot" in pdf.Root  # --print --tagged: both
    variant = _pdf_output(report)["details"]["variant"]
    assert variant["name"] == "pdf/x-4" and variant["output_profile"]


def _printed_dpi(pdf: pikepdf.Pdf) -> dict[tuple[int, int], list[float]]:
    """Each image's resolution where it is drawn, from the pages' drawing matrices (pixels over printed inches):
    what the report's numbers must agree with. By pixel size (width, height)."""
    found: dict[tuple[int, int], list[float]] = {}
    for page in pdf.pages:
        stack, ctm = [], pikepdf.Matrix()
        for operands, operator in pikepdf.parse_content_stream(page):
            op = str(operator)
            if op == "q":
                stack.append(ctm)
            elif op == "Q":
                ctm = stack.pop()
            elif op == "cm":
                ctm = pikepdf.Matrix(*[float(v) for v in operands]) @ ctm
            elif op == "Do":
                image = page.Resources.XObject[operands[0]]
                if image.get("/Subtype") == "/Image":
                    pixels = (int(image.Width), int(image.Height))
                    inches = (math.hypot(ctm.a, ctm.b) / 72, math.hypot(ctm.c, ctm.d) / 72)
                    found.setdefault(pixels, []).append(min(pixels[0] / inches[0], pixels[1] / inches[1]))
    return found


def test_print_images_under_300_dpi_are_reported_with_their_article_and_url(printed):
    pdf, report = printed
    output = _pdf_output(report)
    below = output["details"]["images_below_dpi"]
    assert below["min_dpi"] == 300
    (small,) = below["images"]  # the large one is drawn at well over 300 dpi
    assert small["source"] == "a.md" and small["url"].endswith("images/small.png")
    assert small["local"] == "images/small.png"
    assert small["pixels"] == list(SMALL) and small["page"] >= 1
    measured = _printed_dpi(pdf)
    assert small["dpi"] == pytest.approx(measured[SMALL][0], abs=1) and small["dpi"] == 96
    assert measured[LARGE][0] >= 300
    assert any("below 300 dpi" in note for note in output["notes"])


def test_print_and_pdfa_together_make_pdfa_and_say_why(tmp_path):
    pdf, report = _build(tmp_path, "--print", "--pdfa")
    assert re.search(r'pdfaid:conformance="?A', str(pdf.open_metadata()))
    assert any("PDF/X-4 not written" in note for note in _pdf_output(report)["notes"])


def test_without_a_cmyk_profile_print_says_so(monkeypatch):
    monkeypatch.setattr(prepress, "SYSTEM_CMYK_PROFILES", (Path("/nonexistent/cmyk.icc"),))
    chosen = prepress.variant(config.PdfSettings(bleed=True, pdfx=True))
    assert chosen.name == "" and "no CMYK output profile" in chosen.notes[0]
    assert prepress.variant(config.PdfSettings(pdfx=True, tagged=True)).name == "pdf/ua-1"


# --- Settings ---------------------------------------------------------------------------------------------------

def test_an_output_profile_must_be_a_cmyk_printer_profile(tmp_path):
    srgb = Path(pikepdf.__file__).parent / "pdfa" / "data" / "sRGB.icc"  # an RGB display profile
    shutil.copy(srgb, tmp_path / "srgb.icc")
    (tmp_path / "a.toml").write_text('[pdf]\noutput_profile = "srgb.icc"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match="CMYK printer"):
        config.load(tmp_path / "a.toml", source=tmp_path / "elsewhere")
    (tmp_path / "b.toml").write_text('[pdf]\noutput_profile = "missing.icc"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match="cannot be read"):
        config.load(tmp_path / "b.toml", source=tmp_path / "elsewhere")


def test_an_archives_config_names_only_its_own_profile(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "anthology.toml").write_text('[pdf]\noutput_profile = "/etc/passwd"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match="outside the archive"):
        config.load(archive / "anthology.toml", source=archive)


def test_a_vertical_book_says_what_chromium_made_of_the_variant(tmp_path):
    """The vertical theme is printed by Chromium: tagged when Chromium tagged it, never PDF/X (and said so)."""
    from types import SimpleNamespace

    from compile.writers.context import Output
    from compile.writers.pdf import writer

    path = tmp_path / "v.pdf"
    pikepdf.new().save(path)  # no structure tree
    output = Output(path=path, format="pdf", bytes=1)
    book = SimpleNamespace(settings=SimpleNamespace(pdf=config.PdfSettings(tagged=True, pdfx=True, bleed=True)))
    writer._vertical_variant(book, output)  # noqa: SLF001
    assert output.details["variant"] == {"name": "pdf", "tagged": False, "output_profile": None}
    assert any("not tagged" in note for note in output.notes) and any("PDF/X-4" in note for note in output.notes)
    plain = Output(path=path, format="pdf", bytes=1)
    writer._vertical_variant(SimpleNamespace(settings=config.Settings()), plain)  # noqa: SLF001
    assert plain.details == {} and plain.notes == []
