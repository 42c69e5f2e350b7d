"""Stamp rendered chunk pages onto the frame's pages (pikepdf, i.e. qpdf): the last step of chunked PDFs.

The frame PDF is the base: it already has the final page sequence, the folios and running heads, the
front matter, the outline and the named destinations. Each chunk page becomes a form XObject drawn on its
frame page, shifted horizontally when it lands on a page of the other parity; its link annotations are
copied with the same shift, and named destinations the frame lacks (anchors inside article bodies) are
added, pointing at the final page. Then every face gets one font program instead of one per chunk
(fontshare).
"""

from __future__ import annotations

from pathlib import Path

import pikepdf

from compile.writers.pdf.chunked import fontshare
from compile.writers.pdf.chunked.jobs import Placement


def stamp(frame: Path, sources: list[Path], placements: list[Placement], target: Path,
          seconds: dict | None = None, cache_root: Path | None = None) -> int:
    """Write the merged PDF to `target`; returns its page count. `seconds["fonts"]`: the font step's time;
    `cache_root`: where the fonts' union subsets are kept (fontshare.share)."""
    with pikepdf.open(frame) as pdf:
        by_path: dict[Path, pikepdf.Pdf] = {}  # slices of one chunk share its PDF
        for path in sources:
            if path not in by_path:
                by_path[path] = pikepdf.open(path)
        opened = [by_path[path] for path in sources]
        try:
            dests = _name_tree(pdf)
            missing: dict[str, dict[int, pikepdf.Pdf]] = {}  # name -> the PDFs whose pages link to it
            for placement in placements:
                page = pdf.pages[placement.frame_page]
                source = opened[placement.source]
                chunk_page = source.pages[placement.page]
                box = [float(v) for v in page.mediabox]
                width, height = box[2] - box[0], box[3] - box[1]
                page.add_overlay(_form(chunk_page), pikepdf.Rectangle(box[0] + placement.dx, box[1],
                                                                      box[0] + placement.dx + width, box[1] + height))
                for name in _copy_links(pdf, source, page, chunk_page, placement.dx):
                    if dests is not None and name not in dests:
                        missing.setdefault(name, {})[id(source)] = source
            if missing and dests is not None:
                _add_destinations(pdf, dests, missing, placements, opened)
            fonts = fontshare.share(pdf, cache_root)
            if seconds is not None:
                seconds["fonts"] = fonts["seconds"]
            pdf.save(target, object_stream_mode=pikepdf.ObjectStreamMode.generate, compress_streams=True)
            return len(pdf.pages)
        finally:
            for source in by_path.values():
                source.close()


def _form(chunk_page: pikepdf.Page) -> pikepdf.Object:
    """The chunk page as a form XObject (qpdf's: its box, resources, group), holding the page's content stream as
    it is compressed: qpdf's holds it decoded, and the saved book compressed it again (~0.4 s of a 1,600-page
    merge, the chunks having compressed it once already where they were rendered and cached)."""
    form = chunk_page.as_form_xobject()
    contents = chunk_page.obj.get("/Contents")
    if isinstance(contents, pikepdf.Stream):  # one stream (WeasyPrint's): its bytes as they are stored
        filters, parms = contents.get("/Filter"), contents.get("/DecodeParms")
        if isinstance(filters, (pikepdf.Name, pikepdf.Array, type(None))) and isinstance(
                parms, (pikepdf.Dictionary, pikepdf.Array, type(None))):
            form.write(contents.read_raw_bytes(), filter=filters, decode_parms=parms, type_check=False)
    return form


def _name_tree(pdf: pikepdf.Pdf) -> pikepdf.NameTree | None:
    names = pdf.Root.get("/Names")
    if names is None or "/Dests" not in names:
        return None
    return pikepdf.NameTree(names.Dests)


def _copy_links(pdf: pikepdf.Pdf, source: pikepdf.Pdf, page: pikepdf.Page, chunk_page: pikepdf.Page,
                dx: float) -> list[str]:
    """Copy the chunk page's annotations, shifted by dx; returns the named destinations they use. One copy per
    page, of all of them (a page of a book of links has dozens)."""
    annots = chunk_page.obj.get("/Annots")
    if not annots:
        return []
    for annot in annots:
        if "/P" in annot:
            del annot["/P"]  # the chunk's page: copying it would drag the whole page along
    if not annots.is_indirect:
        annots = source.make_indirect(annots)
    copied = pdf.copy_foreign(annots)
    used = []
    for annot in copied:
        if dx:
            rect = [float(v) for v in annot.Rect]
            annot.Rect = pikepdf.Array([rect[0] + dx, rect[1], rect[2] + dx, rect[3]])
        dest = annot.get("/Dest")
        if isinstance(dest, pikepdf.String):
            used.append(str(dest))
    target = page.obj.get("/Annots")
    if target is None:
        page.obj.Annots = pdf.make_indirect(pikepdf.Array())
        target = page.obj.Annots
    target.extend(copied)
    return used


def _add_destinations(pdf, dests, missing: dict, placements: list[Placement], opened: list[pikepdf.Pdf]) -> None:
    """Anchors that only the chunks know (inside article bodies): point them at the final pages."""
    where = {(id(opened[p.source]), p.page): p for p in placements}  # by PDF: slices of a chunk share one
    for name, sources in missing.items():
        for source in sources.values():  # the first whose page holding the anchor is in the book
            source_names = _name_tree(source)
            if source_names is None or name not in source_names:
                continue
            dest = source_names[name]
            number = next((i for i, page in enumerate(source.pages) if page.obj.objgen == dest[0].objgen), None)
            placement = None if number is None else where.get((id(source), number))
            if placement is None:
                continue  # e.g. an edited article's old pages in its chunk: its new piece may hold the anchor
            x = float(dest[2]) + placement.dx if len(dest) > 2 else 0
            rest = [pdf.copy_foreign(v) if isinstance(v, pikepdf.Object) and v.is_indirect else v for v in dest[3:]]
            dests[name] = pikepdf.Array([pdf.pages[placement.frame_page].obj, dest[1], x, *rest])
            break
