"""What the benchmarks share: a generated corpus, the whole command timed as a user runs it, the stages it reports.

A figure is the whole command, cold: `anthology build` in a new process with an empty cache (interpreter
start-up, imports, reading, writing and publishing included), timed from outside beside the naive
alternative run the same way, in turn, so that each pair sees the same machine.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402


def workspace(count: int, seed: int = 1) -> Path:
    """A new temporary folder with the generated corpus in src/ (and its cache, for the in-process benchmarks)."""
    work = Path(tempfile.mkdtemp(prefix=f"anthology-bench-{count}-"))
    os.environ["ANTHOLOGY_CACHE"] = str(work / "cache")
    corpus.generate(work / "src", count, seed)
    return work


def book(source: Path, **overrides):
    """The corpus read, cleaned and typeset in this process, as `build` does, for the writer-only figures."""
    from compile import config, theme
    from compile.build import pipeline
    from compile.transforms import typeset
    from compile.writers.context import Book

    settings = config.load(source / "anthology.toml", offline=True)
    for key, value in overrides.items():
        setattr(settings, key, value)
    prepared = pipeline.prepare(source, settings)
    chosen = theme.load(settings.theme)
    typeset.typeset(prepared.anthology, settings.script or chosen.script)
    return Book(prepared.anthology, chosen, settings, "bench")


def cores() -> int:
    return len(os.sched_getaffinity(0))


def program(name: str) -> str:
    """A console script of this virtual environment (anthology, weasyprint), else the one on PATH."""
    for folder in (Path(sys.executable).parent, ROOT / ".venv" / "bin"):
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if not found:
        sys.exit(f"{name} not found: install it, or run with the project's .venv/bin/python")
    return found


def fresh_env(base: Path) -> dict[str, str]:
    """The environment of a first run: an empty anthology cache and an empty XDG cache (fonts, WeasyPrint)."""
    if base.exists():
        shutil.rmtree(base)
    (base / "anthology").mkdir(parents=True)
    (base / "xdg").mkdir()
    return {**os.environ, "ANTHOLOGY_CACHE": str(base / "anthology"), "XDG_CACHE_HOME": str(base / "xdg")}


def build_command(source: Path, out: Path, formats: str) -> list[str]:
    return [program("anthology"), "build", str(source), "-o", str(out), "--format", formats, "--offline"]


@dataclass(frozen=True)
class Run:
    """One command, measured from outside. `peak_mib` is the largest resident set of the command or of any of
    its worker processes it waited for (the kernel's ru_maxrss of wait4): the biggest single process, not a sum."""

    seconds: float
    cpu_seconds: float  # user + system, the command's and its waited-for workers'
    peak_mib: float


def timed(command: list[str], env: dict[str, str], log: Path) -> Run:
    """Run `command` to its end, its output into `log`; exit with the log's tail if it fails."""
    with log.open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        sys.exit(f"failed ({process.returncode}): {' '.join(command)}\n{tail}")
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def report(out: Path) -> dict:
    """The build's report.json (the one in `out`)."""
    found = sorted(out.glob("*.report.json"))
    if len(found) != 1:
        sys.exit(f"expected one report in {out}, found {len(found)}")
    return json.loads(found[0].read_text(encoding="utf-8"))


def stage_lines(data: dict, run: Run) -> list[str]:
    """The tool's own breakdown (report.json `timings`) under the whole command as measured from outside."""
    timings = data.get("timings")
    if not timings:
        return ["  (no timings in the report)"]
    total = timings["total"]
    lines = [f"  {'stage':<18}{'wall s':>8}{'CPU s':>8}"]
    lines += [f"  {s['name']:<18}{s['wall_s']:8.2f}{s['cpu_s']:8.2f}" for s in timings["stages"]]
    lines.append(f"  {'build, in-process':<18}{total['wall_s']:8.2f}{total['cpu_s']:8.2f}")
    lines.append(f"  {'outside it':<18}{run.seconds - total['wall_s']:8.2f}"
                 f"{'':>8}  (interpreter start-up, imports, publishing, exit)")
    lines.append(f"  {'whole command':<18}{run.seconds:8.2f}{run.cpu_seconds:8.2f}  (CPU with its waited-for workers)")
    lines.append("  (`write epub`, `write pdf` run side by side inside `write`; a stage's CPU leaves out workers still "
                 "alive)")
    return lines


def pages(pdf: Path) -> int | None:
    """A PDF's page count, from pdfinfo (poppler) when installed."""
    if not shutil.which("pdfinfo"):
        return None
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=False).stdout
    return next((int(line.split()[1]) for line in out.splitlines() if line.startswith("Pages:")), None)


def paired_summary(pairs: list[tuple[Run, Run]], naive: str, goal: float) -> list[str]:
    """Per run: tool, naive, ratio; then the median of the pairs' ratios against the goal, and the peaks."""
    lines = [f"run {i + 1}: tool {tool.seconds:6.1f} s, {naive} {other.seconds:6.1f} s, "
             f"ratio {tool.seconds / other.seconds:.2f}" for i, (tool, other) in enumerate(pairs)]
    ratio = statistics.median(tool.seconds / other.seconds for tool, other in pairs)
    lines.append(f"ratio tool ÷ {naive}, whole command, cold: {ratio:.2f} (median of {len(pairs)}; goal <= {goal})")
    lines.append(f"peak memory (largest single process): tool {max(t.peak_mib for t, _ in pairs):.0f} MiB, "
                 f"{naive} {max(o.peak_mib for _, o in pairs):.0f} MiB")
    return lines
