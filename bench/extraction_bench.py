"""Main content of saved web pages: the tool's reading path ÷ plain trafilatura, on extraction-dev.

    python bench/extraction_bench.py [--data ../shared/extraction-dev] [--limit N] [--worst 10]

Body text is scored against Readability.js's output (`expected.html`) as the data's README says: words (CJK:
characters), 4-word shingles, multiset precision / recall / F1 per page, averaged over pages. The tool's text is
the cleaned body of `compile.readers.read_file` + `compile.clean.clean_article`; plain trafilatura is
`trafilatura.extract(page)` with its defaults (text output). Titles: exactly `expected-metadata.json`'s title,
white space normalised. Goals: tool F1 >= 0.95 and >= trafilatura; titles >= 90 %.
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

from compile.clean import clean_article  # noqa: E402
from compile.readers import read_file  # noqa: E402

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


def tool(page: Path) -> tuple[str, str, dict]:
    """(body text, title, extraction record) through the real reading path."""
    article = clean_article(read_file(page, page / "source.html"))
    return html_text(article.body), " ".join(article.title.split()), article.meta.get("extraction", {})


def plain_trafilatura(page: Path) -> str:
    import trafilatura

    return trafilatura.extract((page / "source.html").read_bytes()) or ""


def evaluate(data: Path, limit: int = 0) -> dict:
    """Per-page scores and timings for the tool and plain trafilatura."""
    chosen = pages(data)[:limit] if limit else pages(data)
    rows, seconds = [], {"tool": 0.0, "trafilatura": 0.0}
    tool(chosen[0])  # imports and first-use costs out of the timings
    plain_trafilatura(chosen[0])
    for page in chosen:
        want_text, want_title = expected(page)
        started = time.perf_counter()
        text, title, extraction = tool(page)
        seconds["tool"] += time.perf_counter() - started
        started = time.perf_counter()
        plain = plain_trafilatura(page)
        seconds["trafilatura"] += time.perf_counter() - started
        rows.append({"page": page.name, "tool": score(text, want_text), "trafilatura": score(plain, want_text),
                     "title_ok": title == want_title, "title": title, "expected_title": want_title,
                     "engine": extraction.get("engine", ""), "kept": extraction.get("kept")})
    return {"rows": rows, "seconds": seconds}


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
    print(f"{'':14}{'F1':>7}{'precision':>11}{'recall':>8}{'ms/page':>9}")
    for who in ("tool", "trafilatura"):
        print(f"{who:14}{mean(rows, who, 'f1'):7.3f}{mean(rows, who, 'precision'):11.3f}"
              f"{mean(rows, who, 'recall'):8.3f}{1000 * result['seconds'][who] / n:9.0f}")
    titles = sum(r["title_ok"] for r in rows)
    print(f"titles exactly right: {titles}/{n} = {100 * titles / n:.1f} %")
    fallbacks = [r["page"] for r in rows if r["engine"] != "trafilatura"]
    print(f"fallback reading: {len(fallbacks)} page(s) {' '.join(fallbacks)}")
    print("\nlowest tool F1 (tool P/R/F1 | trafilatura F1):")
    for r in sorted(rows, key=lambda r: r["tool"].f1)[:args.worst]:
        t = r["tool"]
        print(f"  {r['page']:32} {t.precision:.2f} {t.recall:.2f} {t.f1:.2f} | {r['trafilatura'].f1:.2f}"
              f"  {r['engine']} kept {r['kept']}")
    wrong = [r for r in rows if not r["title_ok"]]
    print(f"\ntitles not matched ({len(wrong)}):")
    for r in wrong:
        print(f"  {r['page']:32} {r['title'][:60]!r} != {r['expected_title'][:60]!r}")


if __name__ == "__main__":
    main()
