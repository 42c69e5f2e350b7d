"""Writers: `write(book, target) -> Output` for each format, sharing one context and one set of templates."""
