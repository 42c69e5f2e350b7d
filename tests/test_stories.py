"""Stories across outlets (compile/transforms/stories.py): one event's reports by different outlets are grouped,
each kept; the book says "also reported by" under the first; every decision is in the report.

tests/fixtures/one-event/: a Xinhua wire story and China News Service's rewrite of it (same day), a Deutsche
Welle report from another month and an undated Lianhe Zaobao commentary on the same launch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import json
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import opencc
import pikepdf
import pytest

from compile import config
from compile.build import pipeline
from compile.errors import ConfigError
from compile.model import Article
from compile.transforms import order, stories
from tests.checks import epubcheck_messages
from tests.conftest import CORPUS_DEV, FIXTURES, ROOT, SEEDS

sys.path.insert(0, str(ROOT / "bench"))
import corpus  # noqa: E402 - bench/ is not a package

ONE_EVENT = FIXTURES / "one-event"
WIRE, REWRITE, OTHER, UNDATED = ("001_xinhua_icbm.html", "002_chinanews_icbm.txt", "003_dw_camp_david.md",
                                 "004_zaobao_commentary.md")


def _settings(source: Path, **stories_settings) -> config.Settings:
    settings = config.load(source / "anthology.toml" if (source / "anthology.toml").is_file() else None,
                           source=source, offline=True)
    settings.stories = dataclasses.replace(settings.stories, **stories_settings)
    return settings


def _prepared(source: Path = ONE_EVENT, **stories_settings) -> pipeline.Prepared:
    return pipeline.prepare(source, _settings(source, **stories_settings))


@pytest.fixture(scope="module")
def articles() -> dict[str, Article]:
    return {a.source: a for a in _prepared().anthology.articles}


def _variant(article: Article, source: str, outlet: str, hours: float = 1, body: str | None = None) -> Article:
    """Another outlet's copy of `article`, published `hours` later."""
    assert article.published is not None
    return dataclasses.replace(article, id=source, source=source, outlet=outlet, url="", warnings=[], images=[],
                               published=article.published + dt.timedelta(hours=hours),
                               body=article.body if body is None else body)


def _sources(found: stories.Grouping) -> list[list[str]]:
    return [[a.source for a in story.articles] for story in found.stories]


# ---------------------------------------------------------------- the fixture


def test_the_wire_story_and_its_rewrite_are_one_story():
    prepared = _prepared()
    (story,) = prepared.anthology.stories
    assert [(a.source, a.outlet) for a in story.articles] == [(WIRE, "新华社"), (REWRITE, "中新社")]
    assert story.key == story.articles[0].id  # the earliest leads
    (decision,) = story.decisions
    assert decision["source"] == REWRITE and decision["matched"] == WIRE
    assert 0.5 < decision["similarity"] < order.NEAR_DUPLICATE  # a rewrite, not a copy
    assert decision["reason"].startswith(f"rewrite of {WIRE} (新华社)")
    assert prepared.duplicates == []  # nothing of the fixture is the same article twice


def test_an_unrelated_article_and_an_undated_one_are_not_grouped(articles):
    grouped = {a.source for s in _prepared().anthology.stories for a in s.articles}
    assert OTHER not in grouped and UNDATED not in grouped
    # The undated commentary is about the same launch, and shares some wording, but cannot be placed in time.
    assert stories.similarity(articles[UNDATED], articles[WIRE]) > 0.1
    dated = dataclasses.replace(articles[UNDATED], published=articles[WIRE].published)
    assert [set(s) for s in _sources(stories.group([articles[WIRE], dated], threshold=0.1, days=2))] == [
        {WIRE, UNDATED}]


def test_the_threshold_decides(articles):
    pair = [articles[WIRE], articles[REWRITE]]
    score = stories.similarity(*pair)
    assert _sources(stories.group(pair, threshold=score - 0.01, days=2)) == [[WIRE, REWRITE]]
    above = stories.group(pair, threshold=score + 0.01, days=2)
    assert above.stories == []
    (rejected,) = above.rejected
    assert rejected["sources"] == [WIRE, REWRITE] and rejected["similarity"] == round(score, 3)
    assert rejected["reason"] == f"below the threshold ({score + 0.01:g})"


def test_the_threshold_is_a_setting(tmp_path):
    folder = tmp_path / "one-event"
    folder.mkdir()
    for path in ONE_EVENT.rglob("*"):
        if path.is_file():
            (folder / path.relative_to(ONE_EVENT)).parent.mkdir(parents=True, exist_ok=True)
            (folder / path.relative_to(ONE_EVENT)).write_bytes(path.read_bytes())
    toml = folder / "anthology.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "\n[stories]\nthreshold = 0.9\ndays = 1\n", encoding="utf-8")
    settings = config.load(toml, offline=True)
    assert (settings.stories.threshold, settings.stories.days, settings.stories.enabled) == (0.9, 1.0, True)
    prepared = pipeline.prepare(folder, settings)
    assert prepared.anthology.stories == []
    assert [r["sources"] for r in prepared.stories_rejected] == [[WIRE, REWRITE]]
    for bad in ("threshold = 0", "threshold = 1.5", "days = -1", "enabled = 'yes'"):
        toml.write_text(f"[stories]\n{bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="stories"):
            config.load(toml)


def test_switched_off_there_are_no_stories():
    prepared = _prepared(enabled=False)
    assert prepared.anthology.stories == [] and prepared.stories_rejected == []
    assert len(prepared.anthology.articles) == 4


# ---------------------------------------------------------------- the rules


def test_dates_must_be_close(articles):
    late = _variant(articles[WIRE], "late.html", "中新社", hours=3 * 24)
    assert stories.group([articles[WIRE], late], threshold=0.3, days=2).stories == []
    assert _sources(stories.group([articles[WIRE], late], threshold=0.3, days=4)) == [[WIRE, "late.html"]]


def test_one_outlet_is_never_a_story_and_has_one_article_per_story(articles):
    again = _variant(articles[REWRITE], "cns-update.txt", "中新社", hours=2)
    assert stories.group([articles[REWRITE], again], threshold=0.3, days=2).stories == []
    found = stories.group([articles[WIRE], articles[REWRITE], again], threshold=0.3, days=2)
    (story,) = found.stories
    assert [a.outlet for a in story.articles] == ["新华社", "中新社"]
    assert any("one article per outlet" in r["reason"] for r in found.rejected)


def test_an_article_without_an_outlet_never_joins(articles):
    anonymous = _variant(articles[WIRE], "copy.html", "")
    assert stories.group([articles[WIRE], anonymous], threshold=0.3, days=2).stories == []


def test_a_traditional_rewrite_of_a_simplified_story_is_found(articles):
    hant = opencc.OpenCC("s2tw").convert(articles[REWRITE].body)
    assert hant != articles[REWRITE].body
    taiwan = _variant(articles[WIRE], "cna.html", "中央社", hours=5, body=hant)
    (story,) = stories.group([articles[WIRE], taiwan], threshold=0.3, days=2).stories
    assert story.decisions[0]["similarity"] == pytest.approx(stories.similarity(articles[WIRE], articles[REWRITE]),
                                                             abs=0.05)


ENGLISH = [
    "<p>SEOUL, July 12 - North Korea fired an intercontinental ballistic missile into the sea off its east coast on "
    "Wednesday, South Korea's military said, the first such launch since April. The missile flew for about 74 "
    "minutes and reached an altitude of more than 6,000 km before falling outside Japan's economic zone.</p>",
    "<p>North Korea launched an intercontinental ballistic missile on Wednesday that flew for about 74 minutes, "
    "South Korea's military said, in the first such launch since April. It reached an altitude of more than 6,000 "
    "km and came down outside Japan's exclusive economic zone, Tokyo said.</p>",
    "<p>The leaders of the United States, Japan and South Korea agreed at Camp David on Friday to meet every year "
    "and to consult each other in a crisis, in a summit that their officials described as the start of a new era "
    "of cooperation between the three democracies in the region.</p>",
]


def test_english_texts_are_compared_by_words():
    when = dt.datetime(2023, 7, 12, 3, tzinfo=dt.UTC)
    reuters, ap, summit = (Article(id=name, source=name, outlet=name, body=body, published=when)
                           for name, body in zip(("reuters", "ap", "summit"), ENGLISH, strict=True))
    found = stories.group([reuters, ap, summit], threshold=0.3, days=2)
    assert _sources(found) == [["ap", "reuters"]]
    # Letter trigrams would make any two English texts alike; word trigrams do not.
    assert stories.similarity(reuters, summit) < 0.05


def test_the_sketch_never_skips_a_pair_at_the_threshold():
    """Exact similarity is counted only where the sketch's estimate reaches `prefilter`: over many texts at or
    above the threshold the estimate lets every one through."""
    rng = random.Random(23)
    for threshold in (0.2, 0.3, 0.5, 0.8):
        for trial in range(300):
            large = set(rng.sample(range(10**9), rng.randint(400, 4000)))
            size = rng.randint(300, len(large))
            inside = int(size * rng.uniform(threshold, 1))
            small = set(rng.sample(sorted(large), inside)) | set(rng.sample(range(10**9, 2 * 10**9), size - inside))
            sketch = heapq.nsmallest(stories.SKETCH, small)
            assert order.estimated_containment(sketch, large) >= stories.prefilter(threshold), (threshold, trial)


def test_volumes_keep_the_stories_of_their_own_articles(articles):
    third = _variant(articles[WIRE], "dw-copy.html", "德国之声", hours=6)
    (story,) = stories.group([articles[WIRE], articles[REWRITE], third], threshold=0.3, days=2).stories
    assert len(story.articles) == 3
    (first,) = stories.within([story], [articles[WIRE], articles[REWRITE]])
    assert [a.source for a in first.articles] == [WIRE, REWRITE]
    assert [d["source"] for d in first.decisions] == [REWRITE]
    (second,) = stories.within([story], [articles[REWRITE], third])
    assert second.key == articles[REWRITE].id  # the earliest of the volume leads there
    assert stories.within([story], [third]) == []


# ---------------------------------------------------------------- duplicates across outlets


def test_a_wire_copy_in_another_outlet_is_kept_and_grouped(articles):
    copy = _variant(articles[WIRE], "copy-in-cns.html", "中新社")
    same_outlet = _variant(articles[WIRE], "copy-in-xinhua.html", "新华社")
    kept, decisions = order.drop_duplicates([articles[WIRE], copy, same_outlet])
    assert [a.source for a in kept] == [WIRE, "copy-in-cns.html"]
    assert [d["dropped"] for d in decisions] == ["copy-in-xinhua.html"]
    (story,) = stories.group(kept, threshold=0.3, days=2).stories
    assert story.decisions[0]["similarity"] == 1.0 and story.decisions[0]["reason"].startswith("copy of")


def test_the_seeds_and_the_development_corpus_have_no_story_and_lose_nothing():
    for source in (SEEDS, CORPUS_DEV):
        if not source.is_dir():
            continue
        prepared = _prepared(source)
        assert prepared.anthology.stories == [], source
        assert prepared.duplicates == [], source


def test_a_thousand_articles_sharing_passages_are_grouped_quickly_and_by_the_rules():
    """bench/corpus.py's way: every text is 4-10 of the seeds' paragraphs, so many pairs share passages (the
    worst case for candidates). Only pairs within the date window are looked at, and counted exactly only
    where the sketch says they may come near the threshold; every story keeps the rules."""
    import time

    rng = random.Random(1)
    paragraphs = corpus.seed_paragraphs()
    start = dt.datetime(2017, 1, 1, tzinfo=dt.UTC)
    many = [Article(id=str(i), source=f"{i}.txt", outlet=f"outlet {i % 5}",
                    body="".join(f"<p>{p}</p>" for p in rng.sample(paragraphs, rng.randint(4, 10))),
                    published=start + dt.timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60)))
            for i in range(1000)]
    began = time.perf_counter()
    found = stories.group(many, threshold=0.3, days=2)
    assert time.perf_counter() - began < 15  # ~1 s on one core
    assert found.stories and len(found.rejected) == stories.NEAR_MAX
    for story in found.stories:
        outlets = [a.outlet for a in story.articles]
        assert len(set(outlets)) == len(outlets)
        assert story.articles == sorted(story.articles, key=order.sort_key)
        assert story.articles[-1].published - story.articles[0].published <= dt.timedelta(days=2)
        assert all(d["similarity"] >= 0.3 for d in story.decisions) and len(story.decisions) == len(outlets) - 1
    grouped = [a.id for s in found.stories for a in s.articles]
    assert len(grouped) == len(set(grouped))  # an article is in one story at most


# ---------------------------------------------------------------- the book and the report


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("one-event")
    settings = _settings(ONE_EVENT)
    settings.formats = ["epub", "pdf"]
    result = pipeline.build(ONE_EVENT, out, settings)
    paths = {o["format"]: Path(o["path"]) for o in result.report["outputs"]}
    return {"report": json.loads(result.report_path.read_text(encoding="utf-8")), **paths}


def test_the_report_says_why(built):
    report = built["report"]
    (story,) = report["stories"]
    assert story["outlets"] == ["新华社", "中新社"]
    lead, rewrite = story["articles"]
    assert (lead["source"], lead["matched"], lead["similarity"]) == (WIRE, None, None)
    assert lead["reason"] == "leads the story: published first"
    assert (rewrite["source"], rewrite["outlet"], rewrite["matched"]) == (REWRITE, "中新社", WIRE)
    assert rewrite["title"].startswith("朝鲜向半岛以东海域发射洲际弹道导弹") and rewrite["similarity"] > 0.5
    assert report["stories_rejected"] == []


def test_the_epub_says_also_reported_by_under_the_first(built):
    with zipfile.ZipFile(built["epub"]) as epub:
        lead = epub.read("EPUB/text/001_xinhua_icbm.xhtml").decode()
        others = [epub.read(f"EPUB/text/{name}.xhtml").decode()
                  for name in ("002_chinanews_icbm", "003_dw_camp_david", "004_zaobao_commentary")]
    line = re.search(r'<span class="also-reported">(.*?)</span></p>', lead)
    assert line is not None
    assert line[1] == ('同一事件的其他报道：<a class="outlet" href="002_chinanews_icbm.xhtml#002_chinanews_icbm">'
                       "中新社</a>")
    assert not any("also-reported" in text for text in others)
    assert [m for m in epubcheck_messages(built["epub"]) if m["severity"] in ("ERROR", "FATAL")] == []


def test_the_pdf_says_also_reported_by_and_links_to_the_other_article(built):
    text = subprocess.run(["pdftotext", "-layout", str(built["pdf"]), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert len(re.findall(r"同一事件的其他报道：\s*中新社", text)) == 1
    with pikepdf.open(built["pdf"]) as pdf:
        names = pikepdf.NameTree(pdf.Root.Names.Dests)
        pages = [page.obj.objgen for page in pdf.pages]
        title_page = pages.index(names["001_xinhua_icbm"][0].objgen)
        links = [str(a.Dest) for a in pdf.pages[title_page].get("/Annots", []) if "/Dest" in a]
        assert "002_chinanews_icbm" in links
        assert pages.index(names["002_chinanews_icbm"][0].objgen) > title_page


def test_the_link_survives_chunked_rendering(tmp_path):
    """Chunks render apart (compile/writers/pdf/chunked/): a link to an article of another chunk is kept, and
    the merged PDF points it at that article's page."""
    settings = _settings(ONE_EVENT)
    settings.formats = ["pdf"]
    settings.pdf = dataclasses.replace(settings.pdf, mode="chunked", chunk_articles=1, workers=1)
    result = pipeline.build(ONE_EVENT, tmp_path, settings)
    (output,) = result.outputs
    assert not output.notes  # chunked, not the one-pass fallback
    with pikepdf.open(output.path) as pdf:
        names = pikepdf.NameTree(pdf.Root.Names.Dests)
        pages = [page.obj.objgen for page in pdf.pages]
        lead = pages.index(names["001_xinhua_icbm"][0].objgen)
        (link,) = [a for a in pdf.pages[lead].get("/Annots", []) if str(a.get("/Dest", "")) == "002_chinanews_icbm"]
        assert pages.index(names[str(link.Dest)][0].objgen) == pages.index(names["002_chinanews_icbm"][0].objgen)


@pytest.mark.parametrize("per_volume", [1, 2])
def test_a_volume_names_only_the_reports_it_holds(tmp_path, per_volume):
    settings = _settings(ONE_EVENT)
    settings.formats = ["epub"]
    settings.volumes = dataclasses.replace(settings.volumes, max_articles=per_volume)
    result = pipeline.build(ONE_EVENT, tmp_path, settings)
    first = next(o.path for o in result.outputs if o.path.name == "one-event-01.epub")
    with zipfile.ZipFile(first) as epub:
        lead = epub.read("EPUB/text/001_xinhua_icbm.xhtml").decode()
    assert ("also-reported" in lead) == (per_volume == 2)  # never a link to an article of another volume
    assert len(result.report["stories"]) == 1  # the report is the whole archive's
