"""The PDF writer: WeasyPrint in one pass or in parallel chunks, and the print shop's needs.

Importing the package does not import WeasyPrint: the modules that use it import loading.py first."""
