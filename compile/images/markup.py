"""Image references in HTML, no network: the source an <img> really names (widest srcset candidate, lazy-load
attribute, proxy unwrapped), resolved against the article's URL; used by cleaning and the pipeline.

A relative reference (`diagram.png` beside a Hugo bundle's index.md, `./page_files/photo.jpg` beside a saved page)
also names a file of the source folder (`Image.local`), read from disk instead of the web.
"""

from __future__ import annotations

import contextlib
import functools
import html
import posixpath
import re
from collections.abc import Iterable
from typing import TypeAlias
from urllib.parse import parse_qs, quote, unquote, urljoin, urlsplit

import httpx
import nh3
from bs4 import Tag
from lxml import etree

from compile.model import Article, Image

LAZY_ATTRIBUTES = ("data-src", "data-original", "data-lazy-src", "data-url", "data-hi-res-src", "src")
PROXIES = {"images.weserv.nl": "url", "wsrv.nl": "url", "i0.wp.com": None, "i1.wp.com": None, "i2.wp.com": None}
# A source URL that says http(s) but cannot be parsed (`http://[::1/x.png`, `http://a b/x`, port 99999) is carried
# as a valid URL on this reserved host (RFC 2606: never resolves), so that the sanitizer keeps it and its figure
# becomes a failed image with the usual placeholder, not a lost article. `unwrap_proxy` gives the original back.
MALFORMED_HOST = "malformed-url.invalid"
MALFORMED = "malformed URL"
# A local image of an article without a web address is carried as `http://local-file.invalid/<path>` (reserved,
# never resolves), so that the sanitizer and the store keep it like any image URL; `Image.local` is the file.
LOCAL_HOST = "local-file.invalid"
WEB_SCHEME = re.compile(r"https?:", re.I)
FORBIDDEN_HOST = re.compile(r"[\x00-\x20\x7f#%/:<>?@\[\\\]^|]")  # WHATWG's forbidden host code points
# An <img> as a page's reader has it (BeautifulSoup) or cleaning does (lxml): both give attributes by `get`.
ImageElement: TypeAlias = "Tag | etree._Element"


def best_source(img: ImageElement, extra_srcsets: Iterable[str] = (), base_url: str = "") -> str:
    """The best URL for an <img>: the widest srcset candidate, else a lazy-load attribute, else src."""
    return absolute_url(written_source(img, extra_srcsets), base_url)


def written_source(img: ImageElement, extra_srcsets: Iterable[str] = ()) -> str:
    """`best_source` as the page wrote it, not yet resolved (it may be relative)."""
    candidates = []
    for srcset in [_attribute(img, "srcset"), _attribute(img, "data-srcset"), *extra_srcsets]:
        candidates.extend(_parse_srcset(srcset))
    url = max(candidates)[1] if candidates else ""
    if not url:
        for attribute in LAZY_ATTRIBUTES:
            value = _attribute(img, attribute).strip()
            if value and not value.startswith("data:"):
                url = value
                break
    return url.strip()


def _attribute(img: ImageElement, name: str) -> str:
    """A one-valued attribute, "" when absent: bs4 types every value as a string or a list (`class`-like ones)."""
    value = img.get(name)
    return value if isinstance(value, str) else " ".join(value or ())


def local_path(reference: str, article_source: str) -> str:
    """The file of the source folder a relative image reference names, as a POSIX path relative to the folder:
    `diagram.png` in `content/posts/b/index.md` is `content/posts/b/diagram.png`, a site-root `/images/x.png` is
    `images/x.png` (Hugo's `static/images/x.png` is tried too when it is read). "" for a reference with a scheme
    or a host (`https:`, `data:`, `//host/x`) and for one that leads out of the folder (`../../x.png`)."""
    reference = reference.strip()
    if not reference or reference.startswith("//") or re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", reference):
        return ""
    path = unquote(re.split(r"[?#]", reference, maxsplit=1)[0]).replace("\\", "/")
    if not path or "\0" in path:
        return ""
    folder = "" if path.startswith("/") else posixpath.dirname(article_source)
    joined = posixpath.normpath(posixpath.join(folder, path.lstrip("/")))
    return "" if joined in (".", "") or joined.startswith("../") or joined == ".." else joined


def local_url(path: str) -> str:
    """The carrier URL of a local image (LOCAL_HOST)."""
    return f"http://{LOCAL_HOST}/{quote(path)}"


def locate(reference: str, base_url: str, article_source: str) -> tuple[str, str]:
    """(URL, local path) of an image reference: a relative reference is resolved against the article's web
    address, if it has one, and also names a local file, read instead when it exists; without a web address
    the URL is the local carrier. ("", "") for a reference that is neither."""
    local = local_path(reference, article_source)
    url = absolute_url(reference, base_url) if not local or base_url else ""
    return url or (local_url(local) if local else ""), local


def absolute_url(url: str, base_url: str = "") -> str:
    """`url` resolved against the article's URL; "" unless the result is http(s) (a relative URL without a
    base, `file:`, `data:` ... are refused). A malformed http(s) URL comes back as its carrier (MALFORMED_HOST).
    Never raises."""
    url = url.strip()
    if not url:
        return ""
    if base_url:
        with contextlib.suppress(ValueError):  # a malformed base or URL: the URL is judged on its own
            url = urljoin(base_url, url)
    if url.startswith("//"):
        url = "https:" + url
    if not WEB_SCHEME.match(url):
        return ""
    return url if well_formed(url) else carrier(url)


@functools.lru_cache(maxsize=1 << 16)  # a URL is judged where it is read, fetched and written: ~0.1 ms each time
def well_formed(url: str) -> bool:
    """An http(s) URL that parses, with a host and a valid port, and that can be sent."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        if not host or parts.port == 0 or (FORBIDDEN_HOST.search(host) and ":" not in host):
            return False
    except ValueError:
        return False
    return sendable(url) and _sanitizer_keeps(url)


def sendable(url: str) -> bool:
    """httpx can make a request line of it (`fetch.wire_url` succeeds). httpx.URL is its pure URL parser
    (IDNA hosts, IP literals, ports, percent-encoding); the HTTP client (httpcore) stays in fetch.py."""
    return parsed_url(url) is not None


def parsed_url(url: str) -> httpx.URL | None:
    try:
        parsed = httpx.URL(url)
        parsed.raw_host, parsed.raw_path  # noqa: B018 - encoding them is what can still fail
        return parsed
    except (httpx.InvalidURL, UnicodeError, TypeError, ValueError):
        return None


def _sanitizer_keeps(url: str) -> bool:
    """The allow-list sanitizer (WHATWG URL parsing) keeps it as an <img> source: what it drops would leave a
    figure without its URL (`http://1.2.3.4.5/`, `http://xn--zz/`)."""
    return "src=" in nh3.clean(f'<img src="{html.escape(url, quote=True)}">', tags={"img"},
                               attributes={"img": {"src"}}, url_schemes={"http", "https"})


def carrier(url: str) -> str:
    return f"http://{MALFORMED_HOST}/?url={quote(url, safe='')}"


def _parse_srcset(srcset: str) -> list[tuple[float, str]]:
    found = []
    for part in srcset.split(","):
        bits = part.strip().split()
        if not bits:
            continue
        weight = 1.0
        if len(bits) > 1 and bits[1][-1:] in ("w", "x"):
            with contextlib.suppress(ValueError):  # "²w", "1e999w", "nanx": the default weight
                number = float(bits[1][:-1])
                weight = number * (1 if bits[1].endswith("w") else 1000) if 0 <= number < 1e9 else 1.0
        found.append((weight, bits[0]))
    return found


def is_tracking_pixel(img: ImageElement) -> bool:
    sizes = [img.get("width", ""), img.get("height", "")]
    return all(str(s).strip() in ("0", "1") for s in sizes)


def unwrap_proxy(url: str) -> tuple[str, str]:
    """(original URL, URL as found): `images.weserv.nl/?url=host/x.jpg` becomes `https://host/x.jpg`; a
    malformed URL's carrier stays the URL, and what the source wrote is given as found. Never raises."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return url, url
    if host == MALFORMED_HOST:
        return url, parse_qs(parts.query).get("url", [url])[0]
    if host in PROXIES:
        key = PROXIES[host]
        inner = parse_qs(parts.query).get(key, [""])[0] if key else parts.path.lstrip("/")
        if inner:
            original = inner if WEB_SCHEME.match(inner) else f"https://{inner.lstrip('/')}"
            return absolute_url(original) or url, url
    return url, url


def add_lead_image(article: Article) -> None:
    """The front matter's `image:` becomes the article's first figure, unless the body already shows it.

    Runs after cleaning: the URL is resolved against the article's URL, must be http(s), and is
    written into the body escaped, so it is as safe as any cleaned <img>.
    """
    raw = article.meta.get("front_matter_image")
    if not isinstance(raw, str):
        return
    url, local = locate(raw, article.url, article.source)
    url, found = unwrap_proxy(url)
    if not url:
        if raw.strip():
            article.warn(f"front matter image '{raw[:80]}' is not an http(s) URL; ignored")
        return
    if any(image.url == url for image in article.images):
        return
    src, alt = html.escape(url, quote=True), html.escape(article.title, quote=True)
    figure = f'<figure><img src="{src}" alt="{alt}"/></figure>'
    article.body = figure + article.body
    article.images.insert(0, Image(url=url, found_url=raw.strip() if local else found, alt=article.title,
                                   local=local))
