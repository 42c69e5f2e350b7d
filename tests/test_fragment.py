"""compile/fragment.py reads and writes an HTML fragment exactly as BeautifulSoup does: the passes moved onto it
(typesetting, the writers' image markup) must change no byte of the books."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from compile import fragment
from compile.transforms import typeset

EXTRACTION_DEV = Path(__file__).resolve().parents[2] / "shared" / "extraction-dev"

TRICKY = [
    "", "text only", "  <p>a</p>  <p>b</p>\n", "<ul>\n<li>a</li>\n</ul>", "<div>a</div></div>tail<p>x",
    "<!--   --><p>x</p><!---->", "<pre><!----> <!--  -->\n  </pre>", "<textarea>\n\n</textarea>",
    "<ruby>漢<rt>han</rt><rp>(</rp></ruby>", "<p class='  a   b '>x</p>", "<td headers=' a b '>x</td>",
    "<a rel=' x  y' title='he said \"hi\"' data-x=\"it's\">t</a>", "<p title='a\"b&apos;c'>x</p>",
    "<script>if (a<b && c) {}</script>", "<style>a>b{}</style>", "<?php echo 1 ?>x", "<br>text<img src=x>",
    "<p>&amp;&lt;&gt;&nbsp;&quot;</p>", "<meta charset='latin-1'><meta http-equiv='Content-Type' "
    "content='text/html; charset=gbk'>", "<p>a<b>b<i>c</i>d</b>e</p>\n\t", "<svg><circle r='1'/></svg>",
    "<p>" + "<b>" * 2000 + "deep" + "</b>" * 2000 + "</p>", "<input checked='' disabled=disabled foo>",
    "<table> <tr> <td>x</td> </tr> </table>",
]


def soup_inner(html: str) -> str:
    root = BeautifulSoup(f"<div>{html}</div>", "lxml").div
    assert root is not None
    return root.decode_contents()


@pytest.mark.parametrize("html", TRICKY)
def test_written_as_beautifulsoup_writes_it(html):
    assert fragment.inner_html(fragment.parse(html)) == soup_inner(html)


@pytest.mark.skipif(not EXTRACTION_DEV.is_dir(), reason="extraction-dev is not here")
def test_real_pages_written_as_beautifulsoup_writes_them():
    """Saved web pages, whole and cut at random places (broken markup); a doctype BeautifulSoup keeps in place
    is cut off: fragments have none."""
    rng = random.Random(7)
    pages = sorted(EXTRACTION_DEV.glob("*/*.html"))[:60]
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8", errors="replace")
        if "<!doctype" in text[:200].lower():
            text = text[text.index(">", text.lower().index("<!doctype")) + 1:]
        for html in [text] + [text[start:start + rng.randrange(1, 3000)]
                              for start in (rng.randrange(len(text) or 1) for _ in range(3))]:
            assert fragment.inner_html(fragment.parse(html)) == soup_inner(html), page


def test_strings_are_beautifulsoups_navigable_strings():
    html = "<p>a<!-- c -->b<script>x</script>c<ruby>漢<rt>kan</rt></ruby><b>d</b>e</p>"
    root = fragment.parse(html)
    assert [text.value for text in fragment.strings(root)] == ["a", "b", "c", "漢", "d", "e"]


def test_wrap_keeps_text_around_it():
    root = fragment.parse("<p>ab<b>c</b>de<i>f</i>g</p>")
    p = root[0]
    nodes = fragment.children(p)  # "ab", <b>, "de", <i>, "g"
    fragment.wrap(nodes[0:4], fragment.new("span", "keep"), offset=1)
    assert fragment.inner_html(root) == '<p>a<span class="keep">b<b>c</b>de<i>f</i></span>g</p>'


def test_replace_puts_pieces_in_place_of_a_tail():
    root = fragment.parse("<p>x<b>y</b>tail</p>")
    tail = fragment.strings(root)[-1]
    fragment.replace(tail, ["t", fragment.new("wbr"), fragment.new("span", "halt", "a"), "il"])
    assert fragment.inner_html(root) == '<p>x<b>y</b>t<wbr/><span class="halt">a</span>il</p>'


def test_typesetting_a_comment_does_not_lose_the_text_after_it():
    assert typeset.typeset_html("<p>一二<!-- c -->三四</p>") == '<p>一二<!-- c --><span class="keep">三四</span></p>'


def test_text_is_beautifulsoups_get_text():
    html = "<a href='x'>a<!--c-->b<rt>r</rt><script>s</script><b>c</b></a>tail"
    anchor = next(fragment.parse(html).iter("a"))
    soup = BeautifulSoup(f"<div>{html}</div>", "lxml").a
    assert soup is not None
    assert fragment.get_text(anchor) == soup.get_text() == "abc"


def test_insert_after_goes_before_the_text_that_follows():
    root = fragment.parse("<p><a href='x'>link</a> and more</p>")
    fragment.insert_after(next(root.iter("a")), fragment.new("sup", "link-ref", "1"))
    assert fragment.inner_html(root) == '<p><a href="x">link</a><sup class="link-ref">1</sup> and more</p>'


def test_characters_xml_cannot_hold_do_not_stop_typesetting():
    """A title from anthology.toml may hold a control character; lxml refuses to write one into a tree."""
    html = typeset.keep_end("第一句\x01话很长很长很长，第二句\x0b话ABC")
    assert "\x01" not in typeset.typeset_html(html) and "ABC" in typeset.typeset_html(html)


def test_references_to_characters_xml_cannot_hold_do_not_stop_a_pass():
    assert fragment.inner_html(fragment.parse('<p class="a&#1;b">x&#2;y</p>')) == '<p class="ab">xy</p>'
    assert "中文" in typeset.typeset_html("<p>中文ABC&#2;中文</p>")


def test_an_image_alt_from_a_title_xml_cannot_hold():
    """An override title in anthology.toml may hold U+FFFE; the image's alt text falls back to the title."""
    from compile.model import Article, Image
    from compile.writers.context import body_with_images

    article = Article(id="a", source="a.md", title="t\ufffe", body='<p><img src="http://a.com/1.jpg"></p>',
                      images=[Image(url="http://a.com/1.jpg", status="ok")])
    assert 'alt="t"' in body_with_images(article, lambda image: "images/1.jpg")


@pytest.mark.parametrize("html", TRICKY[:-5])
def test_an_ancestor_is_the_nearest_of_its_parents_named_so(html):
    """`ancestor` (lxml's C walk past the parent) finds what walking the parents one by one finds, for every
    string and element of every tricky fragment, whatever names are wanted (none: none found)."""
    root = fragment.parse(f"<pre><blockquote><p>{html}</p></blockquote></pre><figure><div>{html}</div></figure>")
    nodes = [*fragment.strings(root), *fragment.elements(root)]
    for wanted in ([], "pre", ["p", "div"], ["figure", "blockquote", "b"], ["li", "td"], "ruby"):
        for node in nodes:
            tags = fragment.names(wanted)
            walked = next((e for e in fragment.ancestors(node) if e.tag in tags), None)
            assert fragment.ancestor(node, wanted) is walked, (html, wanted)


def test_short_text_is_get_text_up_to_its_limit():
    tree = fragment.parse("<p>一二<!--注释-->三</p><script>x</script><p>四五</p>")
    text = fragment.get_text(tree)
    assert text == "一二三四五"
    for limit in range(8):
        assert fragment.short_text(tree, limit) == (text if len(text) <= limit else None)
