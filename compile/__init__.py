"""Anthology compiler: archived news articles in, EPUB and print-ready PDF out."""

__version__ = "0.1.0"
