"""The PDF writer: WeasyPrint in one pass or in parallel chunks, and the print shop's needs."""
