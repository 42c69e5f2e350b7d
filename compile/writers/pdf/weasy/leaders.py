"""leader() copies drawn from one Pango layout: a small, contained speed-up of tables of contents.

Why: WeasyPrint (up to at least 70) fills a leader with one copy of its text box per dot, ~30 on a line of
an A5 table of contents. The copies share one Pango layout, which WeasyPrint frees after every use to save
memory, so drawing each copy builds and shapes it again: for a 300-entry contents, ~9,000 layouts and
about 1 s of a 573-page frame.

While PATCH is installed, the layout a leader's copies share stays built while they are drawn (one build per
leader instead of one per dot; it is a few glyphs). Everything is drawn as before, each copy at its own
position: the PDF's page content is byte for byte the same. (One text run for all the dots would be
cheaper still, but PDF glyph advances are rounded to 1/1000 em, so dots would drift by up to ~0.5 pt over a
line and stop lining up in columns.)
"""

from __future__ import annotations

from weasyprint.layout import inline, leader
from weasyprint.text import line_break

from compile.writers.pdf.weasy import patching
from compile.writers.pdf.weasy.patching import Private

_ORIGINAL = inline.handle_leader


class KeptLayout(line_break.Layout):
    """A layout built once and kept: `reactivate` builds it only if it is not built, `deactivate` keeps it."""

    def reactivate(self, style) -> None:
        if not hasattr(self, "layout") or self.style is not style:
            super().reactivate(style)

    def deactivate(self) -> None:
        pass


def handle_leader(context, line, containing_block) -> None:
    _ORIGINAL(context, line, containing_block)
    _index, box = leader.leader_index(line)
    if box is None or len(box.children) < 2:
        return
    for child in box.children:
        if type(child.pango_layout) is line_break.Layout:
            child.pango_layout.__class__ = KeptLayout  # same object, same slots: the copies keep sharing it


PATCH = patching.register(patching.Patch(
    "leaders",
    without="the same pages; tables of contents are drawn slower (one text layout per leader dot)",
    replaces={Private(inline, "handle_leader", "context, line, containing_block"): handle_leader},
    uses=(Private(leader, "leader_index", "box"), Private(line_break.Layout, "reactivate", "self, style"),
          Private(line_break.Layout, "deactivate", "self"), Private(line_break.Layout, "layout"),
          Private(line_break.Layout, "style"))))
