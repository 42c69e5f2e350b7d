"""corpus-dev (36 real articles): dates, outlets and junk, against expectations worked out by hand."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from compile.build import pipeline
from tests.conftest import CORPUS_DEV

EXPECTED = tomllib.loads((Path(__file__).parent / "fixtures" / "ingest" / "corpus_dev_dates.toml").read_text("utf-8"))
ZONE = ZoneInfo("Asia/Shanghai")
# Strings that are the feed's or the site's, never the article's.
JUNK = ["获取更多RSS", "feedx", "我们的标准", "信任原则", "版权声明", "© 2020 AFP", "最近更新", "小时前", "分钟前",
        "使用浏览器播视频", "view video in browser", "share-button", "whatsapp", "selfpromo", "Alexander Freund<"]

pytestmark = pytest.mark.skipif(not CORPUS_DEV.is_dir(), reason="corpus-dev is not on this machine")


@pytest.fixture(scope="module")
def articles() -> dict:
    return {name: pipeline.read_one(CORPUS_DEV, CORPUS_DEV / f"{name}.txt", ZONE, None) for name in EXPECTED}


def _matches(article, expected) -> bool:
    if article.published is None:
        return False
    if isinstance(expected, dt.date) and not isinstance(expected, dt.datetime):
        return article.published.date() == expected
    want = dt.datetime.fromisoformat(expected)
    return abs(article.published - want) < dt.timedelta(minutes=1)


def test_every_expected_file_exists():
    assert len(EXPECTED) == 36
    assert all((CORPUS_DEV / f"{name}.txt").is_file() for name in EXPECTED)


def test_dates_match_the_articles(articles):
    wrong = {name: (str(a.published), a.date_source) for name, a in articles.items()
             if not _matches(a, EXPECTED[name]["published"])}
    assert not wrong, f"{36 - len(wrong)}/36 right; wrong: {wrong}"


def test_date_sources_and_awareness(articles):
    for name, article in articles.items():
        assert article.published.tzinfo is not None, name
        assert article.date_source.startswith(EXPECTED[name]["source"]), (name, article.date_source)
        assert article.archived is not None and article.archived.tzinfo is not None, name


def test_archived_is_kept_apart_and_said(articles):
    """The capture time is never passed off as a publication date."""
    for name, article in articles.items():
        if article.date_source.startswith("archived"):
            assert any("capture time" in w for w in article.warnings), name
        else:
            assert article.published != article.archived, name


def test_outlets_are_canonical(articles):
    wrong = {name: a.outlet for name, a in articles.items() if a.outlet != EXPECTED[name]["outlet"]}
    assert not wrong
    assert {a.outlet for a in articles.values()} == {"法国国际广播电台", "美国之音", "BBC", "德国之声", "路透社"}


def test_outlet_names_are_not_authors(articles):
    assert not [a.author for a in articles.values() if a.author in {"法广", "美国之音", "BBC", "德国之声", "路透"}]
    assert articles["d016_548012112329"].author == "Alexander Freund"


def test_no_junk_in_bodies(articles):
    found = [(name, junk) for name, a in articles.items() for junk in JUNK if junk in a.body]
    assert found == []


def test_no_false_disagreement_warnings(articles):
    """Dates inside sentences and captions are events, not datelines."""
    assert not [(n, w) for n, a in articles.items() for w in a.warnings if "disagree" in w]


def test_bbc_title_and_related_links_gone(articles):
    body = articles["d005_803790871020"].body
    assert "中国GDP：前三季度增速由负转正" not in body.split("</p>")[0]
    assert "中国一季度GDP降6.8%" not in body  # a "related stories" link list
    assert "<figcaption></figcaption>" not in body


def test_video_poster_becomes_figure(articles):
    article = articles["d021_226120661391"]
    assert len(article.images) == 1
    assert "gdb.voanews.com" in article.images[0].url


def test_reuters_caption_kept_in_its_figure(articles):
    body = articles["d029_663764182381"].body
    assert body.count("资料图片：2012年6月") == 2  # the caption and the image's alt
    assert "<figcaption>资料图片" in body
