"""Outlet names: from front matter when given, else from a dateline, else from the URL's host."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Host suffix -> the name readers know the outlet by. Unknown hosts show as the bare host name.
HOSTS = {
    "rfi.fr": "法国国际广播电台",
    "voachinese.com": "美国之音",
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
}
# "新华社新加坡6月12日电", "中新社北京5月3日电", "(法新社巴黎22日电)"
DATELINE_AGENCY = re.compile(r"^[\s(（【]*(?:据)?(新华社|中新社|法新社|路透社|美联社|共同社|韩联社|中央社)")


def from_host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    if not host:
        return ""
    for suffix in sorted(HOSTS, key=len, reverse=True):
        if host == suffix or host.endswith("." + suffix):
            return HOSTS[suffix]
    return host


def from_dateline(text_head: str) -> str:
    match = DATELINE_AGENCY.search(text_head)
    return match[1] if match else ""
