"""Readers: one module per source shape, each with `can_read(text)` and `read(path, text)`.

Shapes are detected from the text, never from the file name. The registry is ordered from the most
specific shape to the most general; `generic` accepts anything and says so in a warning.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from compile.model import Article
from compile.readers import frontmatter, generic, html_page, markdown, plain_text, rss_dump
from compile.transforms import clean
from compile.urls import web_url

# (name, module): every module has can_read(text) -> bool and read(path, text) -> Article.
READERS = [
    ("front-matter", frontmatter),
    ("rss-dump", rss_dump),
    ("html", html_page),
    ("markdown", markdown),
    ("text", plain_text),
    ("generic", generic),
]

# Zero-width and control characters that break layout or search; tab and newlines are kept.
# U+FFFE and U+FFFF are not characters: lxml refuses to keep them in a tree.
_INVISIBLE = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u200c\u200d\u2060\ufeff"
                        r"\ufffe\uffff]")


class UnreadableFile(Exception):
    """The file cannot become an article (empty, binary...); the message says why."""


def decode(data: bytes) -> tuple[str, str]:
    """Bytes to NFC text with invisible characters removed; returns (text, encoding name)."""
    if not data.strip():
        raise UnreadableFile("the file is empty")
    encoding = _detect_encoding(data)
    text = data.decode(encoding, errors="replace")
    if encoding == "utf-8-sig":
        encoding = "utf-8"
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _INVISIBLE.sub("", text)
    if not text.strip():
        raise UnreadableFile("the file has no text")
    return text, encoding


def _detect_encoding(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if _mostly_utf8(data):
        return "utf-8"  # a few damaged bytes: keep the text, read_file reports the replacements
    if b"\x00" in data[:4096] and not _looks_utf16(data):
        raise UnreadableFile("the file is binary, not text")
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["gb18030", "big5", "utf_16", "utf_8", "shift_jis", "cp1252"]).best()
    if best is None:
        best = from_bytes(data).best()
    if best is None:
        raise UnreadableFile("the file is binary or in an unknown encoding")
    name = best.encoding
    # GB2312/GBK are subsets of GB18030: decode with the superset so that rare characters survive.
    return "gb18030" if name in ("gb2312", "gbk") else name


def _mostly_utf8(data: bytes) -> bool:
    """UTF-8 with a handful of bad bytes (a cut-off file, a stray byte), not another encoding."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    multibyte = sum(1 for c in text if ord(c) > 0x7F) - bad
    return bad <= max(8, len(text) // 200) and multibyte > 4 * bad


def _looks_utf16(data: bytes) -> bool:
    head = data[:4096]
    return head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4


def article_id(relative: Path) -> str:
    """A stable id from the source path: usable as an XML id and a file name."""
    stem = str(relative.with_suffix("")).replace("\\", "/")
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:80]
    if not slug or slug != stem.replace("/", "-"):
        slug = f"{slug or 'article'}-{hashlib.sha1(stem.encode()).hexdigest()[:8]}"
    return slug


def read_text(relative: Path, text: str) -> Article:
    """Pick the first reader that accepts the text."""
    for name, module in READERS:
        if module.can_read(text):
            article = module.read(relative, text)
            article.reader = article.reader or name
            return article
    raise AssertionError("the generic reader accepts everything")


# Most characters of text read from one file; the rest is cut with a warning (a book is no place for more).
MAX_TEXT = 2_000_000


def read_file(root: Path, path: Path, data: bytes | None = None) -> Article:
    """One source file as an article. `data`: its bytes, when the caller read them (compile/sources.py reads
    untrusted folders safely); the text is bounded in length and tag nesting before any parser sees it."""
    relative = path.relative_to(root)
    raw = path.read_bytes() if data is None else data
    text, encoding = decode(raw)
    notes = []
    if len(text) > MAX_TEXT:
        notes.append(f"text of {len(text):,} characters cut at {MAX_TEXT:,}")
        text = text[:MAX_TEXT]
    text, flattened = clean.flatten_deep(text)
    if flattened:
        notes.append(f"{flattened} tag(s) nested deeper than {clean.MAX_DEPTH} levels dropped, their text kept")
    article = read_text(relative, text)
    article.id = article_id(relative)
    article.source = relative.as_posix()
    article.encoding = encoding
    # The article's link is shown to readers: only a web address (compile/urls.py), whatever the reader found.
    url = web_url(article.url)
    if article.url and not url:
        article.warn(f"the article's URL is not a web address and is dropped: {article.url[:80]!r}")
    article.url = url
    for note in notes:
        article.warn(note)
    if encoding not in ("utf-8", "ascii"):
        article.warn(f"decoded as {encoding}")
    damaged = text.count("\ufffd")
    if damaged:
        saved = raw.decode(encoding, errors="ignore").count("\ufffd")  # in the file as written, not ours
        if damaged > saved:
            article.warn(f"{damaged - saved} undecodable byte sequence(s) replaced by U+FFFD")
        if saved:
            article.warn(f"{saved} replacement character(s) (U+FFFD) in the file as saved: characters lost "
                         "before it reached this archive")
    return article
