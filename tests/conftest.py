"""Shared fixtures: the seeds built once per session, settings with overrides, a loopback HTTP server."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from compile import config

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
FIXTURES = Path(__file__).parent / "fixtures"
# The 36 real articles we develop against, read in place (never copied here); the tests skip without them.
CORPUS_DEV = Path(os.environ.get("ANTHOLOGY_CORPUS_DEV") or ROOT.parent / "shared" / "corpus-dev")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Never touch the user's caches or their key."""
    os.environ["ANTHOLOGY_CACHE"] = str(tmp_path_factory.mktemp("image-cache"))
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))  # the cache key (compile/cachekey.py)


def make_settings(**overrides) -> config.Settings:
    settings = config.Settings()
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real entry point, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "compile", *args],
        cwd=cwd or ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def seeds_build(tmp_path_factory) -> Path:
    """`anthology build seeds -o OUT --offline`, once per session; returns OUT."""
    out = tmp_path_factory.mktemp("dist")
    result = run_cli("build", str(SEEDS), "-o", str(out), "--offline")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def seeds_report(seeds_build) -> dict:
    return json.loads((seeds_build / "seeds.report.json").read_text(encoding="utf-8"))


@pytest.fixture
def seeds_copy(tmp_path) -> Path:
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}
    hits: list = []

    def do_GET(self):  # noqa: N802 - the stdlib's name
        self.hits.append(self.path)
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_response(404)
            self.end_headers()
            return
        route(self)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """A real HTTP server on 127.0.0.1: tests add routes as callables taking the request handler."""
    handler = type("Handler", (_Handler,), {"routes": {}, "hits": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.routes, server.hits = handler.routes, handler.hits
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()
