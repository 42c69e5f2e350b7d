"""What a static site's own settings say of how its posts are dated: Hugo's `[frontmatter] date` list.

Read from the archive's root only (a site built from below its root shows no config), through the checks every
file of the archive gets (compile/sources.py), and parsed as front matter is: no YAML aliases, bounded size and
nesting. A config that cannot be read is no setting: the posts are dated as they would be without it.
"""

from __future__ import annotations

import json
from pathlib import Path

from compile import sources
from compile.readers import frontmatter

# Where Hugo looks for its config (gohugo.io/configuration/introduction): the root, then config/_default/, where
# a file may also hold one section of it by its name (frontmatter.toml).
_FORMATS = ("toml", "yaml", "yml", "json")
CONFIGS = [f"{folder}{name}.{ext}" for folder in ("", "config/_default/") for name in ("hugo", "config")
           for ext in _FORMATS]
SECTIONS = [f"config/_default/frontmatter.{ext}" for ext in _FORMATS]
# What Hugo calls a date kept in front matter (`:default` is them all): `:filename` before one of them wins.
FRONT_MATTER_DATES = {":default", "date", "publishdate", "pubdate", "published", "lastmod", "modified"}


def hugo_filename(root: Path) -> str:
    """Where the Hugo site at `root` lists `:filename` among its date's sources: "first" (before any front
    matter date), "after", or "" (not listed, no Hugo config)."""
    for name in CONFIGS + SECTIONS:
        config = _config(root, name)
        if config is None:
            continue
        section = config if name in SECTIONS else _key(config, "frontmatter")
        found = _key(section, "date") if isinstance(section, dict) else None
        if isinstance(found, list):
            return _place(found)
    return ""


def _place(order: list) -> str:
    names = [str(item).lower() for item in order]
    if ":filename" not in names:
        return ""
    first = names.index(":filename")
    return "first" if not any(name in FRONT_MATTER_DATES for name in names[:first]) else "after"


def _config(root: Path, name: str) -> dict | None:
    if not (root / name).is_file():
        return None
    try:
        text = sources.read_inside(root, name, limit=frontmatter.MAX_FRONT_MATTER).decode("utf-8")
    except (sources.Skipped, OSError, UnicodeDecodeError):
        return None
    if name.endswith(".json"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return None
    else:
        data = frontmatter.parse("+++" if name.endswith(".toml") else "---", text, [])
    return data if isinstance(data, dict) else None


def _key(mapping: dict, key: str):
    """A Hugo config key, whose case Hugo ignores (`frontMatter`, `frontmatter`)."""
    return next((value for name, value in mapping.items() if str(name).lower() == key), None)
