"""WeasyPrint's import, without running gcc and ld to find its C libraries.

WeasyPrint loads each of its C libraries (GObject, Pango, HarfBuzz, fontconfig ...) by trying up to six names,
Windows' and macOS' among them, through cffi, which asks `ctypes.util.find_library` for each. On Linux that
function reads the dynamic linker's cache (`ldconfig -p`), and for a name not there also runs gcc and then ld:
~12 ms a name, ~0.2 s of every import here (a rebuild's is ~3 s). While WeasyPrint is imported, a name not in
the linker's cache is not found: WeasyPrint goes on to the library's file name (libpango-1.0.so.0), which the
loader finds itself, LD_LIBRARY_PATH included. Should WeasyPrint fail to load that way, it is imported again
the standard way.

Importing this module imports WeasyPrint so: a module that uses WeasyPrint imports it first (`# isort: split`
after it). The package compile.writers.pdf does not, so that what does not render with WeasyPrint (the book's
print HTML, Chromium's print of a vertical book, the chunked PDF's plan) does not pay its ~0.7 s import.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def linker_cache_only() -> Iterator[None]:
    """`ctypes.util.find_library` as far as the linker's cache, inside (Linux: its first step)."""
    first_step = getattr(ctypes.util, "_findSoname_ldconfig", None)
    if not sys.platform.startswith("linux") or first_step is None:
        yield
        return
    standard = ctypes.util.find_library
    ctypes.util.find_library = first_step
    try:
        yield
    finally:
        ctypes.util.find_library = standard


def import_weasyprint() -> None:
    """Import WeasyPrint once per process, its libraries looked up in the linker's cache first."""
    if "weasyprint.text.ffi" in sys.modules:
        return
    try:
        with linker_cache_only(), contextlib.redirect_stdout(None):  # WeasyPrint prints why a library failed
            import weasyprint  # noqa: F401
    except OSError:
        import weasyprint  # noqa: F401


import_weasyprint()
