"""The allow-list sanitizer, callable on its own: cleaning runs it, and so does anything that takes article HTML
back from a place it does not trust (the incremental store, compile/build/store.py)."""

from __future__ import annotations

import re

import nh3
from dateutil import parser as date_parser

# The only HTML that reaches a writer.
ALLOWED_TAGS = {
    "p", "br", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u", "s", "sub", "sup", "small",
    "a", "ul", "ol", "li", "blockquote", "q", "cite", "code", "pre", "figure", "figcaption", "img",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "div", "span", "hr", "abbr", "time",
}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt"}, "th": {"colspan", "rowspan"},
                      "td": {"colspan", "rowspan"}, "abbr": {"title"}, "time": {"datetime"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# An HTML `datetime` value as EPUB readers accept it (a date, a date and time with an optional zone, a time).
VALID_DATETIME = re.compile(r"\d{4}(-\d\d(-\d\d([T ]\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:?\d\d)?)?)?)?"
                            r"|\d\d:\d\d(:\d\d(\.\d{1,3})?)?")


# Characters XML 1.0 does not allow anywhere (C0 controls but tab and newlines, lone surrogates, U+FFFE/FFFF): one
# of them in a title or a file name made every XHTML writer fail.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` without the characters XML cannot hold."""
    return _NOT_XML.sub("", text)


def sanitize_html(html: str) -> str:
    """`html` with only the allowed tags and attributes, only web and mail URLs, no comments."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=set(URL_SCHEMES),
                     link_rel=None, strip_comments=True)


def iso_datetime(value: str) -> str:
    """An HTML-valid `datetime` value for any string: kept when valid, else rewritten, else ''."""
    value = (value or "").strip()
    if VALID_DATETIME.fullmatch(value):
        return value
    # JavaScript's Date.toString(): `Wed Nov 20 2019 17:49:54 GMT-0500 (Eastern Standard Time)`; dateutil reads
    # `GMT-0500` the POSIX way (+05:00), so the GMT goes.
    plain = re.sub(r"\s*\(.*?\)\s*$", "", value)
    plain = re.sub(r"\b(GMT|UTC)(?=[+-]\d)", "", plain)
    try:
        parsed = date_parser.parse(plain)
    except (ValueError, OverflowError, TypeError):
        return ""
    return parsed.isoformat(timespec="seconds")
