"""What the print shop, the archive and a screen reader need from the PDF: page sizes, bleed and crop marks,
the PDF variant (a tagged PDF/UA-1, PDF/A-3a with the sources attached, PDF/X-4 with a CMYK output intent),
the resolution of images in print, and a saddle-stitched booklet imposition.

Bleed, marks, tags and the variants are WeasyPrint features (it writes TrimBox/BleedBox, the structure tree,
the XMP identification and the output intent); imposition is pdfimpose's job. This module turns settings
into them, and says which variant was written and why (the report's `details.variant`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from compile.pages import css_page_size
from compile.writers.context import Book, Output

# A CMYK printing condition for PDF/X-4 when the settings name none: Ghostscript's SWOP profile (Debian's
# libgs-common, installed by bootstrap.sh). A print shop's own profile goes in pdf.output_profile.
SYSTEM_CMYK_PROFILES = (Path("/usr/share/color/icc/ghostscript/default_cmyk.icc"),)
CSS_PX_PER_INCH = 96


def stylesheet(settings) -> str:
    """Extra CSS that the PDF settings ask for, applied after the theme's print.css."""
    rules = []
    if settings.page_size:
        rules.append(f"@page {{ size: {css_page_size(settings.page_size)}; }}")
    if settings.bleed:
        rules.append(f"@page {{ bleed: {settings.bleed_mm:g}mm; marks: crop; }}")
    return "\n".join(rules)


@dataclass
class Variant:
    """The PDF asked of WeasyPrint: its variant ("" = a plain PDF), whether it is tagged, the CMYK output
    profile of PDF/X, and what was asked for but not made, in words."""

    name: str = ""
    tagged: bool = False
    profile: Path | None = None
    notes: list[str] = field(default_factory=list)

    def details(self) -> dict:
        """For the report: `details.variant` of the PDF output."""
        return {"name": self.name or "pdf", "tagged": self.tagged,
                "output_profile": str(self.profile) if self.profile else None,
                "rendered": "in one pass: WeasyPrint makes the variant and the tags for the whole document, "
                            "which the chunked renderer's merge would not keep"}


def variant(settings) -> Variant:
    """PDF/A-3a for --pdfa (tagged, the sources attached), else PDF/X-4 for --print when a CMYK profile is
    at hand, else PDF/UA-1 when tagged; a plain PDF otherwise, exactly as before these existed."""
    tagged = settings.tagged or settings.pdfa
    if settings.pdfa:
        notes = ["PDF/X-4 not written: --pdfa asks for PDF/A-3a and one file is one of the two here; build "
                 "again without --pdfa for the print shop"] if settings.pdfx else []
        return Variant("pdf/a-3a", True, notes=notes)
    if settings.pdfx:
        profile = output_profile(settings)
        if profile is not None:
            return Variant("pdf/x-4", tagged, profile)
        return Variant("pdf/ua-1" if tagged else "", tagged, notes=[
            "PDF/X-4 not written: no CMYK output profile (set pdf.output_profile to the print shop's ICC "
            "profile, or install Ghostscript's profiles: libgs-common); the PDF has bleed and crop marks only"])
    return Variant("pdf/ua-1" if tagged else "", tagged)


def output_profile(settings) -> Path | None:
    """The printing condition's ICC profile: the settings' (config.check made sure it is a CMYK output
    profile), else the system's."""
    if settings.output_profile:
        return Path(settings.output_profile)
    return next((path for path in SYSTEM_CMYK_PROFILES if path.is_file()), None)


def render_options(chosen: Variant) -> dict:
    """Keyword arguments for WeasyPrint's render: the variant (it sets the output intent the pages are drawn
    for) and, for PDF/X-4, the CMYK profile of the output intent and sRGB as DefaultRGB, which makes the
    pages' DeviceRGB colours and images calibrated (PDF/X-4 refuses uncalibrated RGB under a CMYK intent)."""
    if not chosen.name:
        return {}
    options: dict = {"pdf_variant": chosen.name}
    if chosen.profile is not None:
        from importlib.resources import files

        import weasyprint
        from weasyprint.css import ColorProfile

        srgb = files(weasyprint) / "pdf" / "sRGB2014.icc"  # what WeasyPrint's own PDF/A output intent uses
        with chosen.profile.open("rb") as cmyk, srgb.open("rb") as rgb:
            options["color_profiles"] = {
                "device-cmyk": ColorProfile(cmyk, chosen.profile.as_uri(), "relative-colorimetric",
                                            tuple([c] for c in "cmyk")),
                "DefaultRGB": ColorProfile(rgb, "sRGB2014.icc", "relative-colorimetric", tuple([c] for c in "rgb")),
            }
    return options


def write_options(chosen: Variant, attachments: list[tuple[str, bytes]]) -> dict:
    """Keyword arguments for WeasyPrint's write_pdf; none for a plain PDF."""
    if not chosen.name and not chosen.tagged:
        return {}
    options: dict = {"pdf_variant": chosen.name or None, "pdf_tags": chosen.tagged, "pdf_identifier": None}
    if chosen.name.startswith("pdf/a-"):
        import weasyprint

        options["attachments"] = [weasyprint.Attachment(string=data, name=name, description=f"source: {name}")
                                  for name, data in attachments]
    return options


# Drawn without smoothing, each pixel a sharp square at any size (the sources' QR codes): no resolution to check.
SHARP = ("pixelated", "crisp-edges")


def low_resolution(document, book: Book, min_dpi: int) -> list[dict]:
    """Every raster image printed at fewer than `min_dpi` pixels per inch, per page where it is printed:
    its pixels over its printed size, the size of its box in the laid-out pages (CSS px, 96 to the inch;
    an image fills its box, object-fit being the default). Tells the article, the image's URL and, for an
    image of the source folder, its file."""
    from weasyprint.formatting_structure import boxes

    sources: dict[str, list[dict]] = {}
    for article in book.anthology.articles:
        for image in article.images:
            if image.path is not None:
                entry = {"source": article.source, "url": image.url, **({"local": image.local} if image.local else {})}
                sources.setdefault(image.path.resolve().as_uri(), []).append(entry)
    found = []
    for number, page in enumerate(document.pages, start=1):
        root = page._page_box  # noqa: SLF001 - where the images landed is only on the page box (WeasyPrint 70)
        for box in root.descendants(placeholders=True):
            pixels = _pixels(box) if isinstance(box, boxes.ReplacedBox) else None
            if pixels is None or box.width <= 0 or box.height <= 0 or box.style["image_rendering"] in SHARP:
                continue
            dpi = min(pixels[0] / box.width, pixels[1] / box.height) * CSS_PX_PER_INCH
            if dpi >= min_dpi:
                continue
            src = box.element.get("src", "") if box.element is not None else ""
            printed = [round(box.width * 25.4 / CSS_PX_PER_INCH, 1), round(box.height * 25.4 / CSS_PX_PER_INCH, 1)]
            for entry in sources.get(src, [{"source": "", "url": src}]):
                found.append({**entry, "page": number, "dpi": round(dpi), "pixels": list(pixels),
                              "printed_mm": printed})
    return found


def _pixels(box) -> tuple[int, int] | None:
    """A raster image's pixel size (None for a vector image: SVG has no resolution)."""
    from weasyprint.images import RasterImage

    image = box.replacement
    return (image.width, image.height) if isinstance(image, RasterImage) else None


def impose_booklet(source: Path, target: Path, bind: str = "left") -> Output:
    """Saddle stitch: pages padded with blanks to a multiple of 4, two per sheet side, in booklet order;
    bound on the right for a book read right to left (`bind`)."""
    from pdfimpose.schema import saddle

    from compile import atomic

    buffer = io.BytesIO()
    saddle.impose([source], buffer, folds="h", bind=bind)
    atomic.write_bytes(target, buffer.getvalue())
    from pypdf import PdfReader

    pages = len(PdfReader(target).pages)
    return Output(path=target, format="pdf-booklet", bytes=target.stat().st_size, pages=pages)
