"""compile/pruning.py reads, prunes and writes a whole document exactly as BeautifulSoup does: dating's signals
and cleaning's first half moved onto it must change no date and no byte of the books."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from compile import fragment, walk
from compile.pruning import Pruned
from compile.sanitize import xml_text
from tests.test_fragment import TRICKY

EXTRACTION_DEV = Path(__file__).resolve().parents[2] / "shared" / "extraction-dev"

DOCUMENTS = [*TRICKY, "   ", "<html><head><title>t</title></head></html>", "<!DOCTYPE html><p>x",
             "<body class=' a b '><p>x</p></body><body id=2><p>y</p></body>", "text <!--c--> more",
             "<frameset><frame></frameset>", "&#1;x&#xfffe;", "<p>a\r\nb</p>", "<br><p>x</p></br>",
             "<div>a<span>b</span>c<video><p>in</p></video>d</div><p>e<img src=x>f</p>"]


def _pair(html: str) -> tuple[BeautifulSoup, Pruned]:
    return BeautifulSoup(html, "lxml"), Pruned(html)


def assert_same(soup: BeautifulSoup, page: Pruned) -> None:
    """The same tags, texts (three ways) and children, and the same HTML written."""
    body = soup.body
    top = next(page.root.iter("body"), None)
    assert (body is None) == (top is None)
    if body is None or top is None:
        return
    # What XML cannot hold (`&#1;`) lxml cannot either: BeautifulSoup keeps it until the sanitizer's output loses it.
    assert page.inner_html(top) == xml_text(body.decode_contents())
    tags, elements = walk.tags(body), page.tags(top)
    assert [tag.name for tag in tags] == [element.tag for element in elements]
    for tag, element in zip([body, *tags], [top, *elements], strict=True):
        if element.tag in fragment.NOT_PLAIN:  # their own strings are of another class: never read as text
            continue
        for separator, strip in (("", False), (" ", True), ("\n", True)):
            assert page.text(element, separator, strip) == xml_text(tag.get_text(separator, strip=strip))
        assert [child.name for child in tag.children if child.name] == \
            [child.tag for child in page.children(element, [t.tag for t in elements])]


def prune_alike(soup: BeautifulSoup, page: Pruned, rng: random.Random, share: float = 0.1) -> None:
    """Decompose or unwrap the same tags in both (about `share` of them)."""
    body, top = soup.body, next(page.root.iter("body"), None)
    if body is None or top is None:
        return
    tags, elements = walk.tags(body), page.tags(top)
    for index in sorted(rng.sample(range(len(tags)), max(1, int(len(tags) * share)) if tags else 0)):
        if vars(tags[index]).get("_decomposed"):
            continue
        if rng.random() < 0.5:
            tags[index].decompose()
            page.drop(elements[index])
        else:
            tags[index].unwrap()
            page.unwrap(elements[index])


@pytest.mark.parametrize("html", DOCUMENTS)
def test_read_and_pruned_as_beautifulsoup(html):
    soup, page = _pair(html)
    assert_same(soup, page)
    rng = random.Random(len(html))
    for _ in range(3):
        prune_alike(soup, page, rng, share=0.3)
        assert_same(soup, page)
    assert page.text(page.root, " ", strip=True) == xml_text(soup.get_text(" ", strip=True))


def test_strings_stay_apart_where_something_was_pruned():
    """lxml would join `a` and `c` when the span between them goes; BeautifulSoup keeps two strings, read as two
    words, and so does this."""
    page = Pruned("<p>a<span>b</span>c</p>")
    p = page.first(page.top, "p")
    assert p is not None
    page.drop(page.tags(p, "span")[0])
    assert page.text(p, " ") == "a c" and page.inner_html(page.top) == "<p>ac</p>"


def test_a_replaced_element_takes_the_place_without_its_text():
    page = Pruned("<p>x<picture><img src=a>inner</picture>after</p>")
    img = page.first(page.top, "img")
    picture = page.first(page.top, "picture")
    assert img is not None and picture is not None
    page.replace(picture, img)
    assert page.inner_html(page.top) == '<p>x<img src="a"/>after</p>'


@pytest.mark.skipif(not EXTRACTION_DEV.is_dir(), reason="extraction-dev is not here")
def test_real_pages_pruned_as_beautifulsoup_prunes_them():
    """Saved web pages, whole and cut at random places (broken markup), pruned at random in three rounds."""
    rng = random.Random(11)
    pages = sorted(EXTRACTION_DEV.glob("*/source.html"))[:40]
    assert pages
    for path in pages:
        text = path.read_text(encoding="utf-8", errors="replace")
        for html in [text, text[rng.randrange(len(text) or 1):][:rng.randrange(1, 5000)]]:
            soup, page = _pair(html)
            for _ in range(3):
                prune_alike(soup, page, rng)
                assert_same(soup, page)
