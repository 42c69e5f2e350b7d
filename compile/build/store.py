"""The incremental-build store: read+dated+cleaned articles, cached by the content that produced them.

A cached article is reused only if the source bytes, its override, the settings that shape reading
(time zone) and the code of the package are all unchanged: any change to any of them is a miss.
Entries are JSON (never pickle: the cache folder is not trusted with code) and written atomically.

The cache folder is not trusted either (docs/security.md): an entry is used only if its MAC verifies with the
user's key (compile/cachekey.py), and even then it is checked field by field, its body sanitized again and its
URL checked, as if an archive had written it. Anything else is a miss, rebuilt and overwritten.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import re
from pathlib import Path

from compile import cachekey
from compile.images import markup
from compile.model import Article, Image
from compile.sanitize import sanitize_html
from compile.urls import web_url


def article_key(data: bytes, relative: str, override, timezone: str, site: str = "") -> str:
    """`site`: what the archive says of its posts' dates (dates.Site: its folder's name, Hugo's setting)."""
    return cachekey.digest(cachekey.code_version(), relative, repr(override), timezone, data, site)


class ArticleStore:
    """Read articles by article_key, each with what duplicates and stories compare of it (its packed grams: a
    rebuild would otherwise make a whole book's again, serially, in the build's process)."""

    def __init__(self, root: Path):
        self.entries = cachekey.Entries(root / "articles", "article")
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.entries.path(key)

    def get(self, key: str) -> Article | None:
        return self.load(key)[0]

    def load(self, key: str) -> tuple[Article | None, tuple[bytes, ...]]:
        """The article stored under `key` and its grams (`()` when stored without them)."""
        try:
            payload = self.entries.get(key)
            data = json.loads(payload) if payload is not None else {}
            article = from_json(data["article"]) if data else None
            grams = _grams(data["grams"]) if data else ()
        except (ValueError, KeyError, TypeError):
            article, grams = None, ()
        self.hits += article is not None
        self.misses += article is None
        return article, grams

    def put(self, key: str, article: Article, grams: tuple[bytes, ...] = ()) -> None:
        data = {"article": to_json(article), "grams": [base64.b64encode(g).decode("ascii") for g in grams]}
        self.entries.put(key, json.dumps(data, ensure_ascii=False).encode("utf-8"))


def _grams(stored) -> tuple[bytes, ...]:
    """Packed grams as order.pack writes them (4 bytes each), for duplicates and stories; () for none."""
    if not isinstance(stored, list) or len(stored) not in (0, 2) or not all(isinstance(g, str) for g in stored):
        raise TypeError("grams must be two strings")
    grams = tuple(base64.b64decode(g, validate=True) for g in stored)
    if any(len(g) % 4 for g in grams):
        raise ValueError("packed grams are 4 bytes each")
    return grams


def to_json(article: Article) -> dict:
    data = dataclasses.asdict(article)
    for name in ("published", "archived"):
        data[name] = data[name].isoformat() if data[name] else None
    for image in data["images"]:
        image["path"] = str(image["path"]) if image["path"] else None
    data["meta"] = json.loads(json.dumps(data["meta"], default=str))
    return data


# Fields that are not plain strings; every other field of the model must be one.
ARTICLE_TYPES = {"meta": dict, "published": (str, type(None)), "archived": (str, type(None)), "images": list,
                 "warnings": list}
IMAGE_TYPES = {"path": type(None), "width": int, "height": int, "bytes": int, "from_cache": bool, "variants": dict}
STORED_STATUSES = {"pending", "failed", "skipped"}  # stored before fetching: never "ok", never a local path
LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")


def from_json(data: dict) -> Article:
    """The article an entry describes; ValueError or TypeError for anything the code would not have stored."""
    _check_fields(data, Article, ARTICLE_TYPES)
    if not all(isinstance(w, str) for w in data["warnings"]):
        raise TypeError("warnings must be strings")
    if data["language"] and not LANGUAGE.fullmatch(data["language"]):
        raise ValueError(f"bad language tag {data['language']!r}")
    for name in ("published", "archived"):
        data[name] = _aware(data[name])
    data["images"] = [_image(image) for image in data["images"]]
    data["body"] = sanitize_html(data["body"])
    data["url"] = web_url(data["url"])
    return Article(**data)


def _check_fields(data, model, special: dict) -> None:
    """Exactly the model's fields, each of its type (bool is not taken for int)."""
    if not isinstance(data, dict):
        raise TypeError(f"{model.__name__} entry is not an object")
    names = {f.name for f in dataclasses.fields(model)}
    if set(data) != names:
        raise ValueError(f"{model.__name__} fields differ: {sorted(set(data) ^ names)}")
    for name, value in data.items():
        expected = special.get(name, str)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise TypeError(f"{model.__name__}.{name} has type {type(value).__name__}")


def _aware(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:  # the model's dates are aware: a naive one would break sorting
        raise ValueError(f"date without a time zone: {value!r}")
    return parsed


def _image(data: dict) -> Image:
    _check_fields(data, Image, IMAGE_TYPES)
    if data["status"] not in STORED_STATUSES or data["variants"]:
        raise ValueError(f"image stored with status {data['status']!r}")
    if markup.absolute_url(data["url"]) != data["url"]:
        raise ValueError(f"image URL {data['url'][:80]!r} is not http(s)")
    if data["local"] and not _inside(data["local"]):
        raise ValueError(f"image's local path {data['local'][:80]!r} is not a relative path inside the folder")
    if data["digest"]:
        raise ValueError("image stored with a digest (set only when its file is read)")
    return Image(**data)


def _inside(path: str) -> bool:
    """A relative POSIX path that stays inside the folder it is relative to (no `..`, no root, no drive)."""
    parts = path.split("/")
    return not (path.startswith("/") or "\\" in path or "\0" in path or ":" in parts[0]
                or any(part in ("", ".", "..") for part in parts))


# ------------------------------------------------------------------------------------------------ typeset

class TypesetStore:
    """Typeset articles (compile/transforms/typeset.py): what typesetting changes, by what it reads (the edition,
    the article's language, body, title, outlet, captions and alt texts) and the code.

    Unlike a read article's, a typeset body cannot be sanitized again: the sanitizer takes the typesetting's
    classes and breaks away. So the MAC alone vouches for it, as for a PDF chunk (docs/security.md); the fields
    are still checked for their types and shape."""

    def __init__(self, root: Path):
        self.entries = cachekey.Entries(root / "typeset", "typeset")

    @staticmethod
    def key(article: Article, edition: str) -> str:
        # The libraries that shape a typeset body (its parser and serializer; OpenCC's dictionaries) count too.
        libraries = [cachekey.installed(name) for name in ("bs4", "lxml", "opencc")]
        images = [text for image in article.images for text in (image.caption, image.alt)]
        return cachekey.digest(cachekey.code_version(), *libraries, edition, article.language, article.title,
                               article.outlet, article.body, *images)

    def get(self, key: str, article: Article) -> dict | None:
        """The typeset fields stored under `key`, if they fit `article` (its report under "report")."""
        try:
            payload = self.entries.get(key)
            done = json.loads(payload) if payload is not None else None
            return done if done is not None and _typeset_fits(done, article) else None
        except (ValueError, TypeError):
            return None

    def put(self, key: str, done: dict) -> None:
        """Keep `done`: typeset_fields() of the typeset article, and its "report"."""
        self.entries.put(key, json.dumps(done, ensure_ascii=False).encode("utf-8"))


def typeset_fields(article: Article) -> dict:
    """What typesetting changes in an article."""
    return {"body": article.body, "title": article.title, "outlet": article.outlet, "language": article.language,
            "images": [[image.caption, image.alt] for image in article.images]}


def _typeset_fits(done, article: Article) -> bool:
    texts = ("body", "title", "outlet", "language")
    return (isinstance(done, dict) and set(done) == {*texts, "images", "report"}
            and all(isinstance(done[name], str) for name in texts)
            and (not done["language"] or bool(LANGUAGE.fullmatch(done["language"])))
            and isinstance(done["images"], list) and len(done["images"]) == len(article.images)
            and all(isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)
                    for pair in done["images"])
            and (done["report"] is None or (isinstance(done["report"], dict)
                                            and all(isinstance(v, (str, int)) for v in done["report"].values()))))
