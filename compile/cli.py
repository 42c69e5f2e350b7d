"""The command line: `anthology build | inspect | themes`.

Exit codes (a public contract): 0 built; 1 built with warnings under --strict; 2 bad usage or config, the
output folder cannot be written (full disk, read-only), or a format's engine is not installed (Chromium for a
vertical PDF: the other outputs are written); 130 interrupted (Ctrl-C), 143 terminated (SIGTERM). `build --watch`
exits 0 when stopped while waiting (its last outputs are whole), and as above when stopped while building.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import json
import logging
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from compile import config, sources, theme
from compile.build import pipeline, report
from compile.images.cache import Cache
from compile.images.markup import LOCAL_HOST, MALFORMED_HOST
from compile.theme import PACKAGE
from compile.writers import registry

err = Console(stderr=True, highlight=False, soft_wrap=True)

# The last exit handler (they run last registered first): the interpreter's own collection at exit would walk
# the build's whole heap (~0.2 s of a rebuild); its objects are freed all the same.
atexit.register(gc.freeze)


def printable(text: str) -> str:
    """No terminal escapes, line breaks or bidi overrides (a file name could clear the screen or forge report
    lines): such characters are written as escapes."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def shown(value: object) -> str:
    """Text from an archive (file names, titles, URLs, reasons quoting them), safe to print with rich:
    `printable`, and no rich markup (`[/x]` in a title stopped the build)."""
    return escape(printable(str(value)))


class _PrintableRecords(logging.Filter):
    """Log lines name archive files: `printable` (they are plain text, not rich markup)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = printable(record.getMessage()), ()
        return True


def default_source() -> Path:
    """`seeds/` in the current folder; the seeds shipped with the package otherwise."""
    local = Path("seeds")
    if local.is_dir():
        return local
    for candidate in (PACKAGE.parent / "seeds", PACKAGE / "_data" / "seeds"):
        if candidate.is_dir():
            return candidate
    raise click.UsageError("no SOURCE_DIR given and no seeds/ folder here")


CONFIG_BYTES = 1_000_000  # an archive's config larger than this is not a config


def load_settings(source: Path, config_file: Path | None, **cli) -> config.Settings:
    own = source / pipeline.CONFIG_NAME
    path = config_file or (own if own.is_file() or own.is_symlink() else None)
    try:
        if path == own:  # the archive's: read through the same checks as its articles (no link out, bounded)
            try:
                sources.read_inside(source, pipeline.CONFIG_NAME, CONFIG_BYTES)
            except sources.Skipped as exc:
                raise config.ConfigError(f"{own}: {exc}") from None
        settings = config.load(path, source=source, **cli)
        theme.load(settings.theme)
    except config.ConfigError as exc:
        err.print(f"[red]error:[/red] {shown(exc)}")
        sys.exit(2)
    return settings


def _source_arg(source: Path | None) -> Path:
    source = source or default_source()
    if not source.is_dir():
        err.print(f"[red]error:[/red] {shown(source)}: not a folder")
        sys.exit(2)
    return source


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="anthology-compiler")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@click.option("-v", "--verbose", is_flag=True, help="Print every decision as it is made.")
@click.pass_context
def main(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Compile a folder of archived news articles into an EPUB and a print-ready PDF.

    \b
    Start here:
      anthology init my-archive      write a commented anthology.toml
      anthology inspect my-archive   check titles, dates and where each date came from
      anthology build my-archive     write dist/<name>.epub, .pdf and .report.json

    Without a command, builds the sample corpus (seeds/) into dist/.
    """
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(level=max(level, logging.WARNING), format="%(message)s")
    logging.getLogger("anthology").setLevel(level)  # -v shows our debug lines, not every library's (fontTools ...)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_PrintableRecords())
    err.quiet = quiet
    # What the imports made lives as long as the process: no collection need walk it again, here or in the
    # processes forked from here (a rebuild of corpus-dev took 0.9 of its time). Once: a script that builds twice
    # would freeze the first build's garbage too.
    if not gc.get_freeze_count():
        gc.freeze()
    if ctx.invoked_subcommand is None:
        ctx.invoke(build)


@main.command()
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path), default=Path("dist"), show_default=True,
              help="Folder for the EPUB, the PDF and the report.")
@click.option("--config", "config_file", type=click.Path(path_type=Path),
              help="Config file (default: SOURCE/anthology.toml when present).")
@click.option("--theme", "theme_name", help="Theme name (see `anthology themes`).")
@click.option("--format", "formats", help="Comma-separated formats: epub,pdf.")
@click.option("--offline", is_flag=True, default=None, help="Use only images already in the cache.")
@click.option("--retry-images", is_flag=True, default=None,
              help="Try again now the images whose download failed in a recent build (images.remember_failures: "
                   "an hour by default).")
@click.option("--strict", is_flag=True, default=None, help="Exit with 1 when anything needs attention.")
@click.option("--page-size", help="PDF page size: A4, A5, B5, JIS-B5, Letter ... or e.g. '140mm x 203mm'.")
@click.option("--print", "print_ready", is_flag=True, default=None,
              help="PDF for the printer: PDF/X-4, 3 mm bleed, crop marks; images under 300 dpi in the report.")
@click.option("--pdfa", is_flag=True, default=None, help="PDF/A-3a (tagged) with the sources and the report attached.")
@click.option("--tagged", is_flag=True, default=None,
              help="Tagged, accessible PDF (PDF/UA-1): reading order, languages, alt text.")
@click.option("--impose", type=click.Choice(["booklet"]), help="Also write a saddle-stitched booklet imposition.")
@click.option("--target", "epub_target", type=click.Choice([*config.EPUB_TARGETS, *config.TARGET_ALIASES]),
              help="The EPUB's reader: size budget and small per-reader differences (default: generic).")
@click.option("--script", type=click.Choice(["hant", "hans"]), default=None,
              help="Convert Chinese text to Traditional (hant) or Simplified (hans) with OpenCC.")
@click.option("--no-embed-fonts", "embed_fonts", flag_value=False, default=None,
              help="Do not embed subset CJK fonts in the EPUB.")
@click.option("--scheduler", help="Dask scheduler address (tcp://host:8786): build the volumes on that cluster "
              "(needs the 'dask' extra and a file system shared with the workers).")
@click.option("--watch", is_flag=True, help="Stay, and build again whenever SOURCE, the config file or the theme "
              "changes (a rebuild skips start-up: about half the time of the command run again). Ctrl-C stops.")
def build(source, out_dir, config_file, theme_name, formats, offline, retry_images, strict, page_size, print_ready,
          pdfa, tagged, impose, epub_target, embed_fonts, script, scheduler, watch=False) -> None:
    """Build SOURCE (default: seeds/) into OUT (default: dist/).

    \b
    Examples:
      anthology build archive/ --theme briefing                  an A4 briefing booklet, sans, running heads
      anthology build archive/ --print --impose booklet          for the print shop: PDF/X-4, bleed, marks, imposition
      anthology build archive/ --pdfa                            one PDF that also holds the sources and the report
      anthology build archive/ --tagged                          a PDF a screen reader reads (structure, languages)
      anthology build archive/ --format epub --target kindle     only the EPUB, for Send to Kindle
      anthology build archive/ --offline --strict                no network; exit 1 if anything needs attention
      anthology build archive/ --watch                           build again at each save, until Ctrl-C

    Settings in SOURCE/anthology.toml apply first; options given here override them. Everything the build
    decided (dates and where they came from, failed images, duplicates) is in OUT/<name>.report.json.
    """
    source = _source_arg(source)

    def once() -> config.Settings:
        return _build_once(source, out_dir, config_file, theme_name, formats, offline, retry_images, strict, page_size,
                    print_ready, pdfa, tagged, impose, epub_target, embed_fonts, script, scheduler)

    if watch:
        _watch(source, out_dir, config_file, once)
    else:
        once()


def _build_once(source, out_dir, config_file, theme_name, formats, offline, retry_images, strict, page_size,
                print_ready, pdfa, tagged, impose, epub_target, embed_fonts, script, scheduler) -> config.Settings:
    """One build, as the command line asked: exits (SystemExit) with the documented code when not 0."""
    fmt_list = [f.strip() for f in formats.split(",") if f.strip()] if formats else None
    settings = load_settings(source, config_file, theme=theme_name, formats=fmt_list, offline=offline,
                             retry_images=retry_images, strict=strict, epub_target=epub_target,
                             embed_fonts=embed_fonts, script=script, scheduler=scheduler)
    for key, value in (("page_size", page_size), ("bleed", print_ready), ("pdfx", print_ready), ("pdfa", pdfa),
                       ("tagged", tagged), ("impose", impose)):
        if value is not None:
            setattr(settings.pdf, key, value)
    try:
        config.check(settings)
    except config.ConfigError as exc:
        err.print(f"[red]error:[/red] {shown(exc)}")
        sys.exit(2)
    if out_dir.exists() and not out_dir.is_dir():
        err.print(f"[red]error:[/red] {escape(str(out_dir))}: not a folder (-o names the folder for the outputs)")
        sys.exit(2)
    with _stopping_cleanly(), _ReadProgress() as reading, _FetchProgress() as progress:
        result = pipeline.build(source, out_dir, settings, on_image=progress.done, on_fetch_start=progress.start,
                                on_read=reading.update)
    _summary(result)
    if unmade := registry.missing(theme.load(settings.theme), settings.formats):
        for reason in unmade:
            err.print(f"[red]error:[/red] {shown(reason)}")
        sys.exit(2)
    if settings.strict and pipeline.has_warnings(result):
        err.print("[yellow]--strict: warnings above; exit code 1[/yellow]")
        sys.exit(1)
    return settings


def _watch(source: Path, out_dir: Path, config_file: Path | None, once: Callable[[], config.Settings]) -> None:
    """Build, then build again at each change, until Ctrl-C or SIGTERM while waiting (exit 0: the outputs are
    whole). A build that fails, or ends with warnings under --strict, is reported and the watch goes on; one
    interrupted exits as without --watch."""
    from compile.build import watch

    configs = [config_file] if config_file else []
    besides = list(configs)  # and the theme's folder, once a build names it

    def look() -> watch.Snapshot:
        return watch.snapshot(source, besides, skip=[out_dir])

    state = look()
    while True:
        started = time.perf_counter()
        try:
            settings = once()
            state = _rewatch(state, source, besides, [*configs, theme.load(settings.theme).root])
        except SystemExit as exc:
            if exc.code not in (1, 2):  # interrupted (130, 143)
                raise
            err.print(f"[yellow]exit code {exc.code}; still watching[/yellow]")
        except KeyboardInterrupt:  # between the build's own handling and the wait's: the outputs are whole
            err.print("stopped watching")
            sys.exit(0)
        NOTES.next_build()
        with _stopping_cleanly(idle=True):  # before the line that says so: a Ctrl-C after it stops cleanly
            err.print(f"built in {time.perf_counter() - started:.1f} s; watching {shown(str(source))} for changes "
                      "(Ctrl-C stops)")
            state = watch.wait_for_change(look, state)
        err.print("changed: building again")


def _rewatch(state: frozenset, source: Path, besides: list[Path], now: list[Path]) -> frozenset:
    """`besides` becomes `now` (a build named its theme, maybe another one); `state` then holds what is watched
    from now on, a folder newly named as it is: being named, or no longer, is no change."""
    from compile.build import watch

    added = [path for path in now if path not in besides]
    besides[:] = now
    roots = {str(path) for path in (source, *now)}
    kept = frozenset(entry for entry in state if entry[0] in roots and Path(entry[0]) not in added)
    return kept | watch.snapshot(added[0], added[1:]) if added else kept


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM: raised where the build is, so that it unwinds (nothing is published, the staging
    folder is removed, the output folder's lock released)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupt(signum: int, _frame) -> None:
    for name in (signal.SIGINT, signal.SIGTERM):  # once: the clean-up that follows is short, and not cut
        signal.signal(name, signal.SIG_IGN)
    raise Interrupted(signum)


@contextlib.contextmanager
def _stopping_cleanly(idle: bool = False):
    """A failure the user can act on is one line and an exit code, not a traceback: an interrupt stops the
    workers and exits 128 + the signal's number (0 when `idle`: --watch waiting, the outputs whole); a bad
    configuration found late, or an output folder that cannot be written (disk full, read-only), exits 2."""
    from compile.build import reading

    names = (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
    previous = {name: signal.signal(name, _interrupt) for name in names}
    try:
        yield
    except KeyboardInterrupt as exc:
        reading.close_pools()
        pdf_chunks = sys.modules.get("compile.writers.pdf.chunked.build")  # its pools exist only once it is loaded
        if pdf_chunks is not None:
            pdf_chunks.close_pools()
        if idle:
            err.print("stopped watching")
            sys.exit(0)
        err.print("[red]interrupted[/red]")
        sys.exit(128 + getattr(exc, "signum", signal.SIGINT))
    except config.ConfigError as exc:
        err.print(f"[red]error:[/red] {shown(exc)}")
        sys.exit(2)
    except OSError as exc:
        logging.getLogger("anthology").debug("", exc_info=True)
        where = f"{exc.filename}: " if exc.filename else ""
        err.print(f"[red]error:[/red] {escape(where + str(exc.strerror or exc))}")
        sys.exit(2)
    finally:
        for name, handler in previous.items():
            signal.signal(name, handler)


class _Bar:
    """A rich progress bar named `label`, on a terminal only; stopped (and erased) when its stage ends."""

    def __init__(self, label: str, **options):
        self.label = label
        self.bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err, transient=True, **options) if err.is_terminal else None
        self.task: TaskID | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def begin(self, total: int) -> None:
        if self.bar is not None:
            self.task = self.bar.add_task(self.label, total=total)
            self.bar.start()

    def stop(self) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.stop()
            self.task = None


class _ReadProgress(_Bar):
    """While the files are read. Redrawn only as files are done, never from a thread of its own nor through a
    redirected stderr: the reading workers are forked meanwhile, and must not inherit the console's lock held."""

    def __init__(self):
        super().__init__("reading", auto_refresh=False, redirect_stdout=False, redirect_stderr=False)

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            return
        if self.task is None and done < total:
            self.begin(total)
        if self.task is not None:
            self.bar.update(self.task, completed=done)
            self.bar.refresh()
        if done >= total:
            self.stop()


class _FetchProgress(_Bar):
    """While images are fetched; plain lines for failures, on a terminal or not: the first few of each host, then
    how many more (an archive whose images lived on a dead CDN has thousands; the report lists each)."""

    def __init__(self):
        super().__init__("images")
        self.left = 0
        self.failed = _Grouped()
        self.urls: set[str] = set()  # failed: an image several articles show is said once

    def start(self, total: int) -> None:
        self.left = total
        self.begin(total)

    def done(self, image) -> None:
        if image.status != "ok" and image.url not in self.urls:
            self.urls.add(image.url)
            self.failed.say((_whence(image.url), image.reason.partition(" (")[0].split(":")[0]),
                            lambda: f"  image failed: {shown(image.url[:90])} — {shown(image.reason)}")
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task)
        self.left -= 1
        if self.left <= 0:
            self.stop()  # the writers' stage follows: no bar standing still
            self.failed.end(lambda group, more: f"  image failed: {more} more {shown(group[0])} — {shown(group[1])}, "
                                                "in the report")


def _whence(url: str) -> str:
    """Where failed images were, in words: their host, or the archive's own files."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    return {LOCAL_HOST: "local files", MALFORMED_HOST: "with malformed URLs", "": "without a host"}.get(
        host, f"from {host}")


class _Grouped:
    """Notes by group: the first SHOWN of a group are printed, the others counted, then said in one line."""

    SHOWN = 10  # a small archive's every line; the first of a flood

    def __init__(self):
        self.counts: Counter[Hashable] = Counter()

    def say(self, group: Hashable, line: Callable[[], str]) -> None:
        """`line()` printed, if among the first SHOWN of `group`."""
        self.counts[group] += 1
        if self.counts[group] <= self.SHOWN:
            NOTES.say(line())

    def end(self, more: Callable[[Any, int], str]) -> None:
        """One line for each group that had more than SHOWN: `more(group, how many were not printed)`."""
        for group, count in self.counts.items():
            if count > self.SHOWN:
                NOTES.say(more(group, count - self.SHOWN))
        self.counts.clear()


class _Notes:
    """A build's lines about single files (failed images, warnings, unreadable files). Under --watch, a line the
    build before printed is not printed again: a rebuild shows what changed, and counts what it left out."""

    def __init__(self):
        self.before: set[str] | None = None  # None: print every line (one build)
        self.now: set[str] = set()
        self.left_out = 0
        self.summed_up = False  # the build got as far as its summary (a failed one tells nothing of its files)

    def say(self, line: str) -> None:
        self.now.add(line)
        if self.before is not None and line in self.before:
            self.left_out += 1
        else:
            err.print(line)

    def end(self) -> None:
        self.summed_up = True
        if self.left_out:
            err.print(f"  ({self.left_out} lines as in the build before, not repeated: all are in the report)")

    def next_build(self) -> None:
        """Compare the next build with this one, or with the last that got to its summary."""
        if self.summed_up or self.before is None:
            self.before = self.now
        self.now, self.left_out, self.summed_up = set(), 0, False


NOTES = _Notes()


def _warning_line(source: str, warning: str) -> str:
    return f"  [yellow]{shown(source)}[/yellow]: {shown(warning)}"


def _summary(result: pipeline.Result) -> None:
    data = result.report
    articles = data["articles"]
    flagged = [a for a in articles if not a["published"]]
    failed_images = [i for i in data["images"] if i["status"] != "ok"]
    failed_inputs = [i for i in data["inputs"] if i["status"] == "failed"]
    err.print(f"[bold]{len(articles)} articles[/bold], {len(flagged)} without a date, "
              f"{len(failed_images)} of {len(data['images'])} images missing, {len(failed_inputs)} unreadable files")
    _image_summary(data.get("image_summary"))
    warned = _Grouped()
    for article in articles:
        for warning in article["warnings"]:
            warned.say(warning, functools.partial(_warning_line, article["source"], warning))
    warned.end(lambda warning, more: f"  [yellow]{more} more files[/yellow]: {shown(warning)}, in the report")
    for entry in failed_inputs:
        NOTES.say(f"  [red]{shown(entry['source'])}[/red]: {shown(entry['reason'])}")
    NOTES.end()
    for output in data["outputs"]:
        pages = f", {output['pages']} pages" if output["pages"] else ""
        err.print(f"  wrote {shown(output['path'])} ({output['bytes'] / 1024:.0f} KB{pages})")
    err.print(f"  wrote {shown(result.report_path)}")
    if logging.getLogger("anthology").isEnabledFor(logging.DEBUG):  # build -v
        _timings(data.get("timings"))


def _timings(timings: dict | None) -> None:
    """Where the build's time went: wall and CPU seconds per stage (report.json `timings`)."""
    if not timings:
        return
    total = timings["total"]
    err.print(f"  time: {total['wall_s']:.1f} s wall, {total['cpu_s']:.1f} s CPU on {timings['cores']} cores")
    for stage in timings["stages"]:
        err.print(f"    {stage['name']:<12} {stage['wall_s']:7.2f} s wall {stage['cpu_s']:7.2f} s CPU")


def _image_summary(summary: dict | None) -> None:
    """images: N fetched (X MB), N from cache, N failed; then each output's variants and any recompression."""
    if not summary:
        return
    again = f" ({summary['not_retried']} as in a recent build: --retry-images)" if summary.get("not_retried") else ""
    err.print(f"  images: {summary['fetched']} fetched ({summary['bytes'] / 1e6:.1f} MB), "
              f"{summary['cached']} from cache, {summary['failed']} failed{again}, in {summary['seconds']:.1f} s")
    for fmt, entry in summary.get("profiles", {}).items():
        if not entry["images"]:
            continue
        budget = f" (budget {entry['budget'] / 1e6:.0f} MB)" if entry.get("budget") else ""
        err.print(f"  {fmt} images: {entry['images']} at {entry['profile']}, {entry['bytes'] / 1e6:.1f} MB{budget}")
        if entry.get("recompressed"):
            err.print(f"  [yellow]{shown(entry['recompressed'])}[/yellow]")


@main.command()
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.option("--config", "config_file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def inspect(source, config_file, as_json) -> None:
    """List the articles of SOURCE in final order, with their dates and where each date came from."""
    source = _source_arg(source)
    settings = load_settings(source, config_file)
    with _stopping_cleanly():
        prepared = pipeline.prepare(source, settings)
    rows = [report.article_entry(a) for a in prepared.anthology.articles]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("id", "source", "title", "outlet", "published", "date_source", "archived", "chars", "img", "warnings")
    for row in rows:
        table.add_row(*(shown(cell) for cell in (
            row["id"], row["source"], row["title"][:30], row["outlet"], row["published"] or "—",
            row["date_source"] or "—", row["archived"] or "—", row["characters"], row["images"],
            "; ".join(row["warnings"]))))
    Console().print(table)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing anthology.toml.")
def init(directory: Path, force: bool) -> None:
    """Write a commented starter anthology.toml into DIRECTORY."""
    target = directory / pipeline.CONFIG_NAME
    if target.exists() and not force:
        err.print(f"[red]error:[/red] {target} exists; use --force to overwrite it")
        sys.exit(2)
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text((PACKAGE / "starter.toml").read_text(encoding="utf-8"), encoding="utf-8")
    err.print(f"wrote {target}: edit the title, then run `anthology build {directory}`")


@main.group()
def cache() -> None:
    """Inspect or empty the cache of images and parsed articles."""


# The cache's folders: downloaded images and their variants, read and typeset articles, rendered PDF chunks,
# QR codes, the outlet index's order, the fonts' subsets (EPUB: fonts/, PDF: font-subsets/), the EPUB's chapters
# and covers, compiled templates.
CACHE_PARTS = ("originals", "variants", "failed", "articles", "typeset", "pdf", "qr", "collation", "fonts",
               "font-subsets", "chapters", "covers", "templates")


def _cache_root(source: Path | None, config_file: Path | None) -> Path:
    settings = load_settings(source, config_file) if source else config.Settings()
    return Cache.from_settings(settings.images).root


@cache.command("info")
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.option("--config", "config_file", type=click.Path(path_type=Path))
def cache_info(source, config_file) -> None:
    """Where the cache is and how much it holds."""
    root = _cache_root(source, config_file)
    click.echo(f"cache: {root}")
    for part in CACHE_PARTS:
        files = [p for p in (root / part).rglob("*") if p.is_file()] if (root / part).is_dir() else []
        click.echo(f"  {part:10} {len(files):6} files {sum(p.stat().st_size for p in files) / 1e6:9.1f} MB")


@cache.command("clean")
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.option("--config", "config_file", type=click.Path(path_type=Path))
@click.option("--articles-only", is_flag=True, help="Keep downloaded images; drop parsed and typeset articles.")
def cache_clean(source, config_file, articles_only) -> None:
    """Empty the cache (images are downloaded again on the next build)."""
    root = _cache_root(source, config_file)
    for part in ("articles", "typeset") if articles_only else CACHE_PARTS:
        shutil.rmtree(root / part, ignore_errors=True)
    click.echo(f"emptied {root}")


@main.command("themes")
def list_themes() -> None:
    """List the available themes."""
    for name in theme.available():
        chosen = theme.load(name)
        click.echo(f"{name:10} {chosen.page_size:6} {', '.join(chosen.languages):24} {chosen.description}")


if __name__ == "__main__":
    main()
