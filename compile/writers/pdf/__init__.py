"""The PDF writer: WeasyPrint in one pass or in parallel chunks, and the print shop's needs."""

from compile.writers.pdf import loading

loading.import_weasyprint()  # before any module here imports it
