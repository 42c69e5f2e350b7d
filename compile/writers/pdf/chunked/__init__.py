"""The chunked PDF: articles rendered in parallel, cached, merged onto one frame."""
