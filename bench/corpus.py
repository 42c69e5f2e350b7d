"""Generate a realistic benchmark corpus: N articles in the seeds' three shapes, deterministic by seed.

Text is real Chinese news prose taken from seeds/ and recombined paragraph by paragraph; dates are
spread over several years; every third article has an image on IMAGE_BASE (a loopback server).

    python bench/corpus.py OUT_DIR --count 300 [--seed 1] [--image-base http://127.0.0.1:8765]
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
TITLE = "基准测试选集"


def seed_paragraphs() -> list[str]:
    """Every paragraph of the seeds, as plain text (HTML seeds and the markdown one)."""
    paragraphs = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        found = re.findall(r"<p>(.*?)</p>", text, flags=re.S)
        if not found:
            found = [p for p in re.split(r"\n\s*\n", text) if not p.lstrip().startswith(("#", "**"))]
        for raw in found:
            plain = re.sub(r"<[^>]+>", "", raw).strip()
            if len(plain) >= 40:
                paragraphs.append(html.unescape(plain))
    return paragraphs


def seed_titles() -> list[str]:
    titles = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        match = re.search(r"^\[(.+?)\]\(", text, flags=re.M) or re.search(r"^# (.+)$", text, flags=re.M)
        if match:
            titles.append(match[1])
    return titles


@dataclass(frozen=True)
class Spec:
    """One generated article: what its file says, in whichever shape."""

    index: int
    shape: str
    title: str
    when: dt.datetime
    body: list[str]
    image: str


def specs(count: int, seed: int = 1, image_base: str = "") -> list[Spec]:
    rng = random.Random(seed)
    paragraphs, titles = seed_paragraphs(), seed_titles()
    start = dt.datetime(2017, 1, 1, tzinfo=dt.UTC)
    made = []
    for index in range(count):
        when = start + dt.timedelta(minutes=rng.randrange(0, 7 * 365 * 24 * 60))
        title = f"{rng.choice(titles)[:18]}（{index + 1}）"
        body = rng.sample(paragraphs, k=rng.randint(4, 10))
        image = f"{image_base}/img/{index}.jpg" if image_base and index % 3 == 0 else ""
        made.append(Spec(index, ("rss", "jekyll", "markdown")[index % 3], title, when, body, image))
    return made


def generate(out: Path, count: int, seed: int = 1, image_base: str = "") -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in specs(count, seed, image_base):
        text = globals()[f"_{spec.shape}"](spec.title, spec.when, spec.body, spec.image, spec.index)
        path = out / f"{spec.index:05d}_{spec.shape}.txt"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    config = out / "anthology.toml"
    config.write_text(
        f'title = "{TITLE}"\nslug = "bench"\n[images]\nallow_private_hosts = true\n'
        'connect_timeout = 1.0\nretries = 0\n', encoding="utf-8")
    return written


def plain_html(count: int, seed: int = 1) -> str:
    """The same articles as one plain HTML book, oldest first, for the naive alternatives (pandoc, WeasyPrint
    alone): a title and the paragraphs of each, no dateline, caption or image."""
    articles = "".join(
        f"<h1>{html.escape(spec.title)}</h1>" + "".join(f"<p>{html.escape(p)}</p>" for p in spec.body) + "\n"
        for spec in sorted(specs(count, seed), key=lambda spec: spec.when))
    return (f'<!DOCTYPE html>\n<html lang="zh-Hans"><head><meta charset="utf-8"><title>{TITLE}</title></head>'
            f"<body>\n{articles}</body></html>\n")


def _url(index: int, when: dt.datetime) -> str:
    return f"https://news.example.org/{when:%Y%m%d}-article-{index}"


def _html_body(when: dt.datetime, body: list[str], image: str) -> str:
    paris = when.astimezone(dt.timezone(dt.timedelta(hours=1)))
    parts = [f"<div>{paris:%d/%m/%Y - %H:%M}</div>"]
    if image:
        parts.append(f'<img src="{image}"><div><small>图片说明：{body[0][:20]}</small></div>')
    parts.extend(f"<p>{html.escape(p)}</p>" for p in body)
    return "".join(parts)


def _rss(title, when, body, image, index) -> str:
    epoch = int((when + dt.timedelta(minutes=20)).timestamp() * 1000)
    return f"<!--{epoch}-->\n[{title}]({_url(index, when)})\n------\n\n{_html_body(when, body, image)}\n"


def _jekyll(title, when, body, image, index) -> str:
    front = (f'---\nlayout: post\ntitle: "{title}"\ndate: {when:%Y-%m-%dT%H:%M:%S}.000Z\n'
             f"author: 基准通讯社\nfrom: {_url(index, when)}\n---\n")
    return front + _rss(title, when, body, image, index)


def _markdown(title, when, body, image, index) -> str:
    local = when.astimezone(dt.timezone(dt.timedelta(hours=8)))
    lines = [f"# {title}", "", f"**新华社北京{local.year}年{local.month}月{local.day}日电**  "]
    if image:
        lines += ["", f"![{body[0][:20]}]({image})"]
    for paragraph in body:
        lines += ["", paragraph]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--image-base", default="")
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    print(f"{len(generate(args.out, args.count, args.seed, args.image_base))} articles in {args.out}")


if __name__ == "__main__":
    main()
