"""How the writer extends WeasyPrint: named functions replaced for the duration of a block, only on the
WeasyPrint versions the replacements were written against (justify.py, page_styles.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import weasyprint


def supported(majors: set[str], version: str = weasyprint.__version__) -> bool:
    return version.split(".")[0] in majors


@contextlib.contextmanager
def installed(majors: set[str], replacements: list[tuple[object, str, object]]) -> Iterator[bool]:
    """Set each (owner, name) to its replacement inside the block, and back after; yields False (and does
    nothing) on a WeasyPrint version not in `majors`."""
    if not supported(majors):
        yield False
        return
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in replacements]
    for owner, name, replacement in replacements:
        setattr(owner, name, replacement)
    try:
        yield True
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
