"""Hostile archives as a whole: their config files and symlinks fuzzed (issue: untrusted archives).

The archive folder is untrusted, its anthology.toml included (docs/security.md). Whatever the config says
and wherever its links point, the tool answers with a built book (exit 0) or a clear error (exit 2): never a
traceback, never a byte of a file outside the archive in its outputs, never a file written outside the
output and cache folders.
"""

from __future__ import annotations

import os
import random
import shutil
import tomllib
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from compile import config
from tests.conftest import SEEDS, run_cli

SECRET = "MARKER-outside-the-archive-7f3a9c"

# Values an attacker (or a careless sender) puts in an archive's anthology.toml.
HOSTILE_VALUES = {
    "theme": ["book", "briefing", "/proc/self/cwd/evil", "../../evil", "evil", "book/../../evil", "/etc", "", "BOOK",
              "book\x00", "../themes/book", "~/evil"],
    "language": ["zh-Hant", "en-US", '"><script>alert(1)</script>', "zh-Hans\n", "en" * 200, "", "x-" + "a" * 9,
                 "zh_Hans"],
    "title": ['"><script>alert(1)</script>', "]]>&amp;<!--", "标" * 5000, "\u202e\u0000bad"],
    "slug": ["../escape", "/etc/passwd", "a/b", ".", "..", "x" * 300],
    "timezone": ["America/New_York", "../../etc/passwd", "UTC+8", "Etc/GMT-14", ""],
    "sections": ["year", "none", "../x", 7],
    "formats": [["epub", "../pdf"], ["pdf"] * 50, [], "epub"],
    "include": [["/etc/*"], ["../**/*"], ["**/" * 200 + "*"]],
}
HOSTILE_TABLES = {
    "pdf": {"workers": [0, 1, 100000, -1, 2**63], "chunk_articles": [0, 10**9], "page_size": ["1e9mm x 1e9mm", "A5; x"],
            "bleed_mm": [1e9, -3.0], "mode": ["chunked", "fork"]},
    "images": {"cache_dir": ["../outside-cache", "/etc", "cache", "/", "~", "/proc/self", "/dev/shm/../../etc"],
               "concurrency": [4, 100000, 0], "max_pixels": [10**15], "max_bytes": [1000, -1, 10**15],
               "total_timeout": [1e12, -1.0], "retries": [10**6]},
    "volumes": {"max_articles": [-5, 10**12], "by": ["year", "month"]},
}


def toml_value(value) -> str:
    if isinstance(value, str):
        return '"' + value.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def hostile_config(rng: random.Random) -> str:
    """One to three keys of the tables above, each with a value picked at random (many invalid, some fine)."""
    keys = [("", k, v) for k, v in HOSTILE_VALUES.items()]
    keys += [(table, k, v) for table, entries in HOSTILE_TABLES.items() for k, v in entries.items()]
    chosen = sorted(rng.sample(keys, rng.randint(1, 3)), key=lambda item: item[0])
    lines, table = [], ""
    for where, key, values in chosen:
        if where != table:
            lines.append(f"[{where}]")
            table = where
        lines.append(f"{key} = {toml_value(rng.choice(values))}")
    if rng.random() < 0.1:
        lines.append("[overrides." + toml_value("../../etc/passwd") + "]\ntitle = 1")
    return "\n".join(lines) + "\n"


def test_hostile_configs_load_or_raise_config_error(tmp_path):
    """300 hostile configs through the loader: a Settings or a ConfigError, never anything else."""
    rng = random.Random(20261201)
    source = tmp_path / "archive"
    source.mkdir()
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(300):
        path = source / "anthology.toml"
        path.write_text(hostile_config(rng), encoding="utf-8")
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError:
            continue
        try:
            settings = config.load(path, **_source_keyword(source))
        except config.ConfigError as exc:
            assert str(exc).startswith(str(path)), exc
            outcomes["refused"] += 1
            continue
        outcomes["loaded"] += 1
        _assert_safe(settings, source)
    assert outcomes["refused"] > 50 and outcomes["loaded"] > 5, outcomes


def _source_keyword(source: Path) -> dict:
    """`source=` when config.load takes it (the cache folder is judged against the archive)."""
    import inspect

    return {"source": source} if "source" in inspect.signature(config.load).parameters else {}


def _assert_safe(settings: config.Settings, source: Path) -> None:
    from compile import theme

    assert settings.theme in theme.available(), settings.theme
    assert 0 <= settings.pdf.workers <= 2 * (os.cpu_count() or 1)
    assert 1 <= settings.images.concurrency <= 64
    if settings.images.cache_dir:
        cache = (source / Path(settings.images.cache_dir).expanduser()).resolve()
        assert not cache.is_relative_to(source.resolve()), cache
        assert cache not in {Path(p) for p in ("/", "/etc", "/proc", "/dev", "/usr", "/sys")}, cache


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:
    """A folder beside the archive with a secret no output may ever contain."""
    folder = tmp_path_factory.mktemp("outside")
    (folder / "secret.txt").write_text(f"{SECRET}\n机密文件的正文，不得出现在书里。\n", encoding="utf-8")
    (folder / "secret.md").write_text(f"# {SECRET}\n\n机密。\n", encoding="utf-8")
    return folder


def symlink_archive(root: Path, outside: Path, rng: random.Random) -> Path:
    """Two seed articles plus random links out of, around and inside the archive."""
    source = root / "archive"
    source.mkdir()
    for seed in sorted(SEEDS.glob("*.txt"))[:2]:
        shutil.copy(seed, source)
    (source / "sub").mkdir()
    links = [
        ("leak.txt", outside / "secret.txt"), ("leak.md", outside / "secret.md"), ("passwd.txt", Path("/etc/passwd")),
        ("environ.txt", Path("/proc/self/environ")), ("outdir", outside), ("sub/up", source.parent),
        ("loop", source), ("sub/self", source / "sub"), ("dangling.txt", root / "missing.txt"),
        ("zero.txt", Path("/dev/zero")), ("relative.txt", Path("../../") / outside.name / "secret.txt"),
    ]
    for name, target in rng.sample(links, rng.randint(3, len(links))):
        (source / name).symlink_to(target)
    if rng.random() < 0.5:
        os.mkfifo(source / "pipe.txt")
    return source


@pytest.mark.parametrize("seed", range(6))
def test_symlinks_and_special_files_never_leak(tmp_path, outside, seed):
    rng = random.Random(seed)
    source = symlink_archive(tmp_path, outside, rng)
    out = tmp_path / "out"
    args = ["build", str(source), "-o", str(out), "--offline", "--format", "epub,pdf"]
    result = run_cli(*args, *(["--pdfa"] if seed % 2 else []))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    _assert_no_secret(out, outside)


def _assert_no_secret(out: Path, outside: Path) -> None:
    passwd_line = Path("/etc/passwd").read_text(encoding="utf-8").splitlines()[0]
    for path in out.iterdir():
        if path.suffix == ".epub":
            with zipfile.ZipFile(path) as z:
                blob = b"".join(z.read(n) for n in z.namelist())
            assert SECRET.encode() not in blob and passwd_line.encode() not in blob, path
        elif path.suffix == ".pdf":
            reader = PdfReader(path)
            text = "".join(page.extract_text() or "" for page in reader.pages)
            assert SECRET not in text and passwd_line not in text, path
            for name, contents in (reader.attachments or {}).items():
                for data in contents:
                    assert SECRET.encode() not in data and passwd_line.encode() not in data, name
        elif path.suffix == ".json":
            assert SECRET not in path.read_text(encoding="utf-8"), path
    assert sorted(p.name for p in outside.iterdir()) == ["secret.md", "secret.txt"], "nothing written outside"


@pytest.mark.parametrize("seed", range(4))
def test_hostile_config_end_to_end(tmp_path, outside, seed):
    """A hostile anthology.toml in a hostile archive: a book or exit 2 with a message, nothing else."""
    rng = random.Random(1000 + seed)
    source = symlink_archive(tmp_path, outside, rng)
    for _ in range(20):  # a config that parses as TOML
        text = hostile_config(rng)
        try:
            tomllib.loads(text)
            break
        except tomllib.TOMLDecodeError:
            continue
    (source / "anthology.toml").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli("build", str(source), "-o", str(out), "--offline", "--format", "epub")
    assert "Traceback" not in result.stderr, text + result.stderr
    assert result.returncode in (0, 2), text + result.stderr
    if result.returncode == 2:
        assert "error:" in result.stderr, result.stderr
    if out.exists():
        _assert_no_secret(out, outside)
    for system in ("/etc/articles", "/etc/fonts/anthology", "/articles"):
        assert not Path(system).exists(), system


# ------------------------------------------------------------------ found by a review, as an attacker would

def review_archive(root: Path) -> Path:
    """One file per trick a reviewer found: each once stopped the build or fooled the terminal."""
    source = root / "archive"
    source.mkdir()
    files = {
        "ctl.md": '+++\ntitle = "控制 \\u0001 字符"\ndate = 2020-01-01\n+++\n\n正文一。\n',
        "entity.html": "<html><head><title>实体 &#1; 标题</title></head><body><article><p>正文二，足够长的一段文字。"
                       "</p></article></body></html>",
        "markup.md": "# 标题 [/x] [bold]\n\n正文三。\n\n![图](http://example.com/a[/b].png)\n",
        "esc\x1b]0;PWNED\x07\x1b[2J\x1b[31mred.md": "# 转义\n\n正文四。\n",
        "cover.md": "# 冒充封面\n\n正文五。\n",
        "titlepage.md": "# 冒充书名页\n\n正文六。\n",
        "baddate.md": "---\ntitle: 不存在的日期\ndate: 2021-02-30\n---\n\n正文七。\n",
        "deep.md": "---\ntags: " + "[" * 30000 + "]" * 30000 + "\n---\n\n正文八。\n",
    }
    for name, text in files.items():
        (source / name).write_text(text, encoding="utf-8")
    return source


def test_what_the_review_found_builds_and_prints_safely(tmp_path):
    source = review_archive(tmp_path)
    out = tmp_path / "out"
    result = run_cli("build", str(source), "-o", str(out), "--offline")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr, "terminal escapes reach the terminal"
    assert "\\x1b" in result.stderr, "the odd file name is shown, escaped"
    report = __import__("json").loads((out / "archive.report.json").read_text(encoding="utf-8"))
    statuses = {entry["source"]: entry["status"] for entry in report["inputs"]}
    assert set(statuses.values()) == {"article"}, statuses  # nothing lost, not even the bad front matter
    ids = {article["source"]: article["id"] for article in report["articles"]}
    assert ids["cover.md"] != "cover" and ids["titlepage.md"] != "titlepage"
    with zipfile.ZipFile(out / "archive.epub") as z:
        names = z.namelist()
        assert len(names) == len(set(names)), "duplicate members"
        assert "冒充封面" not in z.read("EPUB/text/cover.xhtml").decode("utf-8")
    inspected = run_cli("inspect", str(source))
    assert inspected.returncode == 0 and "Traceback" not in inspected.stderr, inspected.stderr


def test_the_archives_own_config_is_read_through_the_same_checks(tmp_path, outside):
    source = tmp_path / "archive"
    source.mkdir()
    shutil.copy(sorted(SEEDS.glob("*.txt"))[0], source)
    (source / "anthology.toml").symlink_to(Path("/proc/self/environ"))
    result = run_cli("inspect", str(source))
    assert result.returncode == 2 and "symlink outside the source folder" in result.stderr, result.stderr
    (source / "anthology.toml").unlink()
    (source / "anthology.toml").write_text("title = 'x'\n" + "#" * 1_100_000 + "\n", encoding="utf-8")
    result = run_cli("inspect", str(source))
    assert result.returncode == 2 and "too large" in result.stderr, result.stderr


def test_attachment_names_are_plain():
    from compile.build.pipeline import _attachment_name

    assert _attachment_name("x\\..\\Startup\\evil.bat.md") == "x_.._Startup_evil.bat.md"
    assert _attachment_name("c\u202egpj.md") == "c_gpj.md"
    assert _attachment_name("新闻/一.md") == "新闻/一.md"
