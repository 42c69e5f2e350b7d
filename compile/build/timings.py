"""Where a build's time goes: wall and CPU seconds per stage, for the report and `build -v`.

CPU is this process's plus that of its worker processes that have ended (the reading pool ends with its
stage; the PDF chunk pool lives on for the next build in the process, so a chunked PDF's workers are counted
in the PDF output's own details instead).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field


def cpu_seconds() -> float:
    spent = os.times()
    return spent.user + spent.system + spent.children_user + spent.children_system


@dataclass
class Stage:
    name: str
    wall_s: float
    cpu_s: float


@dataclass
class Timings:
    stages: list[Stage] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    cpu_started: float = field(default_factory=cpu_seconds)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - wall, cpu_seconds() - cpu)

    def add(self, name: str, wall: float, cpu: float) -> None:
        for stage in self.stages:  # several volumes write the same format: one line for it
            if stage.name == name:
                stage.wall_s, stage.cpu_s = round(stage.wall_s + wall, 3), round(stage.cpu_s + cpu, 3)
                return
        self.stages.append(Stage(name, round(wall, 3), round(cpu, 3)))

    def report(self) -> dict:
        return {"stages": [asdict(s) for s in self.stages],
                "total": {"wall_s": round(time.perf_counter() - self.started, 3),
                          "cpu_s": round(cpu_seconds() - self.cpu_started, 3)},
                "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()}


@contextlib.contextmanager
def measured(into: dict) -> Iterator[None]:
    """Wall and CPU seconds of the block, written into `into` (an output's details)."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    try:
        yield
    finally:
        into["timing"] = {"wall_s": round(time.perf_counter() - wall, 3), "cpu_s": round(cpu_seconds() - cpu, 3)}


def added(*spans: dict) -> dict:
    """Timings of `measured` blocks, added up (a format's images and its writing)."""
    return {name: round(sum(span[name] for span in spans), 3) for name in ("wall_s", "cpu_s")}
