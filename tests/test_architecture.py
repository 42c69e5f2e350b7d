"""The layout's rules (docs/architecture.md), checked on the source: no import cycles (function-level imports
included: they hid three), transforms reach no network code, and each module of a former cycle imports alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "compile"
# httpx is allowed for its pure URL parser (httpx.URL, images/markup.py); requests go through httpcore, in
# images/fetch.py only.
NETWORK = {"httpcore", "socket", "ssl", "urllib.request", "http.client", "compile.images.fetch"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """Every module `name` imports, at any depth of its code: ours by full name, others by the name given."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:  # `from compile.x import y`: the module compile.x.y if there is one
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return found


GRAPH = {name: {m for m in imports_of(name) if m in MODULES and m != name} for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(GRAPH.get(node, ()))
    return seen


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert "compile.build.pipeline" in GRAPH and "compile.transforms.clean" in GRAPH["compile.build.pipeline"]


def test_no_import_cycles():
    assert cycles(GRAPH) == []


@pytest.mark.parametrize("transform", sorted(m for m in MODULES if m.startswith("compile.transforms.")))
def test_transforms_reach_no_network_code(transform):
    reached = reachable(transform)
    network = {f"{m}: {n}" for m in reached for n in imports_of(m) if n in NETWORK or n.split(".")[0] in NETWORK}
    assert not network, f"{transform} reaches network code through {sorted(network)}"


@pytest.mark.parametrize("writer", sorted(m for m in MODULES if m.startswith("compile.writers.")))
def test_writers_reach_neither_the_build_nor_the_network(writer):
    """Writers get the book and its resources; fetching and orchestration stay with the build."""
    reached = reachable(writer)
    assert not {m for m in reached if m.startswith("compile.build") or m == "compile.images.fetch"}


# Modules of the three former cycles (pdf <-> pdf_chunks; config <-> prepress <-> context <-> theme; readers <->
# frontmatter): each must import alone, first, in a fresh interpreter.
FORMER_CYCLES = [
    "compile.writers.pdf.writer", "compile.writers.pdf.render", "compile.writers.pdf.chunked.build",
    "compile.config", "compile.writers.pdf.prepress", "compile.writers.context", "compile.theme",
    "compile.readers", "compile.readers.frontmatter",
    "compile.writers.pdf.document", "compile.writers.pdf.single", "compile.writers.pdf.chunked.worker",
]


@pytest.mark.parametrize("name", FORMER_CYCLES)
def test_module_imports_alone(name):
    result = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_what_does_not_render_with_weasyprint_does_not_load_it():
    """WeasyPrint takes ~0.7 s to import, fontTools' subsetter ~0.2 s: the CLI, the EPUB writer, Chromium's print
    of a vertical book and the chunked PDF's planning (chunked/build.py, which loads WeasyPrint only to render)
    import neither."""
    code = ("import sys, compile.cli, compile.writers.registry, compile.writers.epub, compile.writers.pdf.writer, "
            "compile.writers.pdf.chromium, compile.writers.pdf.chunked.build, compile.writers.pdf.document; "
            "print(sorted(m for m in ('weasyprint', 'fontTools.subset') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_type_checker_is_clean():
    """mypy over the package, configured in pyproject.toml ([tool.mypy]): the types agree with the code."""
    pytest.importorskip("mypy")
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
