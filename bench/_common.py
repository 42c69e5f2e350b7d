"""What the benchmarks share: a generated corpus prepared into a Book, with an isolated cache."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402

from compile import config, theme  # noqa: E402
from compile.build import pipeline
from compile.transforms import typeset
from compile.writers.context import Book  # noqa: E402


def workspace(count: int, seed: int = 1) -> Path:
    work = Path(tempfile.mkdtemp(prefix=f"anthology-bench-{count}-"))
    os.environ["ANTHOLOGY_CACHE"] = str(work / "cache")
    corpus.generate(work / "src", count, seed)
    return work


def book(source: Path, **overrides) -> Book:
    settings = config.load(source / "anthology.toml", offline=True)
    for key, value in overrides.items():
        setattr(settings, key, value)
    prepared = pipeline.prepare(source, settings)
    chosen = theme.load(settings.theme)
    typeset.typeset(prepared.anthology, settings.script or chosen.script)  # as `build` does
    return Book(prepared.anthology, chosen, settings, "bench")


def cores() -> int:
    return len(os.sched_getaffinity(0))
