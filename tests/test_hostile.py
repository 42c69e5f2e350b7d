"""Hostile and broken input: contained, reported, nothing lost (issue: hostile input)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from compile import config, readers
from compile.build import pipeline
from compile.writers.pdf.render import LockedFetcher
from tests.conftest import ROOT, SEEDS, run_cli

HOSTILE_SNIPPETS = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">点我</a>',
    '<a href="file:///etc/passwd">本地文件</a>',
    '<iframe src="{server}/iframe"></iframe>',
    '<form action="{server}/form"><input name="q"></form>',
    '<style>@import url("{server}/import.css"); body {{ background: url("{server}/bg.png") }}</style>',
    '<p style="background-image: url(\'{server}/style.png\')">带样式的段落文字。</p>',
    '<svg xmlns="http://www.w3.org/2000/svg"><image href="{server}/svg.png"/></svg>',
    '<link rel="stylesheet" href="{server}/link.css">',
    '<object data="{server}/object"></object><embed src="{server}/embed">',
    '<meta http-equiv="refresh" content="0; url={server}/refresh">',
    '<base href="{server}/base/">',
    '<img src="{server}/loopback.png">',
    '<img srcset="{server}/srcset.png 2x">',
    '<img src="http://169.254.169.254/latest/meta-data/">',
    '<img src="file:///etc/passwd">',
    '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">',
    '<share-button v-on:open="x"></share-button>',
    '<math><mi xlink:href="{server}/math">x</mi></math>',
]


def hostile_article(server: str) -> str:
    body = "".join(s.format(server=server) for s in HOSTILE_SNIPPETS)
    return (
        "<!--1621698305000-->\n[恶意文章测试](https://example.org/news/20210522-hostile)\n------\n\n"
        f"<div>22/05/2021 - 17:24</div><p>正文第一段，应当完整保留。</p>{body}<p>正文最后一段，也应保留。"
        # Site-relative links: left relative they would become file: links in the PDF.
        '<a href="/local/page.html">站内</a><a href="../../etc/passwd">上级</a></p>\n'
    )


@pytest.fixture
def hostile_build(tmp_path, http_server):
    source = tmp_path / "src"
    source.mkdir()
    (source / "hostile.txt").write_text(hostile_article(http_server.url), encoding="utf-8")
    shutil.copy(SEEDS / "002_fabee16c874f7378.txt", source)
    out = tmp_path / "out"
    result = run_cli("build", str(source), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out, http_server


def test_nothing_hostile_reaches_the_epub(hostile_build):
    out, server = hostile_build
    with zipfile.ZipFile(out / "src.epub") as z:
        xhtml = "".join(z.read(n).decode() for n in z.namelist() if n.endswith((".xhtml", ".opf", ".ncx", ".css")))
    text = re.sub(r"<[^>]*>", "", xhtml)  # typesetting adds spans and break opportunities inside the text
    assert "正文第一段，应当完整保留。" in text and "正文最后一段，也应保留。" in text
    for bad in ("<script", "onerror", "javascript:", "file:", "<iframe", "<form", "<input", "@import",
                "<svg", "<object", "<embed", "http-equiv", "<base", "share-button", "data:image/svg", "<math"):
        assert bad not in xhtml, bad
    for host in ("169.254", "127.0.0.1"):  # named in placeholders ("where the image was"), never referenced
        assert not re.search(rf'="[^"]*{re.escape(host)}', xhtml), host
    assert not re.search(r'\s(src|href|xlink:href)="https?://', _resources_only(xhtml)), "remote resource"
    for target in re.findall(r"url\(\s*['\"]?([^'\")]*)", xhtml):  # only our own fonts, by relative path
        assert target.startswith(("../fonts/", "fonts/")), target


def _resources_only(xhtml: str) -> str:
    """Drop <a href> (links are fine: they are not fetched) so that only resource references remain."""
    return re.sub(r"<a\s[^>]*>", "", xhtml)


def test_nothing_hostile_reaches_the_pdf(hostile_build):
    out, _ = hostile_build
    reader = PdfReader(out / "src.pdf")
    text = "".join(page.extract_text() for page in reader.pages)
    assert "正文第一段，应当完整保留。" in text
    assert "alert(1)" not in text
    raw = (out / "src.pdf").read_bytes()
    for bad in (b"/JavaScript", b"/Launch", b"/JS ", b"file:", b"javascript:"):
        assert bad not in raw, bad
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A") or {}
            uri = str(action.get("/URI", ""))
            assert not uri or uri.startswith(("https://", "http://")) and "127.0.0.1" not in uri, uri


def test_loopback_server_got_no_request_and_report_says_why(hostile_build):
    out, server = hostile_build
    assert server.hits == [], f"the tool fetched {server.hits}"
    report = json.loads((out / "src.report.json").read_text(encoding="utf-8"))
    refused = [i for i in report["images"] if i["article"] == "hostile"]
    assert refused, "hostile image references are listed"
    for image in refused:
        assert image["status"] == "failed"
        assert "refused" in image["reason"] or "resolve" in image["reason"], image


def test_locked_fetcher_refuses_everything_but_our_files(tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "ok.css").write_text("p{}")
    fetcher = LockedFetcher([allowed])
    assert fetcher.fetch((allowed / "ok.css").as_uri()).read() == b"p{}"
    for url in ("file:///etc/passwd", (allowed / ".." / "secret").resolve().as_uri(),
                "http://169.254.169.254/latest/meta-data/", "https://example.org/x.png", "data:text/css,p{}",
                (allowed / "ok.css").as_uri().replace("/allowed/", "/allowed/../allowed/../")):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 6


def test_locked_fetcher_serves_files_whose_folders_need_escaping(tmp_path):
    """A cache or theme under `a+b`, `My Books` or `新闻` is written into the HTML percent-encoded (as_uri):
    the fetcher decodes the URL before it checks where the file is. Found building a real site whose cache
    folder had a `+` in its name: every image of the PDF was refused."""
    allowed = tmp_path / "servicemesher+website" / "My Books" / "新闻 100%"
    allowed.mkdir(parents=True)
    (allowed / "a b+c.css").write_text("p{}")
    fetcher = LockedFetcher([allowed])
    url = (allowed / "a b+c.css").as_uri()
    assert "%2B" in url and "%20" in url and "%E6" in url
    assert fetcher.fetch(url).read() == b"p{}" and fetcher.refused == []
    (tmp_path / "secret").write_text("no")
    # The reviewer's bypass: urlsplit cuts a fragment at the first `#`, urllib (which opens it) at the last.
    (allowed / "x#").mkdir()
    loop = allowed / "loop"
    loop.symlink_to(loop)
    for escaped in (url.replace("a%20b%2Bc.css", "%2E%2E/%2E%2E/%2E%2E/%2E%2E/secret"), url + "%00",
                    url.replace("file:///", "file://elsewhere/"), allowed.as_uri() + "/x#/../../../../secret#",
                    loop.as_uri(), "file://[/etc/passwd"):
        with pytest.raises(ValueError):
            fetcher.fetch(escaped)
    assert len(fetcher.refused) == 6


@pytest.mark.parametrize(
    "name,data,reason",
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"  \n\n\t\n", "empty"),
        ("binary.txt", bytes(range(256)) * 40, "binary"),
    ],
)
def test_unreadable_files_are_reported_not_fatal(tmp_path, name, data, reason):
    source = tmp_path / "src"
    shutil.copytree(SEEDS, source)
    (source / name).write_bytes(data)
    result = run_cli("inspect", str(source), "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 5
    assert name in result.stderr and reason in result.stderr


def broken_inputs() -> dict[str, bytes]:
    seed = (SEEDS / "000_a1d4f1b7f99dda5e.txt").read_bytes()
    return {
        "invalid-utf8.txt": seed[:3000] + b"\xff\xfe\xfa" + seed[3000:],
        "truncated.txt": (SEEDS / "001_5d74d41885d7a365.txt").read_bytes()[:3001],  # cut inside a character
        "unclosed.html": b"<html><body><article><h1>\xe6\x9c\xaa\xe9\x97\xad\xe5\x90\x88</h1><p>\xe6\xae\xb5<div><p>",
        "no-closing-fence.md": "---\ntitle: 没有结尾\ndate: 2020-01-01\n\n正文内容在这里。\n".encode(),
        "huge.txt": "".join(f"<p>第{i}段：" + "很长的文章。" * 600 + "</p>\n" for i in range(600)).encode(),  # 6.5 MB
        "gb18030.txt": "# 简体标题\n\n**新华社北京2020年1月2日电** 正文。\n".encode("gb18030"),
        "dup-id.md": "# 重复编号一\n\n正文一，2020年1月3日。\n".encode(),
        "dup-id.txt": "重复编号二\n\n正文二，2020年1月4日。\n".encode(),
    }


def test_broken_inputs_each_become_an_article_or_a_reason(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name, data in broken_inputs().items():
        (source / name).write_bytes(data)
    settings = config.Settings()
    prepared = pipeline.prepare(source, settings)
    statuses = {i["source"]: i for i in prepared.inputs}
    assert set(statuses) == set(broken_inputs()), "every input file is accounted for"
    for entry in statuses.values():
        assert entry["status"] in ("article", "failed"), entry
        if entry["status"] == "failed":
            assert entry["reason"], entry
    ids = [a.id for a in prepared.anthology.articles]
    assert len(ids) == len(set(ids)), "ids are unique"
    for damaged in ("invalid-utf8.txt", "truncated.txt"):
        assert statuses[damaged]["status"] == "article", "a few bad bytes do not cost the whole article"
    damaged = next(a for a in prepared.anthology.articles if a.source == "invalid-utf8.txt")
    assert any("U+FFFD" in w for w in damaged.warnings) and "韩美领导人白宫峰会" in damaged.title
    fence = next(a for a in prepared.anthology.articles if a.source == "no-closing-fence.md")
    assert "正文内容在这里" in fence.body and any("closing" in w for w in fence.warnings)


# ------------------------------------------------------------------ fuzz: read -> date -> clean -> EPUB

MUTATIONS = ("truncate", "splice", "bytes", "hostile", "encoding", "duplicate", "strip")


def mutate(data: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(MUTATIONS)
        if not data:
            return data
        at = rng.randrange(len(data))
        if kind == "truncate":
            data = data[:at]
        elif kind == "splice":
            other = rng.randrange(len(data))
            data = data[:at] + data[other:other + rng.randint(1, 400)] + data[at:]
        elif kind == "bytes":
            data = data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))) + data[at:]
        elif kind == "hostile":
            snippet = rng.choice(HOSTILE_SNIPPETS).format(server="http://127.0.0.1:9").encode()
            data = data[:at] + snippet + data[at:]
        elif kind == "encoding":
            text = data.decode("utf-8", errors="ignore")
            data = text.encode(rng.choice(["gb18030", "utf-16", "big5", "utf-8-sig"]), errors="ignore")
        elif kind == "duplicate":
            data = data[:at] + data[at:][:2000] * 2
        elif kind == "strip":
            data = re.sub(rb"</?[a-z]+>", b"", data, count=rng.randint(1, 20))
    return data


def fuzz(count: int, tmp_path: Path) -> None:
    seeds = [p.read_bytes() for p in sorted(SEEDS.glob("*.txt"))]
    rng = random.Random(20261122)
    settings = config.Settings(formats=["epub"], sections="year")
    settings.images.enabled = False
    batch = 50
    for start in range(0, count, batch):
        source = tmp_path / f"fuzz-{start}"
        source.mkdir()
        for i in range(start, min(start + batch, count)):
            (source / f"case-{i:05d}.txt").write_bytes(mutate(rng.choice(seeds), rng))
        result = pipeline.build(source, tmp_path / "out", settings)  # must not raise
        inputs = {i["source"]: i["status"] for i in result.report["inputs"]}
        assert len(inputs) == min(batch, count - start), "every fuzzed file is accounted for"
        for entry in result.report["inputs"]:
            assert entry["status"] in ("article", "failed", "duplicate"), entry
            assert entry["status"] == "article" or entry.get("reason"), entry
        articles = {a["source"] for a in result.report["articles"]}
        assert articles == {s for s, status in inputs.items() if status == "article"}
        if articles:
            with zipfile.ZipFile(tmp_path / "out" / f"{source.name}.epub") as z:
                content = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".xhtml"))
            assert "<script" not in content and "javascript:" not in content and "onerror" not in content
        shutil.rmtree(source)


def test_fuzz_fast_subset(tmp_path):
    fuzz(150, tmp_path)


@pytest.mark.slow
def test_fuzz_full(tmp_path):
    fuzz(1000, tmp_path)


# ------------------------------------------------------------------ kill -9 during the PDF

def test_kill_during_pdf_leaves_previous_outputs_intact(tmp_path):
    source = tmp_path / "big"
    subprocess.run([sys.executable, str(ROOT / "bench" / "corpus.py"), str(source), "--count", "200"], check=True)
    out = tmp_path / "out"
    first = run_cli("build", str(source), "-o", str(out), "--offline", "--format", "epub,pdf")
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert {"bench.epub", "bench.pdf", "bench.report.json"} <= set(before)
    (source / "00001_jekyll.txt").write_text((source / "00001_jekyll.txt").read_text() + "<p>新增段落。</p>")
    process = subprocess.Popen([sys.executable, "-m", "compile", "build", str(source), "-o", str(out), "--offline"],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        staged = ".anthology-staging.*"
        if list(out.glob(f"{staged}/.bench.pdf.*.part")) or list(out.glob(f"{staged}/bench.epub")):
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    for name in ("bench.epub", "bench.pdf", "bench.report.json"):  # staged: none is published half-way
        assert (out / name).read_bytes() == before[name], f"{name} was changed by the killed build"
    reader = PdfReader(out / "bench.pdf")
    assert len(reader.pages) > 10
    again = run_cli("build", str(source), "-o", str(out), "--offline")
    assert again.returncode == 0, again.stderr
    assert not list(out.glob(".*.part")), "stale temporary files are cleaned up"
    assert not list(out.glob(".anthology-staging.*")), "the killed build's staging folder is removed"


def test_readers_decode_never_raises_anything_but_unreadable():
    rng = random.Random(7)
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        with contextlib.suppress(readers.UnreadableFile):
            readers.decode(data)


def test_outputs_are_written_with_the_users_umask(seeds_build):
    """Atomic writes go through mkstemp (0600); the renamed output must be as readable as any file the user makes."""
    umask = os.umask(0)
    os.umask(umask)
    for path in seeds_build.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path.name
