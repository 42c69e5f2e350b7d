"""Outlet names: from the reader (front matter, page meta), the URL's host, or a dateline.

Feeds and mirrors call one outlet by many names (法广, RFI, 法国国际广播电台); every name goes through
ALIASES so that one outlet is one name in the book, its sections and the report.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from compile.model import Article

# Host suffix -> the name readers know the outlet by. Unknown hosts show as the bare host name.
HOSTS = {
    "rfi.fr": "法国国际广播电台",
    "voachinese.com": "美国之音",
    "voacantonese.com": "美国之音",
    "voanews.com": "美国之音",
    "bbc.com": "BBC",
    "bbc.co.uk": "BBC",
    "dw.com": "德国之声",
    "reuters.com": "路透社",
    "xinhuanet.com": "新华社",
    "news.cn": "新华社",
    "people.com.cn": "人民网",
    "chinadaily.com.cn": "中国日报",
    "zaobao.com": "联合早报",
    "zaobao.com.sg": "联合早报",
    "cna.com.tw": "中央社",
    "rfa.org": "自由亚洲电台",
    "nytimes.com": "纽约时报",
    "cn.nytimes.com": "纽约时报中文网",
    "ftchinese.com": "FT中文网",
    "scmp.com": "South China Morning Post",
    "theguardian.com": "The Guardian",
    "apnews.com": "Associated Press",
    "afp.com": "法新社",
}
# Other names of the same outlets (compared case-insensitively, spaces ignored).
ALIASES = {
    "法广": "法国国际广播电台", "rfi": "法国国际广播电台", "rfi中文": "法国国际广播电台",
    "法国国际广播电台-rfi": "法国国际广播电台", "法國國際廣播電台": "法国国际广播电台",
    "路透": "路透社", "reuters": "路透社", "路透中文网": "路透社",
    "voa": "美国之音", "美国之音中文网": "美国之音", "美國之音": "美国之音", "voachinese": "美国之音",
    "dw": "德国之声", "德国之声中文网": "德国之声", "德國之聲": "德国之声", "deutschewelle": "德国之声",
    "bbc中文": "BBC", "bbc中文网": "BBC", "bbcnews中文": "BBC", "bbcnews": "BBC", "bbcchinese": "BBC",
    "新华网": "新华社", "新華社": "新华社", "xinhua": "新华社",
    "中央通讯社": "中央社", "中央通訊社": "中央社", "联合早报网": "联合早报", "聯合早報": "联合早报",
}
KNOWN = set(HOSTS.values())
# "新华社新加坡6月12日电", "中新社北京5月3日电", "(法新社巴黎22日电)", "路透东京8月28日 -"
DATELINE_AGENCY = re.compile(
    r"^[\s(（【*]*(?:据)?(新华社|中新社|法新社|路透社?|美联社|共同社|韩联社|中央社|德国之声中文网|美国之音)"
)


def canonical(name: str) -> str:
    """One outlet, one name: aliases resolved, whitespace tidied."""
    name = re.sub(r"\s+", " ", str(name or "")).strip()
    key = re.sub(r"[\s\-–—|]", "", name).lower()
    return ALIASES.get(key, name)


def is_outlet(name: str) -> bool:
    """Whether a name (a front matter author or category, say) is a known outlet rather than a person."""
    return bool(name) and canonical(name) in KNOWN | set(ALIASES.values())


def from_host(url: str, known_only: bool = False) -> str:
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.") if url else ""
    if not host:
        return ""
    for suffix in sorted(HOSTS, key=len, reverse=True):
        if host == suffix or host.endswith("." + suffix):
            return HOSTS[suffix]
    return "" if known_only else host


def from_dateline(text_head: str) -> str:
    match = DATELINE_AGENCY.search(text_head or "")
    return canonical(match[1]) if match else ""


def resolve(article: Article, text_head: str) -> str:
    """The reader's name (canonical), else the known host, else a dateline's agency, else the bare host."""
    try:
        url = article.url or ""
        return (
            canonical(article.outlet)
            or from_host(url, known_only=True)
            or from_dateline(text_head)
            or from_host(url)
        )
    except ValueError:  # a malformed URL (bad port, bad IPv6 literal) names no host
        return canonical(article.outlet) or from_dateline(text_head)
