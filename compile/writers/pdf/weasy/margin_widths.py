"""A margin box's width without its min-content width when the max-content one decides: a contained speed-up
of the page furniture (running heads, folios) on every page.

Why: WeasyPrint (up to at least 70) sizes the boxes of a page-margin row (`layout.page.
compute_variable_dimension`) by setting each one's outer width, which clamps the wanted width between the
box's min-content and max-content widths (`OrientedBox.outer`'s setter), and so computes both. A min-content
width lays the text out at its narrowest: a CJK running head breaks after every character, one line each.
When the wanted width is at least the max-content width, the clamp's result is the max-content width
whatever the min-content one is (min(max(lo, w), hi) = hi for w >= hi): the common case of a head that fits
its row. While PATCH is installed, the setter then skips the min-content width; otherwise it clamps as
WeasyPrint does. The same widths, so the same pages: a chunked book's frame (every page's margin boxes)
~13 % faster, byte-identical (300-article book: 11.8 → 10.3 s of one worker).
"""

from __future__ import annotations

from weasyprint.layout import page as layout_page

from compile.writers.pdf.weasy import patching
from compile.writers.pdf.weasy.patching import Private

_ORIGINAL = layout_page.OrientedBox.outer


def _set_outer(self, new_outer_width) -> None:
    wanted = new_outer_width - self.sugar
    widest = self.max_content_size
    self.inner = widest if wanted >= widest else min(max(self.min_content_size, wanted), widest)


OUTER = property(_ORIGINAL.fget, _set_outer, doc=_ORIGINAL.__doc__)

PATCH = patching.register(patching.Patch(
    "margin_widths",
    without="the same pages; running heads and folios are laid out ~13 % slower",
    replaces={Private(layout_page.OrientedBox, "outer"): OUTER},
    uses=(Private(layout_page.OrientedBox, "sugar"), Private(layout_page.HorizontalBox, "max_content_size"),
          Private(layout_page.HorizontalBox, "min_content_size"), Private(layout_page.VerticalBox, "max_content_size"),
          Private(layout_page, "compute_variable_dimension", "context, side_boxes, vertical, available_size")),
    probe=lambda: None if isinstance(_ORIGINAL, property) and _ORIGINAL.fset is not None else
    "OrientedBox.outer is no longer a property with a setter"))
