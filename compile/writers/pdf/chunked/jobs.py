"""What the build's process and the PDF workers exchange: a render's job and the facts it tells of its pages.

No WeasyPrint here: the build's process plans and merges with these, the workers (worker.py) render them."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

# Suppresses what the frame draws: margin boxes (folios, running heads) and the page's own painting.
_MARGIN_BOXES = ("top-left-corner", "top-left", "top-center", "top-right", "top-right-corner",
                 "bottom-left-corner", "bottom-left", "bottom-center", "bottom-right", "bottom-right-corner",
                 "left-top", "left-middle", "left-bottom", "right-top", "right-middle", "right-bottom")
CHUNK_CSS = "@page { background: none !important; border: none !important;\n" + "\n".join(
    f"  @{box} {{ content: none !important; }}" for box in _MARGIN_BOXES) + "\n}\n"


@dataclass(frozen=True)
class Style:
    """What every render of a book shares: its stylesheets and the folders it may read."""

    css: tuple[str, ...]  # the theme's print stylesheets, by path
    page_css: str  # the page size (compile/writers/pdf/prepress.py)
    roots: tuple[str, ...]  # the folders a render may read: the theme's, the images'
    base_url: str  # the theme's folder: relative URLs in the HTML and CSS
    common: str = ""  # the digest of the code, fonts, theme and CSS: also keys the workers' parsed stylesheets


@dataclass(frozen=True)
class Job:
    """One HTML document for a worker to render to `out`: a chunk, the frame or the probe."""

    html: str
    out: str  # the PDF to write, in the chunk cache (none when not drawn)
    style: Style
    anchors: tuple[str, ...] = ()  # the ids whose pages the facts tell
    extra_css: str = ""  # a chunk's own rules (CHUNK_CSS); none for the frame and the probe
    known: tuple[tuple[str, int], ...] = ()  # a part's page references to other chunks: (anchor, page)
    draw: bool = True  # False: laid out for its page facts only, no PDF (the skeleton)
    early: str = ""  # a file for the page facts as soon as they are laid out, before drawing (a part's)


@dataclass(frozen=True)
class Page:
    """A rendered page, as far as the merge needs it."""

    anchors: tuple[str, ...]  # the job's anchors on this page, sorted
    blank: bool
    block: tuple[float, ...]  # the text block: x, y, width, height in CSS pixels


@dataclass(frozen=True)
class Facts:
    """What a render tells of its PDF; cached with it (ChunkCache) as JSON."""

    pages: tuple[Page, ...]
    refused: tuple[str, ...] = ()  # resources the fetcher refused
    seconds: float = 0.0
    cpu: float = 0.0
    unknown: tuple[str, ...] = ()  # anchors a part refers to whose page was not given (Job.known)
    source: str = ""  # a slice (ChunkCache.put_slice): the key of the chunk whose PDF holds these pages
    first: int = 0  # a slice: the index in that PDF of its first page

    def dumps(self) -> bytes:
        return json.dumps(dataclasses.asdict(self)).encode()

    @classmethod
    def loads(cls, data: bytes) -> Facts:
        """The facts `dumps` wrote; ValueError, KeyError or TypeError for anything else."""
        facts = json.loads(data)
        pages = tuple(Page(tuple(page["anchors"]), bool(page["blank"]), tuple(page["block"]))
                      for page in facts["pages"])
        return cls(pages, tuple(facts["refused"]), float(facts["seconds"]), float(facts["cpu"]),
                   tuple(facts["unknown"]), str(facts["source"]), int(facts["first"]))


@dataclass
class Placement:
    """Where the merge (merge.py) draws a chunk page: on which frame page, shifted how far."""

    frame_page: int  # index in the frame (= final) document
    source: int  # index into the list of chunk PDFs
    page: int  # page index inside that chunk PDF
    dx: float  # horizontal shift, in PDF points
