"""Static-site sources as a user has them (issue 19, items 3 and 4): a Hugo site, a Jekyll post, a saved page
with its `_files/` folder and a README, written by the tests, built offline and checked in the EPUB, the PDF
and report.json. Drafts and list pages are excluded, project files skipped, front-matter bodies read as
markdown, local images read from disk (a missing one is a failed image with a placeholder), and code blocks
keep their lines and stay inside the measure.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pdfplumber
import pytest
from PIL import Image as PILImage
from pypdf import PdfReader

from compile import config, readers
from compile.build.pipeline import _not_for_the_book
from compile.build.store import from_json, to_json
from compile.images import markup
from compile.images.cache import Cache
from compile.images.fetch import FetchSummary, fetch_all
from compile.model import Article, Image
from tests.checks import epubcheck_messages
from tests.conftest import run_cli

LONG_LINE = "x = '" + "abcdefghij" * 20 + "'"  # 205 characters, no space to break at
LONG_URL = "https://example.com/" + "very-long-path-segment-" * 8 + "end.html"
CODE = "\n".join(["def greet(name):", "    message = 'hello ' + name", "    for i in range(3):",
                  "        print(message, i)", "    return message", LONG_LINE])


def png(colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (120, 80), colour).save(out, "PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (160, 90), (30, 90, 200)).save(out, "JPEG")
    return out.getvalue()


def write_site(root: Path) -> Path:
    """A folder as a user would point the tool at: a Hugo site, a Jekyll post, a saved page, a README."""
    files = {
        "README.md": "# My archive\n\nHow to build this site: `hugo server`.\n",
        "LICENSE": "MIT License\n\nCopyright (c) 2020 someone\n",
        "content/posts/a.md": (
            '+++\ntitle = "代码与长链接"\ndate = 2020-03-01T10:00:00+08:00\n+++\n\n'
            f"正文第一段，讲一段代码。这里有一个很长的链接：{LONG_URL} 之后还有文字。\n\n"
            f"```python\n{CODE}\n```\n\n代码之后的一段。\n"),
        "content/posts/draft.md": '+++\ntitle = "草稿不应出现"\ndate = 2020-03-02\ndraft = true\n+++\n\n草稿正文。\n',
        "content/posts/_index.md": '+++\ntitle = "文章列表页"\n+++\n\n列表页说明。\n',
        "content/posts/b/index.md": (
            '---\ntitle: "页面包里的图"\ndate: 2020-03-03\n---\n\n图在下面。\n\n![图](diagram.png)\n\n'
            "![缺失的图](missing.png)\n"),
        "content/posts/readme.md": '---\ntitle: "一篇叫 readme 的文章"\ndate: 2020-03-04\n---\n\n它是文章。\n',
        "_posts/2020-01-02-x.md": (
            "---\nlayout: post\ntitle: Jekyll post\ndate: 2020-01-02 08:00:00 +0000\n---\n\n"
            "A paragraph with [a link](https://example.org/page) and more words.\n\n"
            "Another paragraph, second line of the post.\n"),
        "_posts/2020-01-05-unpublished.md": "---\ntitle: Not yet\ndate: 2020-01-05\npublished: false\n---\n\nHidden.\n",
        "page.html": (
            "<html><head><title>Saved page</title></head><body><article><h1>Saved page</h1>"
            "<p>A page saved with its pictures, dated 2020-01-03. It has enough words to be an article body, "
            "and more words, and more.</p>"
            '<figure><img src="./page_files/photo.jpg" alt="photo"><figcaption>The photo</figcaption></figure>'
            "<p>Last paragraph of the saved page.</p></article></body></html>"),
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "content/posts/b/diagram.png").write_bytes(png())
    (root / "page_files").mkdir()
    (root / "page_files/photo.jpg").write_bytes(jpeg())
    (root / "anthology.toml").write_text('title = "静态站点"\n', encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """The site built once, offline (local images are no downloads): report, EPUB members, PDF path."""
    base = tmp_path_factory.mktemp("static")
    site, out = write_site(base / "site"), base / "out"
    result = run_cli("build", str(site), "-o", str(out), "--offline", env={"ANTHOLOGY_CACHE": str(base / "cache")})
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out / "site.epub") as epub:
        members = {name: epub.read(name) for name in epub.namelist()}
    report = json.loads((out / "site.report.json").read_text(encoding="utf-8"))
    return {"report": report, "epub": members, "epub_path": out / "site.epub", "pdf": out / "site.pdf"}


def inputs(built) -> dict[str, dict]:
    return {entry["source"]: entry for entry in built["report"]["inputs"]}


def chapter(built, source: str) -> str:
    """The EPUB chapter of the article read from `source`."""
    ident = next(a["id"] for a in built["report"]["articles"] if a["source"] == source)
    return built["epub"][f"EPUB/text/{ident}.xhtml"].decode("utf-8")


def pdf_text(built) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(built["pdf"]).pages)


def test_drafts_list_pages_and_project_files_are_left_out_with_their_reason(built):
    found = inputs(built)
    assert found["content/posts/draft.md"] == {"source": "content/posts/draft.md", "status": "excluded",
                                               "reason": "draft (front matter draft = true)"}
    assert found["_posts/2020-01-05-unpublished.md"]["reason"] == "draft (front matter published = false)"
    assert found["content/posts/_index.md"] == {"source": "content/posts/_index.md", "status": "excluded",
                                                "reason": "list page (_index.md)"}
    assert (found["README.md"]["status"], found["README.md"]["reason"]) == ("skipped", "project file (README)")
    assert (found["LICENSE"]["status"], found["LICENSE"]["reason"]) == ("skipped", "project file (LICENSE)")
    # A post that happens to be called readme.md (front matter with a date) is an article.
    assert found["content/posts/readme.md"]["status"] == "article"
    sources = sorted(a["source"] for a in built["report"]["articles"])
    assert sources == ["_posts/2020-01-02-x.md", "content/posts/a.md", "content/posts/b/index.md",
                       "content/posts/readme.md", "page.html"]
    text = pdf_text(built) + "".join(v.decode("utf-8", "replace") for k, v in built["epub"].items()
                                     if k.endswith(".xhtml"))
    for gone in ("草稿不应出现", "文章列表页", "Not yet", "How to build this site", "MIT License"):
        assert gone not in text


def test_front_matter_bodies_are_markdown(built):
    assert inputs(built)["_posts/2020-01-02-x.md"]["reader"] == "front-matter+markdown"
    body = chapter(built, "_posts/2020-01-02-x.md")
    assert '<a href="https://example.org/page">a link</a>' in body
    assert "[a link](" not in body and "---" not in body and "layout: post" not in body
    assert "[a link](" not in pdf_text(built)


def test_code_blocks_keep_their_lines_in_the_epub_and_the_pdf(built):
    body = chapter(built, "content/posts/a.md")
    code = re.search(r"<pre><code[^>]*>(.*?)</code></pre>", body, re.S)
    assert code is not None and html.unescape(code[1]).rstrip("\n") == CODE
    lines = pdf_text(built).splitlines()
    for line in CODE.splitlines()[:5]:  # each short line of code is a line of the PDF, indentation kept
        assert line in lines


def test_long_code_lines_and_urls_stay_inside_the_measure(built):
    with pdfplumber.open(built["pdf"]) as pdf:
        page = next(p for p in pdf.pages if "greet" in (p.extract_text() or ""))
        right = max(char["x1"] for char in page.chars)
        assert right <= page.width - 36, f"text runs to {right:.0f}pt of a {page.width:.0f}pt page"
        text = page.extract_text()
    assert "abcdefghij" * 5 in text.replace("\n", "")  # the long line is there, wrapped, not cut
    assert "‐" not in text  # the long URL wraps without hyphens (a copied URL would keep them)


def test_local_images_are_read_from_the_folder_and_a_missing_one_is_reported(built):
    by_local = {i.get("local"): i for i in built["report"]["images"]}
    diagram, photo = by_local["content/posts/b/diagram.png"], by_local["page_files/photo.jpg"]
    assert (diagram["status"], diagram["found_url"], diagram["width"]) == ("ok", "diagram.png", 120)
    assert (photo["status"], photo["found_url"], photo["width"]) == ("ok", "./page_files/photo.jpg", 160)
    missing = by_local["content/posts/b/missing.png"]
    assert (missing["status"], missing["reason"]) == ("failed", "local file not found: content/posts/b/missing.png")
    assert built["report"]["image_summary"]["local"] == 2
    # In the EPUB: the diagram's pixels (a red PNG), a placeholder naming the missing file.
    pictures = [PILImage.open(io.BytesIO(data)) for name, data in built["epub"].items()
                if name.startswith("EPUB/images/") and "cover" not in name]
    assert sorted(p.size for p in pictures) == [(120, 80), (160, 90)]
    assert any(p.convert("RGB").getpixel((5, 5)) == (200, 30, 30) for p in pictures)
    bundle = chapter(built, "content/posts/b/index.md")
    assert re.search(r'<img [^>]*src="\.\./images/', bundle)
    assert "content/posts/b/missing.png" in bundle and "image-missing" in bundle
    reader = PdfReader(built["pdf"])
    drawn = {image.image.size for page in reader.pages for image in page.images}
    assert drawn == {(120, 80), (160, 90)}
    assert "content/posts/b/missing.png" in pdf_text(built).replace("\n", "")


def test_the_epub_is_valid(built):
    errors = [m for m in epubcheck_messages(built["epub_path"]) if m["severity"] in ("FATAL", "ERROR")]
    assert errors == []


# ---------------------------------------------------------------- the rules, one by one

@pytest.mark.parametrize(("reference", "source", "expected"), [
    ("diagram.png", "content/posts/b/index.md", "content/posts/b/diagram.png"),
    ("./page_files/photo%20one.jpg?v=2#x", "page.html", "page_files/photo one.jpg"),
    ("../img/x.png", "content/posts/a.md", "content/img/x.png"),
    ("/images/x.png", "content/posts/a.md", "images/x.png"),
    ("../../../etc/passwd", "content/posts/a.md", ""),
    ("https://example.com/x.png", "a.md", ""),
    ("//cdn.example.com/x.png", "a.md", ""),
    ("data:image/png;base64,AAAA", "a.md", ""),
    ("file:///etc/passwd", "a.md", ""),
])
def test_which_references_name_a_local_file(reference, source, expected):
    assert markup.local_path(reference, source) == expected


def test_a_relative_image_of_a_page_with_a_web_address_is_local_first_then_web():
    url, local = markup.locate("pics/a.jpg", "https://news.example/2020/story.html", "saved/story.html")
    assert (url, local) == ("https://news.example/2020/pics/a.jpg", "saved/pics/a.jpg")
    assert markup.locate("pics/a.jpg", "", "saved/story.html") == (
        "http://local-file.invalid/saved/pics/a.jpg", "saved/pics/a.jpg")


def fetch(images_: list[Image], source: Path, tmp_path: Path, offline: bool = True) -> FetchSummary:
    cache = Cache(tmp_path / "cache")
    return fetch_all(images_, config.ImageSettings(), cache, offline=offline, source=source)


def test_local_images_never_come_from_outside_the_folder(tmp_path):
    site = tmp_path / "site"
    (site / "static/images").mkdir(parents=True)
    (site / "static/images/x.png").write_bytes(png())
    outside = tmp_path / "secret.png"
    outside.write_bytes(png((0, 0, 0)))
    os.symlink(outside, site / "leak.png")
    (site / "big.png").write_bytes(png() + b"\0" * 2_000)
    hugo = Image(url=markup.local_url("images/x.png"), found_url="/images/x.png", local="images/x.png")
    leak = Image(url=markup.local_url("leak.png"), found_url="leak.png", local="leak.png")
    summary = fetch([hugo, leak], site, tmp_path)
    assert hugo.status == "ok" and hugo.digest  # Hugo's static/ folder serves the site root
    assert (leak.status, leak.reason) == ("failed", "local file leak.png: symlink outside the source folder")
    assert summary.local == 1
    settings = config.ImageSettings()
    settings.max_bytes = 1_000
    big = Image(url=markup.local_url("big.png"), found_url="big.png", local="big.png")
    fetch_all([big], settings, Cache(tmp_path / "cache"), offline=True, source=site)
    assert big.status == "failed" and "too large" in big.reason


def test_a_post_relative_image_kept_in_hugos_static_folder_is_found(tmp_path):
    """`images/x.png` in `content/post/2015/a.md`, the file in `static/images/` (a theme's <base href> makes the
    reference site-root, as on coderzh's blog): found there when it is not beside the post, and named when
    neither exists."""
    site = tmp_path / "site"
    (site / "static/images").mkdir(parents=True)
    (site / "static/images/x.png").write_bytes(png())
    (site / "content/post/2015").mkdir(parents=True)
    found = Image(url=markup.local_url("content/post/2015/images/x.png"), found_url="images/x.png",
                  local="content/post/2015/images/x.png")
    missing = Image(url=markup.local_url("content/post/2015/images/y.png"), found_url="images/y.png",
                    local="content/post/2015/images/y.png")
    outside = Image(url=markup.local_url("content/z.png"), found_url="../../z.png", local="content/z.png")
    fetch([found, missing, outside], site, tmp_path)
    assert found.status == "ok" and found.digest
    assert missing.reason == "local file not found: content/post/2015/images/y.png (nor static/images/y.png)"
    assert outside.reason == "local file not found: content/z.png"  # a reference out of the site: no static/ try


def test_an_edited_local_file_is_a_new_image_in_the_cache(tmp_path):
    (tmp_path / "site").mkdir()
    picture = tmp_path / "site/a.png"
    picture.write_bytes(png())
    first = Image(url=markup.local_url("a.png"), found_url="a.png", local="a.png")
    fetch([first], tmp_path / "site", tmp_path)
    picture.write_bytes(png((0, 200, 0)))
    second = Image(url=markup.local_url("a.png"), found_url="a.png", local="a.png")
    fetch([second], tmp_path / "site", tmp_path)
    assert first.digest != second.digest and not second.from_cache


def test_the_store_accepts_a_local_path_only_inside_the_folder():
    article = Article(id="a", source="a.md", images=[Image(url=markup.local_url("b/x.png"), local="b/x.png")])
    assert from_json(to_json(article)).images[0].local == "b/x.png"
    for bad in ("../x.png", "/etc/passwd", "b/../../x.png", "C:/x.png", "b\\x.png", "b//x.png"):
        data = to_json(article)
        data["images"][0]["local"] = bad
        with pytest.raises(ValueError):
            from_json(data)
    data = to_json(article)
    data["images"][0]["digest"] = "0" * 64
    with pytest.raises(ValueError):
        from_json(data)


@pytest.mark.parametrize(("name", "front", "expected"), [
    ("README.md", {}, ("skipped", "project file (README)")),
    ("docs/readme.markdown", {"title": "x"}, ("skipped", "project file (README)")),
    ("CHANGELOG", {}, ("skipped", "project file (CHANGELOG)")),
    ("Code_Of_Conduct.txt", {}, ("skipped", "project file (CODE_OF_CONDUCT)")),
    ("content/readme.md", {"date": "2020-01-01"}, ("", "")),
    ("readme-notes-on-korea.md", {}, ("", "")),
    ("README.zh-CN.md", {}, ("skipped", "project file (README)")),
    ("LICENSE-MIT", {}, ("skipped", "project file (LICENSE)")),
    ("post.md", {"draft": "true"}, ("excluded", "draft (front matter draft = true)")),
    ("post.md", {"draft": False, "published": True}, ("", "")),
])
def test_which_files_are_not_for_the_book(name, front, expected):
    article = Article(id="x", source=name, meta={"front_matter": front})
    assert _not_for_the_book(name, article) == expected


JEKYLL_PAGE = "Jekyll page, not a post (outside _posts/, no date in its front matter)"


@pytest.mark.parametrize(("name", "front", "expected"), [
    ("_posts/2026-02-15-digest.md", {}, ("", "")),  # Jekyll dates a post by its file name
    ("_posts/2026/02/2026-02-15-digest.md", {"title": "x"}, ("", "")),
    ("_tabs/about.md", {"layout": "page"}, ("skipped", JEKYLL_PAGE)),  # the Chirpy theme's tabs
    ("index.html", {"layout": "home"}, ("skipped", JEKYLL_PAGE)),
    ("SOUL.md", {}, ("skipped", JEKYLL_PAGE)),
    ("_articles/a.md", {"date": "2026-01-02"}, ("", "")),  # a dated collection document is an article
])
def test_a_jekyll_sites_pages_are_not_posts(name, front, expected):
    """eagle-cool/ai-digest: its about, archives, categories and tags tabs, its home page and a notes file came
    out as six chapters without text or date."""
    article = Article(id="x", source=name, meta={"front_matter": front})
    assert _not_for_the_book(name, article, "Jekyll") == expected
    assert _not_for_the_book(name, article, "") == ("", "")  # not a Jekyll site's root: every file may be a post


def test_an_empty_front_matter_is_front_matter():
    article = readers.read_text(Path("x.md"), "---\n---\nJust [a link](https://e.org/p) in a paragraph.\n")
    assert article.reader == "front-matter+markdown"
    assert '<a href="https://e.org/p">a link</a>' in article.body and "---" not in article.body


@pytest.mark.parametrize(("config_name", "kind", "machinery"), [
    ("config.toml", "Hugo", ["layouts/_default/single.html", "public/index.html", "themes/x/layouts/a.md",
                             "archetypes/default.md", "static/notes.txt"]),
    ("_config.yml", "Jekyll", ["_layouts/post.html", "_site/index.html", "_includes/head.html"]),
])
def test_a_site_roots_machinery_is_not_read(tmp_path, config_name, kind, machinery):
    """Pointed at a whole site, not its content folder: templates, built pages and CNAME are not chapters."""
    from compile import sources

    (tmp_path / config_name).write_text("title = 'x'\n", encoding="utf-8")
    files = [*machinery, "CNAME", "content/posts/a.md", "_posts/2020-01-02-b.md"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("---\ntitle: t\n---\n\n正文。\n", encoding="utf-8")
    reasons = {e.relative: e.reason for e in sources.discover(tmp_path)}
    for name in machinery:
        assert reasons[name].startswith(f"{kind} site folder {name.split('/')[0]}/"), name
    assert reasons["CNAME"] == f"{kind} site file (not a post)"
    assert reasons["content/posts/a.md"] == reasons["_posts/2020-01-02-b.md"] == ""
    (tmp_path / config_name).unlink()  # not a site root: every file is a candidate again
    assert not any(e.reason for e in sources.discover(tmp_path))


def test_a_saved_full_page_with_a_web_address_reads_its_files_folder(tmp_path):
    """"Save page as, complete": the page has its canonical URL, its pictures sit in `<name>_files/`. The
    extractor keeps the relative src, so the picture is read from disk, not fetched from the web."""
    from compile.build.pipeline import read_one

    paragraphs = "".join(f"<p>Paragraph {i} of the saved story, long enough to be the article's text.</p>"
                         for i in range(8))
    page = ('<!doctype html><html lang="en"><head><title>Harbour reopens | Courier</title>'
            '<link rel="canonical" href="https://courier.example/2020/03/harbour.html"></head><body>'
            '<nav><a href="/">Home</a></nav><article><h1>Harbour reopens</h1>'
            f'<figure><img src="./story_files/photo.jpg" alt="The harbour"><figcaption>The harbour.</figcaption>'
            f'</figure>{paragraphs}</article><footer>© Courier</footer></body></html>')
    (tmp_path / "story.html").write_text(page, encoding="utf-8")
    (tmp_path / "story_files").mkdir()
    (tmp_path / "story_files" / "photo.jpg").write_bytes(jpeg())
    article = read_one(tmp_path, tmp_path / "story.html", ZoneInfo("UTC"), None)
    assert [image.local for image in article.images] == ["story_files/photo.jpg"]
    summary = fetch(article.images, tmp_path, tmp_path)
    assert article.images[0].status == "ok" and summary.local == 1, article.images[0].reason
