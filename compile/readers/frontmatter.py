"""Jekyll/Hugo posts: YAML (`---`) or TOML (`+++`) front matter over HTML, markdown or an RSS dump.

The body under front matter is markdown unless it is an RSS dump or HTML: Jekyll and Hugo render it so, and
a body of plain paragraphs with a `[link](url)` or a code fence is markdown that the shape detection alone
would take for plain text (its links and fences printed raw). Markdown reads plain paragraphs as the text
reader does, so no file name (suffix) is needed to decide.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import yaml

from compile.model import Article
from compile.readers import html_page, markdown, rss_dump
from compile.transforms import outlets
from compile.urls import web_url

# The meta block may be empty (`---` over `---`: Jekyll's "process this file").
FENCE = re.compile(r"\A\ufeff?(?P<fence>---|\+\+\+)[ \t]*\n(?:(?P<meta>.*?)\n)??(?P=fence)[ \t]*(\n|\Z)", re.S)
OPEN_ONLY = re.compile(r"\A(---|\+\+\+)[ \t]*\n[\w-]+\s*[:=]")


def can_read(text: str) -> bool:
    return FENCE.match(text) is not None or OPEN_ONLY.match(text) is not None


def read(path: Path, text: str) -> Article:
    match = FENCE.match(text)
    warnings = []
    if match is None:
        # The closing fence is missing: the `key: value` lines up to the first blank line are the
        # front matter if they parse as one; the rest is the body, so that nothing is lost.
        rest = text.split("\n", 1)[1] if "\n" in text else ""
        head, _, body = rest.partition("\n\n")
        meta = parse(text[:3], head, []) if head.strip() else {}
        if not meta:
            body = rest
        warnings.append("front matter has no closing fence; read up to the first blank line")
    else:
        meta, body = parse(match["fence"], match["meta"] or "", warnings), text[match.end():]
    inner = _read_body(path, body) if body.strip() else Article(id="", source=str(path))
    inner.reader = f"front-matter+{inner.reader}" if inner.reader else "front-matter"
    inner.meta["front_matter"] = meta
    inner.title = _text(meta.get("title")) or inner.title
    inner.url = _text(meta.get("from") or meta.get("source_url") or meta.get("url") or meta.get("link")) or inner.url
    inner.url = web_url(inner.url)  # the same rule read_file applies to every reader's URL
    author = _text(meta.get("author") or meta.get("authors"))
    # Feed mirrors put the outlet in `author` ("author: 美国之音"): that is an outlet, not a person.
    if author and not outlets.is_outlet(author):
        inner.author = author
    inner.outlet = _outlet(meta) or inner.outlet
    if "image" in meta and isinstance(meta["image"], str):
        inner.meta["front_matter_image"] = meta["image"]
    for warning in warnings:
        inner.warn(warning)
    return inner


def _read_body(path: Path, body: str) -> Article:
    """An RSS dump or HTML body keeps its reader; anything else is markdown (see the module's docstring)."""
    for name, reader in (("rss-dump", rss_dump), ("html", html_page)):
        if reader.can_read(body):
            article = reader.read(path, body)
            article.reader = article.reader or name
            return article
    article = markdown.read(path, body)
    article.reader = "markdown"
    return article


# Front matter is a few keys: a bigger block is not read (the body still is).
MAX_FRONT_MATTER = 64_000


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: `*ref` lets 415 bytes expand to gigabytes (billion laughs) once the values are
    copied or serialised; front matter never needs them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed in front matter",
                                              event.start_mark)
        return super().compose_node(parent, index)


# libyaml's parser, where PyYAML was built with it: the same constructor and resolver (Python), ~7x faster.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def _yaml(raw: str):
    """YAML read by libyaml when it may be: no `*`, so no alias to refuse (libyaml composes in C, where
    _NoAliasLoader cannot look), and no error. Anything else is read again by _NoAliasLoader, which refuses
    aliases and words errors as it always has: 682 real front matters read the same both ways."""
    if _FAST_LOADER is not None and "*" not in raw:
        try:
            return yaml.load(raw, Loader=_FAST_LOADER)  # noqa: S506 - a safe loader
        except (yaml.YAMLError, ValueError, TypeError, RecursionError):
            pass
    return yaml.load(raw, Loader=_NoAliasLoader)  # noqa: S506 - a safe loader


def parse(fence: str, raw: str, warnings: list[str]) -> dict:
    if len(raw) > MAX_FRONT_MATTER:
        warnings.append(f"front matter of {len(raw):,} characters is over {MAX_FRONT_MATTER:,}; ignored")
        return {}
    if _nesting(raw) > MAX_NESTING:
        warnings.append(f"front matter nested deeper than {MAX_NESTING} levels; ignored")
        return {}
    try:
        data = tomllib.loads(raw) if fence == "+++" else _yaml(raw)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError, TypeError, RecursionError) as exc:
        # ValueError: a date that does not exist (`2021-02-30`, year 0) or a bad `!!int`; the body is still read.
        warnings.append(f"front matter is not valid {'TOML' if fence == '+++' else 'YAML'}: {str(exc)[:120]}")
        return {}
    if not isinstance(data, dict):
        warnings.append("front matter is not a mapping; ignored")
        return {}
    return {str(k): v for k, v in data.items()}


MAX_NESTING = 64  # brackets and braces: the parsers recurse once per level


def _nesting(raw: str) -> int:
    """The deepest run of open brackets and braces, strings not told apart: a bound, not a parse."""
    depth = deepest = 0
    for char in raw:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest


def _text(value) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, dict):
        value = value.get("name", "")
    if isinstance(value, (dt.date, dt.datetime)):
        return ""
    return str(value).strip() if value is not None else ""


def _outlet(meta: dict) -> str:
    """An explicit outlet key, else a category, tag or author that names a known outlet."""
    for key in ("outlet", "source", "publisher", "site_name", "site"):
        value = _text(meta.get(key))
        if value and not value.startswith("http"):
            return value
    for key in ("categories", "tags", "author"):
        value = _text(meta.get(key))
        if outlets.is_outlet(value):
            return value
    return ""
