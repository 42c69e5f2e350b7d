"""WeasyPrint's import with the linker's cache only (compile/writers/pdf/loading.py)."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
import textwrap

from compile.writers.pdf import loading

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_the_standard_search_is_back_after_the_import():
    standard = ctypes.util.find_library
    with loading.linker_cache_only():
        if sys.platform.startswith("linux"):
            assert ctypes.util.find_library is not standard
    assert ctypes.util.find_library is standard
    done = _python("""
        import ctypes.util
        standard = ctypes.util.find_library
        import compile.writers.pdf
        from weasyprint.text.ffi import pango
        assert ctypes.util.find_library is standard and pango.pango_version() > 0
    """)
    assert done.returncode == 0, done.stderr


def test_libraries_only_the_standard_search_finds_are_loaded_the_standard_way():
    """A machine whose libraries only gcc or ld find (not the linker's cache, not the loader): the import
    fails the fast way, quietly, and succeeds the standard way."""
    done = _python("""
        import ctypes.util, cffi
        standard, dlopen = ctypes.util.find_library, cffi.FFI.dlopen
        def only_standard(self, name, *args):
            if ctypes.util.find_library is not standard:
                raise OSError(f"cannot load library {name!r}")
            return dlopen(self, name, *args)
        cffi.FFI.dlopen = only_standard
        import compile.writers.pdf
        import weasyprint
        print("imported", weasyprint.__version__)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("imported") and "cannot load" not in done.stdout
