"""The WeasyPrint patches (compile/writers/pdf/weasy/patching.py): installed re-entrantly and safely under threads,
every one active on the pinned WeasyPrint (a failure here, never a skip), and a build on another version warns and
names every inactive one in the report. docs/upgrading.md says what to do when these fail."""

from __future__ import annotations

import contextlib
import gc
import inspect
import json
import logging
import re
import shutil
import threading
import time
import tomllib

import pytest
from weasyprint.layout import inline

from compile.build import pipeline
from compile.writers.pdf import render, writer  # noqa: F401 - imported for the patches they register
from compile.writers.pdf.chunked import fontshare
from compile.writers.pdf.weasy import (
    frame_prune,
    justify,
    known_targets,
    leaders,
    margin_widths,
    page_styles,
    page_walks,
    patching,
    png_data,
    shared_styles,
    tagging,
    target_counters,
    tree,
)
from compile.writers.pdf.weasy.patching import Patch, Private
from tests.conftest import ROOT, SEEDS, make_settings, run_cli

NAMES = {"justify", "page_styles", "frame_prune", "leaders", "font_stubs", "html_tree", "tagging", "target_counters",
         "known_targets", "shared_styles", "margin_widths", "page_walks", "png_data"}
PATCHES = [justify.PATCH, page_styles.PATCH, frame_prune.PATCH, leaders.PATCH, fontshare.PATCH, tree.PATCH,
           tagging.PATCH, target_counters.PATCH, known_targets.PATCH, shared_styles.PATCH,
           margin_widths.PATCH, page_walks.PATCH, png_data.PATCH]


def targets() -> dict[str, object]:
    """Every replaced private name -> what WeasyPrint holds there now."""
    return {str(private): inspect.getattr_static(private.owner, private.name) for patch in PATCHES
            for private in patch.replaces}


def replaced(patch: Patch) -> bool:
    return all(inspect.getattr_static(private.owner, private.name) is ours for private, ours in patch.replaces.items())


# --- On the pinned WeasyPrint: every patch applies -----------------------------------------------------------

def test_every_registered_patch_is_active_on_the_installed_weasyprint():
    """Fails (never skips) when a patch cannot apply: see docs/upgrading.md before widening the pin."""
    assert set(patching.REGISTRY) == NAMES
    inactive = {entry["name"]: entry["reason"] for entry in patching.status() if not entry["active"]}
    assert inactive == {}, patching.warning()
    assert patching.warning() is None


def test_the_version_gate_is_the_pin():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (pin,) = [d for d in project["dependencies"] if re.match(r"weasyprint\b", d, re.IGNORECASE)]
    assert pin.removeprefix("weasyprint").replace(" ", "") == patching.TESTED
    assert patching.tested("70.0") and patching.tested("70.9.1")
    assert not patching.tested("69.9") and not patching.tested("71.0") and not patching.tested("53.4")


def test_a_changed_signature_or_a_missing_name_makes_a_patch_inactive(monkeypatch):
    monkeypatch.setattr(patching, "_CHECKED", {})
    monkeypatch.setattr(inline, "justify_line", lambda context, line, width: None)
    changed = inline.justify_line
    assert "justify_line takes (context, line, width), not (context, line, extra_width)" in justify.PATCH.reason()
    with patching.installed(justify.PATCH, leaders.PATCH) as active:
        assert not active and inline.justify_line is changed and replaced(leaders.PATCH)
    assert inline.justify_line is changed
    assert Private(inline, "nothing_of_the_kind").problem() == "weasyprint.layout.inline.nothing_of_the_kind is gone"
    assert Private(fontshare.Font, "bitmap").problem() is None  # an attribute its methods set
    assert {e["name"]: e["active"] for e in patching.status()}["justify"] is False


# --- Re-entrant, in any order, across threads ----------------------------------------------------------------

def test_blocks_left_in_another_order_leave_weasyprint_as_it_was():
    before, threshold = targets(), gc.get_threshold()
    outer = patching.installed(justify.PATCH, leaders.PATCH)
    inner = patching.installed(leaders.PATCH, page_styles.PATCH)
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)  # the first in leaves first
    assert replaced(leaders.PATCH) and replaced(page_styles.PATCH) and not replaced(justify.PATCH)
    inner.__exit__(None, None, None)
    assert all(now is before[name] for name, now in targets().items())
    # The writer's own blocks (render.extended, fontshare.deferred), likewise: GC thresholds too.
    first, second = render.extended(), render.extended()
    first.__enter__()
    second.__enter__()
    deferred = fontshare.deferred()
    deferred.__enter__()
    first.__exit__(None, None, None)
    assert all(replaced(p) for p in (justify.PATCH, frame_prune.PATCH, fontshare.PATCH))
    assert gc.get_threshold()[0] == 20_000
    second.__exit__(None, None, None)
    deferred.__exit__(None, None, None)
    assert all(now is before[name] for name, now in targets().items()) and gc.get_threshold() == threshold


def test_an_exception_inside_or_while_installing_restores_weasyprint():
    before = targets()
    with pytest.raises(RuntimeError), patching.installed(*PATCHES):
        assert all(replaced(p) for p in PATCHES)
        raise RuntimeError
    assert all(now is before[name] for name, now in targets().items())

    class Refusing:
        kept, refused = "a", "b"

        def __setattr__(self, name, value):
            if name == "refused":
                raise AttributeError(name)
            super().__setattr__(name, value)

    owner = Refusing()
    broken = Patch("broken", without="", replaces={Private(owner, "kept"): "A", Private(owner, "refused"): "B"})
    with pytest.raises(AttributeError), patching.installed(justify.PATCH, broken):
        pass
    assert owner.kept == "a" and not replaced(justify.PATCH)
    with patching.installed(justify.PATCH):  # nothing was left counted
        assert replaced(justify.PATCH)
    assert not replaced(justify.PATCH)


def test_two_threads_entering_and_leaving_at_will():
    """Patched while either thread is inside, whatever the other does; WeasyPrint's own functions after."""
    before, threshold = targets(), gc.get_threshold()
    start, problems = threading.Barrier(2), []

    def work(blocks) -> None:
        start.wait()
        for turn in range(300):
            with blocks(turn):
                for _ in range(2):
                    if not all(replaced(p) for p in (justify.PATCH, page_styles.PATCH, frame_prune.PATCH)):
                        problems.append("unpatched inside a block")
                    time.sleep(0.0001 * (turn % 3))

    def nested(turn):  # the other thread nests blocks of overlapping patches
        stack = contextlib.ExitStack()
        stack.enter_context(render.extended())
        if turn % 2:
            stack.enter_context(patching.installed(justify.PATCH, fontshare.PATCH))
        return stack

    threads = [threading.Thread(target=work, args=(lambda turn: render.extended(),)),
               threading.Thread(target=work, args=(nested,))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not problems and not any(thread.is_alive() for thread in threads)
    assert all(now is before[name] for name, now in targets().items()) and gc.get_threshold() == threshold


# --- Outside the tested range: a real build warns and says which are inactive -----------------------------

def test_a_build_on_an_untested_weasyprint_warns_and_names_every_inactive_extension(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(patching, "VERSION", "71.0")
    source = tmp_path / "src"
    source.mkdir()
    for path in sorted(SEEDS.glob("*.txt"))[:2]:
        shutil.copy(path, source)
    before = targets()
    with caplog.at_level(logging.WARNING, logger="anthology"):
        result = pipeline.build(source, tmp_path / "out", make_settings(offline=True, formats=["pdf"]))
    assert all(now is before[name] for name, now in targets().items())  # nothing was installed
    (output,) = [o for o in result.report["outputs"] if o["format"] == "pdf"]
    extensions = output["details"]["extensions"]
    assert {e["name"] for e in extensions} == NAMES
    assert all(not e["active"] and e["reason"] == "WeasyPrint 71.0 is outside the tested range >=70,<71"
               for e in extensions)
    (warning,) = [w for w in result.report["warnings"] if "WeasyPrint extensions inactive" in w]
    assert all(f"{name}: " in warning for name in NAMES)
    assert "Chinese lines are justified at spaces only" in warning
    assert [r for r in caplog.records if "WeasyPrint extensions inactive" in r.getMessage()]
    assert output["pages"]  # the PDF is still made, with WeasyPrint's own layout


def test_a_chunked_build_reports_every_extension(tmp_path):
    """The report lists every extension, whichever path rendered: a chunked build's process does not import the
    one pass's modules (single.py), which register `tagging`. In a new process, as a user runs it."""
    source = tmp_path / "seeds"
    shutil.copytree(SEEDS, source)
    toml = source / "anthology.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + '\n[pdf]\nmode = "chunked"\nworkers = 2\n', encoding="utf-8")
    result = run_cli("-q", "build", str(source), "-o", str(tmp_path / "out"), "--format", "pdf", "--offline")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "seeds.report.json").read_text(encoding="utf-8"))
    (output,) = [o for o in report["outputs"] if o["format"] == "pdf"]
    assert {e["name"] for e in output["details"]["extensions"]} == NAMES
    assert "PDF rendered in one pass" not in " ".join(output["notes"])  # it was chunked


# --- Page references laid out once (target_counters.py) --------------------------------------------------------

REFERENCES_HTML = """<html><head><style>
@page { size: A6; margin: 10mm }
a.ref::after { content: leader(". ") target-counter(attr(href url), page) }
a.own::after { content: " p" counter(page) " of " target-counter(attr(href url), page) }
h1 { break-before: page }
</style></head><body>
<p><a class="ref" href="#c3">forward to three</a></p>
<p><a class="own" href="#c2">own counter and a forward one</a></p>
<h1 id="c1">One</h1><p>text</p>
<h1 id="c2">Two</h1><p>text</p>
<h1 id="c3">Three</h1><p>text</p>
<h1 id="back">Back</h1>
<p><a class="ref" href="#c1">back to one</a></p><p><a class="ref" href="#c3">back to three</a></p>
<h1 id="last">Last</h1><p><a class="own" href="#c2">own counter and a back one</a></p>
</body></html>"""


def _render_references(layouts: list[int]) -> list[str]:
    import weasyprint
    from weasyprint.layout import page as layout_page

    original = layout_page.make_page

    def counted(*args, **kwargs):
        layouts.append(args[4])  # page_number
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(layout_page, "make_page", counted)
        document = weasyprint.HTML(string=REFERENCES_HTML, base_url="file:///").render()
    return [" ".join(box.text for box in _texts(page._page_box)) for page in document.pages]


def _texts(box):
    if getattr(box, "text", None) is not None:
        yield box
    for child in getattr(box, "children", ()):
        yield from _texts(child)


def test_page_references_are_right_and_back_references_laid_out_once():
    plain: list[int] = []
    expected = _render_references(plain)
    patched: list[int] = []
    with patching.installed(target_counters.PATCH):
        assert replaced(target_counters.PATCH)
        pages = _render_references(patched)
    assert pages == expected
    assert re.search(r"three[ .]+4 ", pages[0]) and "p1 of 3" in pages[0]  # forward; a counter of its own
    assert re.search(r"back to one[ .]+2 back to three[ .]+4", pages[4]) and "p6 of 3" in pages[5]
    assert patched.count(5) == 1 < plain.count(5)  # the back references' page, once
