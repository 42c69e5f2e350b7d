"""The cache folder is untrusted (issue 18, hole 3): what it holds reaches the book only if this user's key
signed it, and even then only as safe as freshly cleaned input. An unusable cache stops the build at its start;
a cache that fills up later costs speed, never an article."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import stat
import textwrap
import zipfile
from pathlib import Path

import pytest
import weasyprint
from pypdf import PdfReader

from compile import cachekey, theme
from compile.build import pipeline, reading, store
from compile.config import ConfigError, ImageSettings
from compile.images.cache import Cache
from compile.model import Article, Image
from compile.transforms import order, stories, typeset
from compile.writers.context import Book
from compile.writers.pdf.chunked import build as pdf_chunks
from tests.conftest import SEEDS, make_settings, run_cli

MARKER = "<script>alert('poisoned')</script>"


@pytest.fixture(autouse=True)
def key_home(tmp_path, monkeypatch) -> Path:
    """Each test has its own key (in its own config folder), as two users would."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def _article(**changes) -> Article:
    base = Article(id="a1", source="a1.md", title="Title", url="https://news.example/a1.html", body="<p>text</p>",
                   published=dt.datetime(2021, 5, 22, 8, 0, tzinfo=dt.UTC), language="zh-Hans",
                   images=[Image(url="https://img.example/x.jpg", alt="x")], warnings=["w"])
    return dataclasses.replace(base, **changes)


def _forged(payload: bytes) -> bytes:
    """Sealed the way the tool seals, with a key that is not the user's."""
    mac = cachekey._mac(b"k" * cachekey.KEY_BYTES, "article", "k", (payload,))
    return cachekey.HEADER + mac + b"\n" + payload


# ---------------------------------------------------------------- the key


def test_key_is_made_once_private_and_outside_the_cache(key_home):
    key = cachekey.secret()
    path = key_home / "anthology" / "cache.key"
    assert key is not None and path.read_bytes() == key and len(key) == cachekey.KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cachekey._keys.clear()
    assert cachekey.secret() == key  # read back, not made again


def test_a_key_others_can_read_is_not_used(key_home):
    path = key_home / "anthology" / "cache.key"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"k" * cachekey.KEY_BYTES)
    path.chmod(0o644)
    assert cachekey.secret() is None


def test_without_a_key_the_store_is_off_not_an_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))  # the key's folder cannot be made
    articles = store.ArticleStore(tmp_path / "cache")
    articles.put("k" * 64, _article())
    assert articles.get("k" * 64) is None and not (tmp_path / "cache" / "articles").exists()


# ---------------------------------------------------------------- the article store


def test_a_stored_article_comes_back_equal(tmp_path):
    articles = store.ArticleStore(tmp_path)
    articles.put("k" * 64, _article())
    assert articles.get("k" * 64) == _article() and articles.hits == 1


@pytest.mark.parametrize("seal", ["old format", "forged MAC", "other entry's MAC"])
def test_unsigned_or_forged_entries_are_misses(tmp_path, seal):
    articles = store.ArticleStore(tmp_path)
    payload = json.dumps(store.to_json(_article(body=MARKER))).encode()
    path = articles._path("k" * 64)
    path.parent.mkdir(parents=True)
    if seal == "old format":
        path.write_bytes(payload)
    elif seal == "forged MAC":
        path.write_bytes(_forged(payload))
    else:  # a genuine entry copied under another key
        path.write_bytes(cachekey.seal("article", "j" * 64, payload))
    assert articles.get("k" * 64) is None and articles.misses == 1


def test_a_signed_entry_is_still_sanitized_and_checked(tmp_path):
    """Defence in depth: were the key stolen, the entry is only as dangerous as freshly read input."""
    articles = store.ArticleStore(tmp_path)
    articles.put("k" * 64, _article(body=f"<p>kept</p>{MARKER}<img src=x onerror=alert(1)>", url="javascript:alert(1)"))
    article = articles.get("k" * 64)
    assert "<script" not in article.body and "onerror" not in article.body and "kept" in article.body
    assert article.url == ""


@pytest.mark.parametrize("change", [
    lambda d: d.update(extra="x"),  # unknown key
    lambda d: d.pop("body"),  # missing key
    lambda d: d.update(title=["not", "a", "string"]),
    lambda d: d.update(warnings=[1]),
    lambda d: d.update(published="2021-05-22T08:00:00"),  # naive: would break sorting
    lambda d: d.update(language='"><script>'),
    lambda d: d["images"][0].update(path="/etc/passwd", status="ok"),  # a local file as a "processed image"
    lambda d: d["images"][0].update(width=True),
    lambda d: d["images"][0].update(url="file:///etc/passwd"),
    lambda d: d["images"][0].update(evil=1),
])
def test_from_json_refuses_what_the_code_would_not_have_stored(change):
    data = json.loads(json.dumps(store.to_json(_article())))
    change(data)
    with pytest.raises((ValueError, TypeError)):
        store.from_json(data)


def test_a_fifo_or_a_link_to_dev_zero_in_the_cache_is_a_miss_not_a_hang(tmp_path):
    articles = store.ArticleStore(tmp_path)
    fifo = articles._path("f" * 64)
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)  # reading it would wait for a writer forever
    assert articles.get("f" * 64) is None
    zero = articles._path("z" * 64)
    zero.parent.mkdir(parents=True)
    zero.symlink_to("/dev/zero")  # reading it would fill the memory
    assert articles.get("z" * 64) is None
    chunks = pdf_chunks.ChunkCache(tmp_path)
    pdf, meta = chunks.paths("c" * 64)
    pdf.parent.mkdir(parents=True)
    os.mkfifo(meta)
    pdf.symlink_to("/dev/zero")
    assert chunks.get("c" * 64) is None


def test_a_full_cache_costs_the_store_not_the_article(tmp_path, monkeypatch):
    def full(path, data):
        raise OSError(28, "No space left on device", str(path))
    monkeypatch.setattr(cachekey.atomic, "write_bytes", full)
    articles = store.ArticleStore(tmp_path)
    articles.put("k" * 64, _article())
    articles.put("j" * 64, _article())
    assert articles.entries.write_failed and articles.get("k" * 64) is None


def test_the_store_keeps_what_duplicates_and_stories_compare(tmp_path, monkeypatch, seeds_copy):
    settings = make_settings(offline=True)
    articles = store.ArticleStore(tmp_path / "cache")
    first = pipeline.prepare(seeds_copy, settings, articles)

    def refuse(article):
        raise AssertionError("grams made again in the build's process")

    monkeypatch.setattr(order, "packed_grams", refuse)
    monkeypatch.setattr(stories, "packed_grams", refuse)
    again = pipeline.prepare(seeds_copy, settings, articles)
    assert articles.hits == 5 and again.duplicates == first.duplicates
    assert [[a.id for a in s.articles] for s in again.anthology.stories] == \
        [[a.id for a in s.articles] for s in first.anthology.stories]


@pytest.mark.parametrize("grams", [["AAAA"], ["AAA=", "AAAA"], [1, 2], "AAAAAAAA"])
def test_misshapen_grams_make_the_entry_a_miss(tmp_path, grams):
    articles = store.ArticleStore(tmp_path)
    payload = json.dumps({"article": store.to_json(_article()), "grams": grams}).encode()
    path = articles._path("k" * 64)
    path.parent.mkdir(parents=True)
    path.write_bytes(cachekey.seal("article", "k" * 64, payload))
    assert articles.get("k" * 64) is None and articles.misses == 1


# ---------------------------------------------------------------- typeset articles


def _typeset_twice(tmp_path, monkeypatch, between=lambda kept: None):
    """Typeset the seeds with a store, then again from fresh copies; the articles typeset the second time."""
    settings = make_settings(offline=True)
    edition = pipeline._Edition.of("", settings)
    kept = store.TypesetStore(tmp_path / "cache")
    first = pipeline.prepare(SEEDS, settings).anthology
    pipeline.typeset_articles(first, settings, edition, kept)
    between(kept)
    again, done = pipeline.prepare(SEEDS, settings).anthology, []
    real = typeset.typeset_article
    monkeypatch.setattr(typeset, "typeset_article", lambda a, c: done.append(a.id) or real(a, c))
    pipeline.typeset_articles(again, settings, edition, kept)
    assert [a.body for a in again.articles] == [a.body for a in first.articles]
    return first, done


def test_typeset_articles_are_kept_for_the_next_build(tmp_path, monkeypatch):
    first, done = _typeset_twice(tmp_path, monkeypatch)
    assert done == [] and len(first.articles) == 5
    assert all('class="' in a.body for a in first.articles)  # typeset, not the read bodies


def test_typesetting_the_articles_the_store_lacks_in_workers(tmp_path, monkeypatch):
    """The jobs keep their places in the book: the workers' shared table must hold the last of them."""
    monkeypatch.setattr(pipeline, "MIN_TYPESET", 0)
    monkeypatch.setattr(reading, "MIN_ARTICLES", 0)
    settings = make_settings(offline=True)
    settings.pdf.workers = 2
    edition = pipeline._Edition.of("", settings)
    kept = store.TypesetStore(tmp_path / "cache")

    def book(count: int):
        articles = [_article(id=f"a{i}", source=f"a{i}.md", body=f"<p>第{i}篇，内容2021年。</p>") for i in range(count)]
        return pipeline.Anthology(title="t", language="zh-Hans", articles=articles)

    pipeline.typeset_articles(book(5), settings, edition, kept)
    anthology = book(20)
    pipeline.typeset_articles(anthology, settings, edition, kept)  # 15 in workers, the last at place 19
    assert all("cjk-latin" in a.body for a in anthology.articles)
    done: list[str] = []  # the workers kept what they typeset: a third build typesets nothing
    monkeypatch.setattr(typeset, "typeset_article", lambda a, c: done.append(a.id))
    again = book(20)
    pipeline.typeset_articles(again, settings, edition, kept)
    assert not done and [a.body for a in again.articles] == [a.body for a in anthology.articles]


def test_a_forged_or_misshapen_typeset_entry_is_typeset_again(tmp_path, monkeypatch):
    def spoil(kept):
        paths = sorted(kept.entries.folder.rglob("*.json"))
        paths[0].write_bytes(_forged(paths[0].read_bytes().partition(b"\n")[2].replace(b"keep", b"x")))
        name = paths[1].stem  # sealed with the user's key, but not what the code writes
        paths[1].write_bytes(cachekey.seal("typeset", name, json.dumps({"body": MARKER}).encode()))

    _, done = _typeset_twice(tmp_path, monkeypatch, spoil)
    assert len(done) == 2


def test_a_typeset_entry_is_found_by_what_typesetting_reads(tmp_path):
    article = _article()
    key = store.TypesetStore.key(article, "edition")
    assert key != store.TypesetStore.key(article, "another edition")
    for change in ({"body": "<p>other</p>"}, {"title": "T2"}, {"outlet": "O"}, {"language": "zh-Hant"}):
        assert store.TypesetStore.key(dataclasses.replace(article, **change), "edition") != key
    captioned = dataclasses.replace(article, images=[Image(url="https://img.example/x.jpg", alt="x", caption="c")])
    assert store.TypesetStore.key(captioned, "edition") != key


# ---------------------------------------------------------------- end to end: a poisoned entry and the EPUB


def _source(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    (source / "anthology.toml").write_text('title = "Cache test"\n', encoding="utf-8")
    (source / "story.md").write_text(textwrap.dedent("""
        ---
        title: A story kept in the cache
        date: 2021-05-22
        url: https://news.example/story.html
        ---
        The text of the story, long enough to be an article body, and read once.
        """).lstrip(), encoding="utf-8")
    return source


def _epub_text(path: Path) -> str:
    with zipfile.ZipFile(path) as book:
        return "".join(book.read(name).decode("utf-8", errors="replace") for name in book.namelist())


@pytest.mark.parametrize("seal", ["old format", "forged MAC"])
def test_poisoned_cached_article_never_reaches_the_epub(tmp_path, key_home, seal):
    source, cache = _source(tmp_path), tmp_path / "cache"
    env = {"ANTHOLOGY_CACHE": str(cache), "XDG_CONFIG_HOME": str(key_home)}
    args = ["build", str(source), "--format", "epub", "--offline", "--no-embed-fonts"]
    first = run_cli(*args, "-o", str(tmp_path / "out1"), env=env)
    assert first.returncode == 0, first.stderr
    (entry,) = (cache / "articles").rglob("*.json")
    data = store.to_json(_article(body=f"<p>POISONED-TEXT</p>{MARKER}", title="POISONED-TITLE"))
    payload = json.dumps(data).encode()
    entry.write_bytes(payload if seal == "old format" else _forged(payload))
    again = run_cli(*args, "-o", str(tmp_path / "out2"), env=env)
    assert again.returncode == 0, again.stderr
    text = _epub_text(tmp_path / "out2" / "src.epub")
    assert "<script" not in text and "POISONED" not in text
    assert "A story kept in the cache" in text
    assert entry.read_bytes().startswith(cachekey.HEADER) and b"POISONED" not in entry.read_bytes()  # overwritten


# ---------------------------------------------------------------- PDF chunks


def test_chunk_cache_entries_are_bound_to_their_pdf(tmp_path):
    chunks = pdf_chunks.ChunkCache(tmp_path)
    pdf, meta = chunks.paths("c" * 64)
    pdf.parent.mkdir(parents=True)
    pdf.write_bytes(b"%PDF-1.7 genuine")
    facts = pdf_chunks.Facts((pdf_chunks.Page((), False, (1, 2, 3, 4)),))
    chunks.put("c" * 64, facts)
    assert chunks.get("c" * 64) == facts
    pdf.write_bytes(b"%PDF-1.7 tampered")
    assert chunks.get("c" * 64) is None
    pdf.write_bytes(b"%PDF-1.7 genuine")
    meta.write_bytes(json.dumps({"pages": []}).encode())  # the old, unsigned format
    assert chunks.get("c" * 64) is None


def test_a_slice_holds_only_while_its_chunk_does(tmp_path):
    """A slice (a piece's pages in a chunk rendered whole) is sealed like an entry, and read only with its
    chunk's PDF intact and holding its pages: never from a tampered or missing chunk, nor from another slice."""
    chunks = pdf_chunks.ChunkCache(tmp_path)
    whole, piece, other = "c" * 64, "d" * 64, "e" * 64
    pdf, _ = chunks.paths(whole)
    pdf.parent.mkdir(parents=True)
    pdf.write_bytes(b"%PDF-1.7 genuine")
    page = pdf_chunks.Page((), False, (1, 2, 3, 4))
    chunks.put(whole, pdf_chunks.Facts((page, page, page)))
    sliced = pdf_chunks.Facts((page, page), source=whole, first=1)
    chunks.put_slice(piece, sliced)
    assert chunks.has(piece) and chunks.get(piece) == sliced and chunks.pdf(piece, sliced) == pdf
    chunks.put_slice(other, pdf_chunks.Facts((page, page), source=whole, first=2))  # past the chunk's pages
    assert chunks.get(other) is None
    moved = pdf_chunks.Page((), True, (1, 2, 3, 4))  # the chunk rendered again since, with other pages
    chunks.put_slice(other, pdf_chunks.Facts((moved,), source=whole, first=1))
    assert chunks.get(other) is None
    for source, first in (("../" + whole[3:], 0), (whole, -1)):
        chunks.put_slice(other, pdf_chunks.Facts((page,), source=source, first=first))
        assert chunks.get(other) is None
    chunks.put_slice(other, pdf_chunks.Facts((page,), source=piece))  # a slice of a slice
    assert chunks.get(other) is None
    chunks.slices.path(other).write_bytes(json.dumps(dataclasses.asdict(sliced)).encode())  # not sealed
    assert chunks.get(other) is None
    pdf.write_bytes(b"%PDF-1.7 tampered")
    assert pdf_chunks.ChunkCache(tmp_path).get(piece) is None
    pdf.unlink()
    assert pdf_chunks.ChunkCache(tmp_path).get(piece) is None


def test_tampered_chunk_pdf_never_reaches_the_pdf(tmp_path):
    settings = make_settings(offline=True)
    settings.pdf.chunk_articles = 2
    prepared = pipeline.prepare(SEEDS, settings)
    typeset.typeset(prepared.anthology)
    book = Book(prepared.anthology, theme.load(settings.theme), settings, "t")
    cache = tmp_path / "cache"
    pdf_chunks.build(book, tmp_path / "first.pdf", [cache], cache, workers=1)
    chunk_pdfs = sorted(p for p in (cache / "pdf").rglob("*.pdf") if p.with_suffix(".json").exists())
    assert len(chunk_pdfs) > 2
    tampered = weasyprint.HTML(string="<p>TAMPERED-CHUNK</p>" * 40).write_pdf()
    for path in chunk_pdfs:
        path.write_bytes(tampered)
    _, stats = pdf_chunks.build(book, tmp_path / "second.pdf", [cache], cache, workers=1)
    assert stats.rendered == stats.chunks and stats.frame_rendered  # every tampered entry was a miss
    text = "".join(page.extract_text() for page in PdfReader(tmp_path / "second.pdf").pages)
    assert "TAMPERED" not in text
    assert all(path.read_bytes() != tampered for path in chunk_pdfs)  # rendered again over them


# ---------------------------------------------------------------- an unusable cache folder


def test_unwritable_cache_is_a_config_error_naming_it(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"a-file/cache.*ANTHOLOGY_CACHE.*cache_dir"):
        Cache.from_settings(ImageSettings(cache_dir=str(blocker / "cache")))


def test_unwritable_cache_stops_the_build_before_any_article(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings = make_settings(offline=True)
    settings.images.cache_dir = str(blocker / "cache")
    with pytest.raises(ConfigError):
        pipeline.build(_source(tmp_path), tmp_path / "out", settings)
    assert not (tmp_path / "out" / "src.epub").exists()


def test_unwritable_cache_exits_2_through_the_cli(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli("build", str(_source(tmp_path)), "-o", str(tmp_path / "out"), "--offline",
                     env={"ANTHOLOGY_CACHE": str(blocker / "cache")})
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "cannot be written" in result.stderr and "ANTHOLOGY_CACHE" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_probe_leaves_nothing_behind(tmp_path):
    Cache.from_settings(ImageSettings(cache_dir=str(tmp_path / "cache")))
    assert os.listdir(tmp_path / "cache") == []


# --- Compiled templates (compile/writers/context.py SealedBytecode) ----------------------------------------

def _templates(cache_root: Path, monkeypatch) -> tuple[dict[str, bytes], int]:
    """The book theme's templates' code, and how many templates were compiled (not loaded) to get it."""
    import jinja2

    from compile.writers.context import environment

    compiled = []
    real = jinja2.Environment.compile
    with monkeypatch.context() as patched:
        patched.setattr(jinja2.Environment, "compile", lambda self, *a, **k: compiled.append(1) or real(self, *a, **k))
        env = environment(theme.load("book"), dt.UTC, cache_root=cache_root)
        code = {name: env.get_template(name).root_render_func.__code__.co_code for name in env.list_templates()}
    return code, len(compiled)


def test_templates_are_compiled_once_and_kept_sealed(tmp_path, monkeypatch):
    first, compiled = _templates(tmp_path, monkeypatch)
    again, recompiled = _templates(tmp_path, monkeypatch)
    assert compiled == len(first) > 3 and recompiled == 0 and again == first
    entries = list((tmp_path / "templates").rglob("*.code"))
    assert len(entries) == len(first)
    kept = cachekey.Entries(tmp_path / "templates", "template", ".code")
    assert all(kept.get(entry.stem) for entry in entries)


@pytest.mark.parametrize("tamper", ["garbage", "unsealed", "another key"])
def test_a_compiled_template_not_sealed_with_this_key_is_compiled_again(tmp_path, monkeypatch, tamper, key_home):
    first, _ = _templates(tmp_path, monkeypatch)
    kept = cachekey.Entries(tmp_path / "templates", "template", ".code")
    for entry in (tmp_path / "templates").rglob("*.code"):
        code = kept.get(entry.stem)
        assert code
        if tamper == "garbage":
            entry.write_bytes(b"\x00" * 64)
        elif tamper == "unsealed":
            entry.write_bytes(code)  # valid bytecode, as Jinja's own cache would hold it: no seal
        else:
            monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "other"))  # another user's key seals it
            kept.put(entry.stem, code)
            monkeypatch.setenv("XDG_CONFIG_HOME", str(key_home))
    again, recompiled = _templates(tmp_path, monkeypatch)
    assert recompiled == len(first) and again == first
