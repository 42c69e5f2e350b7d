"""The allow-list sanitizer, callable on its own: cleaning runs it, and so does anything that takes article HTML
back from a place it does not trust (the incremental store, compile/store.py)."""

from __future__ import annotations

import nh3

# The only HTML that reaches a writer.
ALLOWED_TAGS = {
    "p", "br", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u", "s", "sub", "sup", "small",
    "a", "ul", "ol", "li", "blockquote", "q", "cite", "code", "pre", "figure", "figcaption", "img",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "div", "span", "hr", "abbr", "time",
}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt"}, "th": {"colspan", "rowspan"},
                      "td": {"colspan", "rowspan"}, "abbr": {"title"}, "time": {"datetime"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


def sanitize_html(html: str) -> str:
    """`html` with only the allowed tags and attributes, only web and mail URLs, no comments."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=set(URL_SCHEMES),
                     link_rel=None, strip_comments=True)
