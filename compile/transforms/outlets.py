"""Outlet names: from the reader (front matter, page meta), the URL's host, or a dateline.

Feeds and mirrors call one outlet by many names (法广, RFI, 法国国际广播电台); every name goes through
ALIASES so that one outlet is one name in the book, its sections and the report. A known host names its
outlet whatever the page calls itself; names of hosting platforms ("Hosted", "WordPress", "Medium") name
no outlet, and the host stands instead. Across a book, `unify` gives an outlet known only by its host the
name its other pages declare ("Taipei Times" for www.taipeitimes.com), and one spelling to each name.
"""

from __future__ import annotations

import re
from collections import Counter
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
    "focustaiwan.tw": "中央社",
    "rfa.org": "自由亚洲电台",
    "nytimes.com": "纽约时报",
    "cn.nytimes.com": "纽约时报中文网",
    "ftchinese.com": "FT中文网",
    "scmp.com": "South China Morning Post",
    "theguardian.com": "The Guardian",
    "apnews.com": "美联社",
    "ap.org": "美联社",
    "afp.com": "法新社",
    "kyodonews.net": "共同社",
    "yna.co.kr": "韩联社",
    "chinanews.com": "中新社",
    "chinanews.com.cn": "中新社",
}
# Other names of the same outlets (compared case-insensitively; spaces, dashes, bars and dots ignored).
ALIASES = {
    "法广": "法国国际广播电台", "rfi": "法国国际广播电台", "rfi中文": "法国国际广播电台",
    "法国国际广播电台rfi": "法国国际广播电台", "法國國際廣播電台": "法国国际广播电台",
    "路透": "路透社", "reuters": "路透社", "路透中文网": "路透社", "thomsonreuters": "路透社",
    "voa": "美国之音", "美国之音中文网": "美国之音", "美國之音": "美国之音", "voachinese": "美国之音",
    "dw": "德国之声", "德国之声中文网": "德国之声", "德國之聲": "德国之声", "deutschewelle": "德国之声",
    "bbc中文": "BBC", "bbc中文网": "BBC", "bbcnews中文": "BBC", "bbcnews": "BBC", "bbcchinese": "BBC",
    "新华网": "新华社", "新華社": "新华社", "xinhua": "新华社", "xinhuanewsagency": "新华社",
    "中央通讯社": "中央社", "中央通訊社": "中央社", "cna": "中央社", "focustaiwan": "中央社",
    "centralnewsagency": "中央社",
    "联合早报网": "联合早报", "聯合早報": "联合早报",
    # Wire services, in the forms their copy and their clients' pages carry.
    "ap": "美联社", "apnews": "美联社", "associatedpress": "美联社", "theassociatedpress": "美联社",
    "美聯社": "美联社",
    "afp": "法新社", "agencefrancepresse": "法新社", "法新社afp": "法新社",
    "kyodo": "共同社", "kyodonews": "共同社", "共同通信": "共同社",
    "yonhap": "韩联社", "yonhapnewsagency": "韩联社", "韓聯社": "韩联社",
    "中國新聞社": "中新社", "中国新闻社": "中新社",
}
# What hosting platforms, CMS defaults and empty templates put where a site's name belongs: no outlet.
PLATFORMS = {
    "hosted", "wordpress", "wordpresscom", "medium", "blogger", "blogspot", "substack", "tumblr", "ghost",
    "squarespace", "wix", "weebly", "jekyll", "hugo", "home", "homepage", "index", "untitled", "news", "blog",
    "website", "mysite", "sitename", "yoursitename",
}
KNOWN = set(HOSTS.values())
# "新华社新加坡6月12日电", "中新社北京5月3日电", "(法新社巴黎22日电)", "路透东京8月28日 -"
DATELINE_AGENCY = re.compile(
    r"^[\s(（【*]*(?:据)?(新华社|中新社|法新社|路透社?|美联社|共同社|韩联社|中央社|德国之声中文网|美国之音)"
)
# Where an outlet writes its times: known hosts, then country-code domains of one-zone countries.
HOST_ZONES = {
    "rfi.fr": "Europe/Paris", "afp.com": "Europe/Paris", "dw.com": "Europe/Berlin",
    "bbc.com": "Europe/London", "bbc.co.uk": "Europe/London", "theguardian.com": "Europe/London",
    "voachinese.com": "America/New_York", "voanews.com": "America/New_York", "rfa.org": "America/New_York",
    "nytimes.com": "America/New_York", "apnews.com": "America/New_York", "ap.org": "America/New_York",
    "xinhuanet.com": "Asia/Shanghai", "news.cn": "Asia/Shanghai", "people.com.cn": "Asia/Shanghai",
    "chinadaily.com.cn": "Asia/Shanghai", "chinanews.com": "Asia/Shanghai", "ftchinese.com": "Asia/Shanghai",
    "zaobao.com": "Asia/Singapore", "cna.com.tw": "Asia/Taipei", "focustaiwan.tw": "Asia/Taipei",
    "scmp.com": "Asia/Hong_Kong", "kyodonews.net": "Asia/Tokyo", "voacantonese.com": "America/New_York",
}
TLD_ZONES = {
    "cn": "Asia/Shanghai", "tw": "Asia/Taipei", "hk": "Asia/Hong_Kong", "mo": "Asia/Macau", "sg": "Asia/Singapore",
    "jp": "Asia/Tokyo", "kr": "Asia/Seoul", "in": "Asia/Kolkata", "il": "Asia/Jerusalem", "fr": "Europe/Paris",
    "de": "Europe/Berlin", "uk": "Europe/London", "it": "Europe/Rome", "nl": "Europe/Amsterdam",
    "be": "Europe/Brussels", "ch": "Europe/Zurich", "at": "Europe/Vienna", "cz": "Europe/Prague",
    "pl": "Europe/Warsaw", "se": "Europe/Stockholm", "no": "Europe/Oslo", "dk": "Europe/Copenhagen",
    "fi": "Europe/Helsinki", "ie": "Europe/Dublin", "gr": "Europe/Athens", "hu": "Europe/Budapest",
}
# Leading host labels that name no site of their own.
HOST_PREFIX = re.compile(r"^(?:www\d*|m|amp|mobile)\.")


def _key(name: str) -> str:
    return re.sub(r"[\s\-–—|.·]", "", name).lower()


def canonical(name: str) -> str:
    """One outlet, one name: aliases resolved, whitespace tidied, a host written as a name made a host,
    a hosting platform's name refused ("")."""
    name = re.sub(r"\s+", " ", str(name or "")).strip()
    if re.match(r"(?i)^(https?://|www\.)", name):
        return from_host(name if "://" in name else f"http://{name}")
    key = _key(name)
    if key in PLATFORMS:
        return ""
    return ALIASES.get(key, name)


def is_outlet(name: str) -> bool:
    """Whether a name (a front matter author or category, say) is a known outlet rather than a person."""
    return bool(name) and canonical(name) in KNOWN | set(ALIASES.values())


def site_host(url: str) -> str:
    """The URL's host without `www.`/`m.`/`amp.`, lower-case; "" when there is none or it is malformed."""
    try:
        host = (urlsplit(url).hostname or "").lower() if url else ""
    except ValueError:  # a bad port or IPv6 literal names no host
        return ""
    return HOST_PREFIX.sub("", host)


def _known_suffix(host: str, table: dict) -> str:
    for suffix in sorted(table, key=len, reverse=True):
        if host == suffix or host.endswith("." + suffix):
            return table[suffix]
    return ""


def from_host(url: str, known_only: bool = False) -> str:
    host = site_host(url)
    if not host:
        return ""
    return _known_suffix(host, HOSTS) or ("" if known_only else host)


def zone_of(url: str) -> str:
    """The IANA zone an outlet writes its times in, when its host tells ("" otherwise)."""
    host = site_host(url)
    if not host or re.fullmatch(r"[\d.]+|\[?[0-9a-f:]+\]?", host):
        return ""
    return _known_suffix(host, HOST_ZONES) or TLD_ZONES.get(host.rsplit(".", 1)[-1], "")


def from_dateline(text_head: str) -> str:
    match = DATELINE_AGENCY.search(text_head or "")
    return canonical(match[1]) if match else ""


def resolve(article: Article, text_head: str) -> str:
    """The known host's name, else the reader's name (canonical), else a dateline's agency, else the bare host."""
    url = article.url or ""
    return (
        from_host(url, known_only=True)
        or canonical(article.outlet)
        or from_dateline(text_head)
        or from_host(url)
    )


def unify(articles: list[Article]) -> None:
    """One name per outlet across the book: a page known only by its host takes the one name the other pages
    of that host declare; spellings of one name that differ only in case, spaces or a leading "The" become
    the most used one."""
    names_by_host: dict[str, Counter] = {}
    for article in articles:
        host = site_host(article.url or "")
        if host and article.outlet and article.outlet != host:
            names_by_host.setdefault(host, Counter())[article.outlet] += 1
    by_label = {_spelling(n): n for counts in names_by_host.values() for n in counts}
    for article in articles:
        host = site_host(article.url or "")
        if not host or article.outlet != host:
            continue
        declared = names_by_host.get(host)
        if declared and len(declared) == 1:  # several names on one host (a platform, syndication): keep the host
            article.outlet = next(iter(declared))
        else:
            article.outlet = by_label.get(_spelling(_host_label(host)), article.outlet)
    _one_spelling(articles)


def _spelling(name: str) -> str:
    """What tells two spellings of one name apart: not case, spaces, punctuation, a leading "The" or a domain
    ending ("Libération.fr" is "Libération")."""
    name = re.sub(r"\.(?:com|net|org|[a-z]{2})$", "", name.strip().lower())
    return re.sub(r"^the", "", re.sub(r"\W+", "", name))


def _host_label(host: str) -> str:
    """`taipeitimes` for taipeitimes.com or taipeitimes.com.tw: the label before the public suffix."""
    labels = host.split(".")
    while len(labels) > 1 and (len(labels[-1]) <= 3 or labels[-1] in {"info", "news"}):
        labels.pop()
    return labels[-1]


def _one_spelling(articles: list[Article]) -> None:
    counts = Counter(a.outlet for a in articles if a.outlet)
    best: dict[str, str] = {}
    for name, _ in counts.most_common():
        best.setdefault(_spelling(name) or name, name)
    for article in articles:
        if article.outlet:
            article.outlet = best.get(_spelling(article.outlet) or article.outlet, article.outlet)
