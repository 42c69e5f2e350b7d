"""An archive's anthology.toml is untrusted (issue 18, docs/security.md): no code runs through a theme, config
strings cannot inject markup, numbers are bounded, and the cache never lands in the archive or a system folder.

What the user types on the command line is trusted: `--theme PATH` may name any theme folder. Its templates still
render in Jinja's sandbox, so a template cannot reach Python internals: a template that plainly tries is refused
when the theme loads (exit 2, before the build); one that hides the attempt from that check is stopped by the
sandbox while rendering, and the build stops with a `ThemeError` naming the theme (no output is written).
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from compile import config, theme
from compile.writers.context import environment
from tests.checks import epubcheck_messages
from tests.conftest import SEEDS, run_cli

# A template that would run a shell command through jinja2's globals, were it not sandboxed.
PLAIN_PAYLOAD = "{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}"
# The same, with no underscore in the template text: only the sandbox can stop it.
HIDDEN_PAYLOAD = ("{{% set u = '%c%c'|format(95, 95) %}}"
                  "{{{{ (cycler|attr(u ~ 'init' ~ u)|attr(u ~ 'globals' ~ u))['os'].system('touch {marker}') }}}}")


def archive(root: Path, toml: str = "", articles: int = 2) -> Path:
    """A small archive: the first seed articles and an anthology.toml."""
    source = root / "archive"
    source.mkdir()
    for seed in sorted(SEEDS.glob("*.txt"))[:articles]:
        shutil.copy(seed, source)
    (source / "anthology.toml").write_text(toml, encoding="utf-8")
    return source


def evil_theme(folder: Path, payload: str, marker: Path) -> Path:
    """A copy of the book theme whose article template carries `payload`."""
    shutil.copytree(theme.themes_root() / "book", folder)
    template = folder / "templates" / "article.html.j2"
    template.write_text(payload.format(marker=marker) + template.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def write_config(tmp_path: Path, toml: str) -> Path:
    source = tmp_path / "archive"
    source.mkdir(exist_ok=True)
    path = source / "anthology.toml"
    path.write_text(toml, encoding="utf-8")
    return path


# --- Themes ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", ["absolute", "dotdot", "proc-cwd", "relative-name"])
def test_config_cannot_load_a_theme_folder(tmp_path, spelling):
    marker = tmp_path / "pwned"
    source = archive(tmp_path)
    evil = evil_theme(source / "evil", PLAIN_PAYLOAD, marker)
    value = {"absolute": str(evil), "dotdot": os.path.relpath(evil, theme.themes_root()),
             "proc-cwd": "/proc/self/cwd/archive/evil", "relative-name": "archive/evil"}[spelling]
    (source / "anthology.toml").write_text(f'theme = "{value}"\n', encoding="utf-8")
    result = run_cli("build", str(source), "-o", str(tmp_path / "out"), "--offline", "--format", "epub",
                     cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "key 'theme'" in result.stderr and "not an installed theme" in result.stderr
    assert "anthology.toml:1" in result.stderr
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_theme_extends_only_installed_themes(tmp_path):
    folder = shutil.copytree(theme.themes_root() / "briefing", tmp_path / "mine")
    manifest = folder / "theme.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('extends = "book"', 'extends = "../../x/evil"'),
                        encoding="utf-8")
    with pytest.raises(config.ConfigError, match="key 'extends'.*not an installed theme"):
        theme.load(str(folder))


def test_cli_theme_folder_with_plain_payload_is_refused_before_the_build(tmp_path):
    marker = tmp_path / "pwned"
    source = archive(tmp_path)
    evil = evil_theme(tmp_path / "evil", PLAIN_PAYLOAD, marker)
    result = run_cli("build", str(source), "-o", str(tmp_path / "out"), "--offline", "--format", "epub",
                     "--theme", str(evil))
    assert result.returncode == 2, result.stderr
    assert "article.html.j2:1" in result.stderr and "Python internals" in result.stderr
    assert not marker.exists()


def test_sandbox_stops_a_hidden_payload(tmp_path):
    """The load-time check cannot see this one; the sandbox refuses the attribute while rendering."""
    marker = tmp_path / "pwned"
    evil = theme.load(str(evil_theme(tmp_path / "evil", HIDDEN_PAYLOAD, marker)))
    env = environment(evil, dt_zone())
    with pytest.raises(theme.ThemeError, match=r"theme 'evil'.*article\.html\.j2:1"):
        env.get_template("article.html.j2").render(article=None, body="", book=None)
    assert not marker.exists()
    hidden_dunder = "{% set u = '%c'|format(95) %}{{ cycler|attr(u*2 ~ 'init' ~ u*2) }}"
    (evil.templates / "article.html.j2").write_text(hidden_dunder, encoding="utf-8")
    with pytest.raises(theme.ThemeError, match="stopped by the sandbox.*unsafe"):
        environment(evil, dt_zone()).get_template("article.html.j2").render()


def test_the_sandbox_answers_for_the_books_own_values_as_jinja_does():
    """The short way (compile/writers/context.py ThemeSandbox.is_safe_attribute) gives Jinja's own answers."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from compile import model

    jinja = ImmutableSandboxedEnvironment()
    env = environment(theme.load("book"), dt_zone())
    listed = type("Listed", (list,), {"__module__": "compile.model"})  # a container of ours: its mutators refused
    values = [model.Article(id="a", source="a.md", title="t", body=""), model.Image(url="https://x/1.png"),
              model.Section(title="s", key="s", articles=[]), listed(), env.theme]
    names = ["title", "body", "url", "append", "pop", "clear", "mro", "_private", "__class__", "__init__"]
    for value in values:
        for name in names:
            found = getattr(value, name, None)
            assert env.is_safe_attribute(value, name, found) == jinja.is_safe_attribute(value, name, found), name


def test_cli_theme_folder_with_hidden_payload_stops_the_build(tmp_path):
    marker = tmp_path / "pwned"
    source = archive(tmp_path)
    evil = evil_theme(tmp_path / "evil", HIDDEN_PAYLOAD, marker)
    out = tmp_path / "out"
    result = run_cli("build", str(source), "-o", str(out), "--offline", "--format", "epub", "--theme", str(evil))
    # Exit 2 once cli.py maps a ConfigError raised by the build (ThemeError is one) to its usage exit code.
    assert result.returncode != 0
    assert "theme 'evil'" in result.stderr and "article.html.j2:1" in result.stderr
    assert not marker.exists()
    assert not list(out.glob("*.epub"))


def test_cli_theme_folder_builds(tmp_path):
    """A theme folder the user names on the command line is still welcome."""
    source = archive(tmp_path)
    mine = shutil.copytree(theme.themes_root() / "book", tmp_path / "mine")
    title = mine / "templates" / "titlepage.html.j2"
    marked = title.read_text(encoding="utf-8").replace('class="book-count">', 'class="book-count">MY-THEME ')
    title.write_text(marked, encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli("build", str(source), "-o", str(out), "--offline", "--format", "epub", "--theme", str(mine))
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out / "archive.epub") as epub:
        assert "MY-THEME" in epub.read("EPUB/text/titlepage.xhtml").decode("utf-8")


def test_cli_theme_must_exist(tmp_path):
    path = write_config(tmp_path, "")
    with pytest.raises(config.ConfigError, match="neither an installed theme"):
        config.load(path, theme=str(tmp_path / "nowhere"))
    assert config.load(path, theme="briefing").theme == "briefing"


def dt_zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo("UTC")


# --- Strings that reach the EPUB ---------------------------------------------------------------------------

INJECTION = '"><script>alert(1)</script>'


def test_language_injection_is_refused(tmp_path):
    source = archive(tmp_path, f"language = '{INJECTION}'\n")
    result = run_cli("build", str(source), "-o", str(tmp_path / "out"), "--offline", "--format", "epub")
    assert result.returncode == 2, result.stderr
    assert "key 'language'" in result.stderr and "BCP 47" in result.stderr


@pytest.mark.parametrize("tag", ["zh-Hans", "zh-Hant", "en", "en-US", "zh-Hant-TW", "de-CH-1901", "x-private"])
def test_language_tags_accepted(tmp_path, tag):
    path = write_config(tmp_path, f'language = "{tag}"\n[overrides."a.txt"]\nlanguage = "{tag}"\n')
    assert config.load(path).language == tag


@pytest.mark.parametrize("tag", [INJECTION, "zh_Hans", "zh-Hans\n", "", "e", "en-", "zh Hans", "en" * 40])
def test_override_language_must_be_a_tag(tmp_path, tag):
    path = write_config(tmp_path, f'[overrides."a.txt"]\nlanguage = {json.dumps(tag)}\n')
    with pytest.raises(config.ConfigError, match=r"key 'overrides\.a\.txt\.language'.*BCP 47"):
        config.load(path)


@pytest.mark.parametrize("key", ["title", "subtitle", "editor"])
def test_control_characters_refused(tmp_path, key):
    path = write_config(tmp_path, f'{key} = "a\\u0000b"\n')
    with pytest.raises(config.ConfigError, match=f"key '{key}': control characters"):
        config.load(path)


def test_markup_in_titles_is_text_in_a_valid_epub(tmp_path):
    """`"><script>`, `]]>` and `&` in title, subtitle and editor: escaped everywhere (OPF, nav, NCX, pages)."""
    hostile = '标题 "><script>alert(1)</script> ]]> & &amp; <b>'
    toml = "".join(f"{key} = '{hostile} {key}'\n" for key in ("title", "subtitle", "editor"))
    source = archive(tmp_path, toml)
    out = tmp_path / "out"
    result = run_cli("build", str(source), "-o", str(out), "--offline", "--format", "epub")
    assert result.returncode == 0, result.stderr
    epub = out / "archive.epub"
    with zipfile.ZipFile(epub) as archive_zip:
        texts = {name: archive_zip.read(name).decode("utf-8") for name in archive_zip.namelist()
                 if name.endswith((".xhtml", ".opf", ".ncx"))}
    assert not [name for name, text in texts.items() if "<script" in text.lower()]
    opf = next(text for name, text in texts.items() if name.endswith(".opf"))
    assert "&lt;script&gt;" in opf and "]]&gt;" in opf and "&amp;amp;" in opf
    errors = [m for m in epubcheck_messages(epub) if m["severity"] in ("FATAL", "ERROR", "WARNING")]
    assert errors == []


# --- Bounded numbers ---------------------------------------------------------------------------------------

def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# (table, key, values refused, values accepted): the ranges of issue 18.
BOUNDED = [
    ("pdf", "workers", [-1, 100_000, 2 * _cpus() + 1], [0, 1, 2 * _cpus()]),
    ("pdf", "chunk_articles", [0, 1001, 10**9], [1, 1000]),
    ("pdf", "bleed_mm", [-3.0, 20.5, 1e9], [0, 20]),
    ("images", "concurrency", [0, 65, 100_000], [1, 64]),
    ("images", "connect_timeout", [0, -1.0, 600.5, "nan", "inf"], [0.1, 600]),
    ("images", "read_timeout", [0, 601], [0.01, 600]),
    ("images", "total_timeout", [0, 1e12, -1.0], [1, 600]),
    ("images", "retries", [-1, 11, 10**6], [0, 10]),
    ("images", "remember_failures", [-1, 604_801, "inf"], [0, 3600, 604_800]),
    ("images", "max_bytes", [-1, 0, 200_000_001, 10**15], [1, 200_000_000]),
    ("images", "max_pixels", [0, 200_000_001, 10**15], [1, 200_000_000]),
    ("images", "max_side", [15, 10_001], [16, 10_000]),
    ("images", "jpeg_quality", [0, 101], [1, 100]),
    ("images", "print_quality", [0, 101], [1, 100]),
    ("images", "print_ppi", [49, 1201], [50, 1200]),
    ("images", "epub_budget_mb", [-0.5, "inf"], [0, 25.0]),
    ("images", "pdf_budget_mb", [-1], [0, 100]),
    ("volumes", "max_articles", [-5, 10**12], [0, 200]),
    ("volumes", "max_pages", [-1, 10**12], [0, 400]),
]
REFUSED = [(t, k, v) for t, k, bad, _ in BOUNDED for v in bad]
ACCEPTED = [(t, k, v) for t, k, _, good in BOUNDED for v in good]


@pytest.mark.parametrize(("table", "key", "value"), REFUSED)
def test_number_out_of_range_is_refused(tmp_path, table, key, value):
    path = write_config(tmp_path, f"[{table}]\n{key} = {value}\n")
    with pytest.raises(config.ConfigError, match=rf"key '{table}\.{key}'.*out of range: allowed") as caught:
        config.load(path)
    assert str(caught.value).startswith(str(path))


@pytest.mark.parametrize(("table", "key", "value"), ACCEPTED)
def test_number_in_range_is_accepted(tmp_path, table, key, value):
    path = write_config(tmp_path, f"[{table}]\n{key} = {value}\n")
    loaded = getattr(config.load(path), table)
    assert getattr(loaded, key) == value


def test_per_host_is_bounded_by_concurrency(tmp_path):
    path = write_config(tmp_path, "[images]\nconcurrency = 4\nper_host = 5\n")
    with pytest.raises(config.ConfigError, match=r"'images\.per_host'.*<= 4 \(images\.concurrency\)"):
        config.load(path)
    path.write_text("[images]\nconcurrency = 4\nper_host = 4\n", encoding="utf-8")
    assert config.load(path).images.per_host == 4


def test_workers_bound_through_the_cli(tmp_path):
    source = archive(tmp_path, "[pdf]\nworkers = 100000\n")
    result = run_cli("build", str(source), "-o", str(tmp_path / "out"), "--offline")
    assert result.returncode == 2
    assert "'pdf.workers'" in result.stderr and "2 × CPU count" in result.stderr


# --- The cache folder --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["/etc", "/", "/tmp/victim", "cache", ".", "../outside", "~", "~/.cache/mine"])
def test_an_archives_own_config_may_not_choose_the_cache(tmp_path, value):
    """Where the tool writes (and what `anthology cache clean` empties) is the user's choice, never the archive's."""
    path = write_config(tmp_path, f'[images]\ncache_dir = "{value}"\n')
    with pytest.raises(config.ConfigError, match=r"anthology.toml:2: key 'images\.cache_dir'.*may not choose"):
        config.load(path, source=path.parent)


def users_config(tmp_path, text: str) -> tuple[Path, Path]:
    """A config file the user names with --config, beside (not inside) the archive."""
    source = tmp_path / "archive"
    source.mkdir(exist_ok=True)
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    return path, source


@pytest.mark.parametrize("value", ["/etc", "/", "/usr/local/cache", "/proc/self", "/dev/shm/../../etc", "/var/lib/x",
                                   "/root", "~"])
def test_cache_dir_system_folders_refused_even_from_the_user(tmp_path, monkeypatch, value):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path, source = users_config(tmp_path, f'[images]\ncache_dir = "{value}"\n')
    with pytest.raises(config.ConfigError, match=r"key 'images\.cache_dir'.*system folder"):
        config.load(path, source=source)


def test_the_users_cache_dir_is_made_absolute_and_kept_out_of_the_archive(tmp_path, monkeypatch):
    monkeypatch.chdir("/")  # relative to the config file's folder, not to where the build runs
    path, source = users_config(tmp_path, '[images]\ncache_dir = "outside"\n')
    assert config.load(path, source=source).images.cache_dir == str((tmp_path / "outside").resolve())
    path.write_text('[images]\ncache_dir = "archive/cache"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match="inside the archive"):
        config.load(path, source=source)
    (tmp_path / "link").symlink_to(source)  # outside by name, inside the archive in fact
    path.write_text('[images]\ncache_dir = "link/cache"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match="inside the archive"):
        config.load(path, source=source)


@pytest.mark.parametrize(("key", "higher", "lower"), [("max_file_mb", 50, 5), ("read_seconds", 600, 10)])
def test_an_archive_may_lower_its_limits_but_not_raise_them(tmp_path, key, higher, lower):
    path = write_config(tmp_path, f"{key} = {higher}\n")
    with pytest.raises(config.ConfigError, match=rf"key '{key}'.*may only lower it"):
        config.load(path, source=path.parent)
    path.write_text(f"{key} = {lower}\n", encoding="utf-8")
    assert getattr(config.load(path, source=path.parent), key) == lower
    mine, source = users_config(tmp_path, f"{key} = {higher}\n")
    assert getattr(config.load(mine, source=source), key) == higher


def test_relative_cache_dir_in_archive_refused_through_the_cli(tmp_path):
    source = archive(tmp_path, '[images]\ncache_dir = "cache"\n')
    result = run_cli("build", str(source), "-o", str(tmp_path / "out"), "--offline", "--format", "epub")
    assert result.returncode == 2
    assert "may not choose the cache folder" in result.stderr and "ANTHOLOGY_CACHE" in result.stderr
    assert not (source / "cache").exists()
