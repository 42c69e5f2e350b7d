"""Which URLs an archive may put in front of a reader.

An archive is untrusted (docs/security.md): an article's URL becomes an `href` in the EPUB and a `/URI`
action in the PDF, so only web addresses survive. `javascript:`, `data:`, `file:` and every other scheme,
and URLs with no host, become "" (the article simply has no source link).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

WEB_SCHEMES = frozenset({"http", "https"})
# A control character or white space (`\s` in a str pattern is exactly `str.isspace`): one search, where a test
# of each character cost a book's sources ~0.1 ms a link.
_UNSENDABLE = re.compile(r"[\x00-\x1f\s]")


def one_fragment(url: str) -> str:
    """`url` with one fragment: a `#` after the first is the fragment's own character, written `%23` (archives
    write `page.html#id10#id10`; EPUBCheck refuses the URL, and a reader's link would not find the anchor)."""
    head, mark, fragment = url.partition("#")
    return head + mark + fragment.replace("#", "%23")


def web_url(url: str | None) -> str:
    """`url` stripped if it is an absolute http(s) URL with a host (with one fragment); "" otherwise."""
    url = (url or "").strip()
    if not url or _UNSENDABLE.search(url):
        return ""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a malformed netloc such as "http://[::1/"
        return ""
    if parts.scheme.lower() not in WEB_SCHEMES or not host:
        return ""
    return one_fragment(url)
