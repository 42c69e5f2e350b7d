"""Main content of saved web pages: the tool's reading path ÷ plain trafilatura, on extraction-dev.

    python bench/extraction_bench.py [--data ../shared/extraction-dev] [--limit N] [--worst 10]

Body text is scored against Readability.js's output (`expected.html`) as the data's README says: words (CJK:
characters), 4-word shingles, multiset precision / recall / F1 per page, averaged over pages. The tool's text is
the cleaned body of `compile.readers.read_file` + `compile.transforms.clean.clean_article`; plain trafilatura is
`trafilatura.extract(page)` with its defaults (text output). Titles: exactly `expected-metadata.json`'s title,
white space normalised; and, beside it, headlines: Readability.js keeps a site's or author's name in many titles
(`How to Build a Terrarium | eHow`) where the tool, as the book wants, gives the article's own headline, so a
title also counts as a headline when Readability's is it plus only names the page declares (its site, its
author). Times: wall clock and CPU time per page (the CPU time is steadier on a shared machine).
Goals: tool F1 >= 0.95 and >= trafilatura; titles >= 90 %.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bs4 import BeautifulSoup  # noqa: E402

from compile.readers import read_file  # noqa: E402
from compile.transforms.clean import clean_article  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "extraction-dev"
# A CJK (or kana, hangul) character is a word; elsewhere a run of word characters is.
WORD = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]|\w+")


@dataclass
class Score:
    precision: float
    recall: float
    f1: float


def pages(data: Path) -> list[Path]:
    return sorted(d for d in data.iterdir() if (d / "source.html").is_file() and (d / "expected.html").is_file())


def shingles(text: str, size: int = 4) -> Counter:
    words = WORD.findall(text.lower())
    if len(words) < size:
        return Counter([tuple(words)]) if words else Counter()
    return Counter(tuple(words[i:i + size]) for i in range(len(words) - size + 1))


def score(found: str, expected: str) -> Score:
    got, want = shingles(found), shingles(expected)
    if not got and not want:
        return Score(1.0, 1.0, 1.0)
    overlap = sum((got & want).values())
    precision = overlap / sum(got.values()) if got else 0.0
    recall = overlap / sum(want.values()) if want else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision, recall, f1)


def html_text(html: str) -> str:
    return BeautifulSoup(html, "lxml").get_text(" ") if html.strip() else ""


def expected(page: Path) -> tuple[str, str]:
    """(body text, title) that Readability.js extracted."""
    meta = json.loads((page / "expected-metadata.json").read_text(encoding="utf-8"))
    return html_text((page / "expected.html").read_text(encoding="utf-8")), " ".join((meta.get("title") or "").split())


def tool(page: Path) -> tuple[str, str, dict, list[str]]:
    """(body text, title, extraction record, names the page declares) through the real reading path."""
    article = clean_article(read_file(page, page / "source.html"))
    names = [n for n in (article.outlet, article.author) if n]
    return html_text(article.body), " ".join(article.title.split()), article.meta.get("extraction", {}), names


def headline_ok(title: str, expected_title: str, names: list[str]) -> bool:
    """The title is Readability's, or Readability's is it followed by separated names the page declares."""
    if title == expected_title:
        return True
    if not title or not expected_title.startswith(title):
        return False
    rest = [part for part in re.split(r"\s+[|\-–—·»:]\s+|\s*[|｜]\s*", expected_title[len(title):]) if part.strip()]
    declared = {_key(n) for n in names}
    return bool(rest) and all(_key(part) in declared for part in rest)


def _key(text: str) -> str:
    return re.sub(r"\W+", "", text).lower()


def plain_trafilatura(page: Path) -> str:
    import trafilatura

    return trafilatura.extract((page / "source.html").read_bytes()) or ""


def evaluate(data: Path, limit: int = 0) -> dict:
    """Per-page scores and timings for the tool and plain trafilatura."""
    chosen = pages(data)[:limit] if limit else pages(data)
    rows, seconds, cpu = [], {"tool": 0.0, "trafilatura": 0.0}, {"tool": 0.0, "trafilatura": 0.0}
    tool(chosen[0])  # imports and first-use costs out of the timings
    plain_trafilatura(chosen[0])
    for page in chosen:
        want_text, want_title = expected(page)
        started, started_cpu = time.perf_counter(), time.process_time()
        text, title, extraction, names = tool(page)
        seconds["tool"] += time.perf_counter() - started
        cpu["tool"] += time.process_time() - started_cpu
        started, started_cpu = time.perf_counter(), time.process_time()
        plain = plain_trafilatura(page)
        seconds["trafilatura"] += time.perf_counter() - started
        cpu["trafilatura"] += time.process_time() - started_cpu
        rows.append({"page": page.name, "tool": score(text, want_text), "trafilatura": score(plain, want_text),
                     "title_ok": title == want_title, "headline_ok": headline_ok(title, want_title, names),
                     "title": title, "expected_title": want_title,
                     "engine": extraction.get("engine", ""), "kept": extraction.get("kept")})
    return {"rows": rows, "seconds": seconds, "cpu": cpu}


def mean(rows: list[dict], who: str, field: str) -> float:
    return sum(getattr(r[who], field) for r in rows) / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages (by name)")
    parser.add_argument("--worst", type=int, default=10, help="list the N pages with the lowest tool F1")
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"{args.data}: no such folder (extraction-dev)")
    result = evaluate(args.data, args.limit)
    rows, n = result["rows"], len(result["rows"])
    print(f"{n} pages of {args.data}")
    print(f"{'':14}{'F1':>7}{'precision':>11}{'recall':>8}{'ms/page':>9}{'CPU ms/page':>13}")
    for who in ("tool", "trafilatura"):
        print(f"{who:14}{mean(rows, who, 'f1'):7.3f}{mean(rows, who, 'precision'):11.3f}"
              f"{mean(rows, who, 'recall'):8.3f}{1000 * result['seconds'][who] / n:9.0f}"
              f"{1000 * result['cpu'][who] / n:13.0f}")
    titles = sum(r["title_ok"] for r in rows)
    headlines = sum(r["headline_ok"] for r in rows)
    print(f"titles exactly right: {titles}/{n} = {100 * titles / n:.1f} %; headlines (less declared names): "
          f"{headlines}/{n} = {100 * headlines / n:.1f} %")
    engines = Counter(r["engine"] for r in rows)
    print("engines: " + ", ".join(f"{engine} {count}" for engine, count in engines.most_common()))
    others = [r["page"] for r in rows if r["engine"] != "trafilatura"]
    print(f"not trafilatura: {' '.join(others)}")
    print("\nlowest tool F1 (tool P/R/F1 | trafilatura F1):")
    for r in sorted(rows, key=lambda r: r["tool"].f1)[:args.worst]:
        t = r["tool"]
        print(f"  {r['page']:32} {t.precision:.2f} {t.recall:.2f} {t.f1:.2f} | {r['trafilatura'].f1:.2f}"
              f"  {r['engine']} kept {r['kept']}")
    wrong = [r for r in rows if not r["title_ok"]]
    print(f"\ntitles not matched ({len(wrong)}; + = a headline less declared names):")
    for r in wrong:
        mark = "+" if r["headline_ok"] else " "
        print(f"  {mark} {r['page']:30} {r['title'][:60]!r} != {r['expected_title'][:70]!r}")


if __name__ == "__main__":
    main()
