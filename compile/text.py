"""Scripts and languages, in one place: the character ranges of CJK text, language tags, English month names."""

from __future__ import annotations

import re

# Ranges for regular-expression classes (`[{KANA}{HAN}]`); each user names the blocks it means.
KANA = "\u3040-\u30ff"  # hiragana and katakana
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # ideographs: extension A, the unified block, compatibility
HAN_SUPPLEMENTARY = "\U00020000-\U0003134f"  # ideographs: extensions B to G
YIJING = "\u4dc0-\u4dff"  # hexagram symbols, between extension A and the unified block (cleaning counts them)
HANGUL = "\uac00-\ud7af"  # syllables

# An edition converted with --script hant|hans is in this language (its strings, its faces, its conversion).
SCRIPT_LANGUAGES = {"hant": "zh-Hant", "hans": "zh-Hans"}
MONTH_NAMES = "January February March April May June July August September October November December".split()

# Chinese tags as the themes know them: script, not region.
LANGUAGE_ALIASES = {"zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh-hans": "zh-Hans",
                    "zh-hans-cn": "zh-Hans", "zh-tw": "zh-Hant", "zh-hk": "zh-Hant", "zh-mo": "zh-Hant",
                    "zh-hant": "zh-Hant", "zh-hant-tw": "zh-Hant", "zh-hant-hk": "zh-Hant"}


def declared_language(tag: str) -> str:
    """What a page's own language tag says, as an article's language: `zh-CN` -> zh-Hans, `zh-TW`/`zh-HK` ->
    zh-Hant, `en-US` -> en; "" when it says nothing sure (bare `zh` names no script; not a tag at all), and the
    language is then detected from the text."""
    tag = (tag or "").strip().replace("_", "-")
    lower = tag.lower()
    if not lower:
        return ""
    if lower.startswith("zh"):
        if re.search(r"hant|-tw|-hk|-mo", lower):
            return "zh-Hant"
        if re.search(r"hans|-cn|-sg|-my", lower):
            return "zh-Hans"
        return ""  # bare `zh` says nothing about the script: detect it
    # Anything else is not a language tag (and may be markup from a hostile page): detect the language instead.
    return lower.split("-")[0] if re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{1,8})*", lower) else ""


def theme_language(tag: str) -> str:
    """A tag as the themes select fonts by: a Chinese one becomes zh-Hans or zh-Hant (bare `zh` is Simplified),
    any other stays as written (en, en-US, ja ...): the book's configured language keeps its region."""
    if not tag:
        return tag
    return LANGUAGE_ALIASES.get(tag.strip().lower().replace("_", "-"), tag.strip())
