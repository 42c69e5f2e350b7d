"""Where a build's time goes: report.json `timings` (wall and CPU seconds per stage) and `build -v`."""

from __future__ import annotations

import json
import time

from compile.build import timings
from tests.conftest import SEEDS, run_cli


def test_a_stage_measures_its_block():
    clock = timings.Timings()
    with clock.stage("busy"):
        end = time.process_time() + 0.2
        while time.process_time() < end:  # CPU-bound: counted as CPU
            pass
    with clock.stage("idle"):
        time.sleep(0.2)  # waiting: wall, not CPU
    busy, idle = clock.stages
    assert busy.cpu_s >= 0.15 and busy.wall_s >= 0.15
    assert idle.wall_s >= 0.15 and idle.cpu_s < 0.1
    clock.add("idle", 1.0, 0.5)  # a second volume writing the same format: one line, added up
    assert [s.name for s in clock.stages] == ["busy", "idle"] and clock.stages[1].wall_s >= 1.15


def test_report_and_verbose_output_show_the_stages(tmp_path):
    out = tmp_path / "out"
    result = run_cli("-v", "build", str(SEEDS), "-o", str(out), "--offline")
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "seeds.report.json").read_text(encoding="utf-8"))
    stages = {s["name"]: s for s in report["timings"]["stages"]}
    assert {"read", "images", "typeset", "write", "write epub", "write pdf"} <= set(stages)
    total = report["timings"]["total"]
    top = sum(stages[name]["wall_s"] for name in ("read", "images", "typeset", "write"))
    assert 0 < top <= total["wall_s"] + 0.01
    # Side by side (compile/build/pipeline.py write_outputs): each format within `write`, not their sum.
    assert max(stages["write epub"]["wall_s"], stages["write pdf"]["wall_s"]) <= stages["write"]["wall_s"] + 0.01
    assert stages["write pdf"]["cpu_s"] > 0 and report["timings"]["cores"] >= 1
    assert "time:" in result.stderr and "write pdf" in result.stderr
