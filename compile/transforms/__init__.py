"""Transforms: an article's body and metadata in, the same improved out (no I/O)."""
