"""The incremental-build store: read+dated+cleaned articles, cached by the content that produced them.

A cached article is reused only if the source bytes, its override, the settings that shape reading
(time zone) and the code of the package are all unchanged: any change to any of them is a miss.
Entries are JSON (never pickle: the cache folder is not trusted with code) and written atomically.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from functools import cache
from pathlib import Path

from compile import atomic
from compile.model import Article, Image

PACKAGE = Path(__file__).resolve().parent


@cache
def code_version() -> str:
    """A digest of the package's own source: a new version of the code invalidates every entry."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def article_key(data: bytes, relative: str, override, timezone: str) -> str:
    digest = hashlib.sha256()
    for part in (code_version(), relative, repr(override), timezone):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(data)
    return digest.hexdigest()


class ArticleStore:
    def __init__(self, root: Path):
        self.root = root / "articles"
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Article | None:
        path = self._path(key)
        try:
            article = from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            self.misses += 1
            return None
        self.hits += 1
        return article

    def put(self, key: str, article: Article) -> None:
        atomic.write_bytes(self._path(key), json.dumps(to_json(article), ensure_ascii=False).encode("utf-8"))


def to_json(article: Article) -> dict:
    data = dataclasses.asdict(article)
    for name in ("published", "archived"):
        data[name] = data[name].isoformat() if data[name] else None
    for image in data["images"]:
        image["path"] = str(image["path"]) if image["path"] else None
    data["meta"] = json.loads(json.dumps(data["meta"], default=str))
    return data


def from_json(data: dict) -> Article:
    for name in ("published", "archived"):
        data[name] = dt.datetime.fromisoformat(data[name]) if data[name] else None
    data["images"] = [Image(**{**image, "path": Path(image["path"]) if image["path"] else None})
                      for image in data["images"]]
    return Article(**data)
