"""The book's own words: one message catalogue per edition language (zh-Hans, zh-Hant, en).

Every string a reader sees that is not an article's (table of contents, title page, section labels, dates,
image placeholders, the provenance line, the EPUB's navigation, accessibility summary and cover) comes from
`compile/locales/<language>.toml`. The edition decides which: a converted edition (`--script hant|hans`, or
the theme's `script`) takes its script's catalogue, any other the book's `language` (Chinese by script,
every other language English).

A small data file rather than gettext/Babel: three catalogues of ~40 messages, looked up by key (the Simplified
text is no msgid for the Traditional one), `str.format` fields, no compile step and no new dependency; the
only plural is English "1 article" (a `_one` key).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from compile.text import MONTH_NAMES, SCRIPT_LANGUAGES

FOLDER = Path(__file__).with_name("locales")
LANGUAGES = ("zh-Hans", "zh-Hant", "en")
TRADITIONAL = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")


@dataclass(frozen=True)
class Strings:
    """One language's catalogue: `strings("count", n=5)` -> "共 5 篇"."""

    language: str  # one of LANGUAGES
    messages: Mapping[str, str]
    origins: Mapping[str, str]  # date_source rule id (or its family) -> words

    def __call__(self, key: str, /, **values) -> str:
        if values.get("n") == 1 and f"{key}_one" in self.messages:
            key = f"{key}_one"
        if key not in self.messages:
            raise LookupError(f"no message {key!r} in the {self.language} catalogue")
        return self.messages[key].format(**values)

    def date(self, day: dt.date) -> str:
        """2021年5月22日, or May 22, 2021."""
        return self("date", year=day.year, month=day.month, day=day.day, month_name=MONTH_NAMES[day.month - 1])

    def month(self, year: int, month: int) -> str:
        return self("month", year=year, month=month, month_name=MONTH_NAMES[month - 1])

    def date_origin(self, source: str) -> str:
        """Where a date came from, in words: `body-timestamp:rfc2822` -> 正文中的时间戳. The rule id is
        looked up whole, then by its family (`html-meta:og:published` -> `html-meta`); a notes suffix
        (`url (no zone; ...)`, `byline, time from ...`) is not part of it. Never the raw id."""
        if not source:
            return self.origins["none"]
        rule = re.split(r"[\s,(]", source.strip(), maxsplit=1)[0]
        for key in (rule, rule.split(":", 1)[0]):
            if key in self.origins:
                return self.origins[key]
        return self.origins["unknown"]


def edition_language(language: str, script: str = "") -> str:
    """The catalogue an edition reads in: its script's when converted, else the book language's."""
    if script in SCRIPT_LANGUAGES:
        return SCRIPT_LANGUAGES[script]
    tag = (language or "").strip().lower().replace("_", "-")
    if tag.startswith(TRADITIONAL):
        return "zh-Hant"
    return "zh-Hans" if tag == "zh" or tag.startswith("zh-") else "en"


def for_edition(language: str, script: str = "") -> Strings:
    return load(edition_language(language, script))


@functools.cache
def load(language: str) -> Strings:
    data = tomllib.loads((FOLDER / f"{language}.toml").read_text(encoding="utf-8"))
    return Strings(language, data["messages"], data["date_origins"])
