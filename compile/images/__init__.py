"""Images: find the real source, fetch it safely into a disk cache, and make one variant per output.

In build order:
- `markup` (pure, no network): the source an <img> really names (`best_source`, `locate`, `unwrap_proxy`,
  `add_lead_image`), used by cleaning and the pipeline; a relative reference also names a file of the source
  folder (`Image.local`), read from disk instead of the web;
- `fetch` (the only network I/O): `fetch_all` puts each original once into the `cache`, concurrently, with
  timeouts, a total deadline, a byte limit, redirects checked hop by hop, and every connection checked against
  the address it really goes to (private, link-local and metadata addresses refused unless allowed);
- `decode` (Pillow, bounded): hostile bytes sniffed, pixel counts checked before decoding, a process-wide
  pixel budget;
- `variants`: `use_profile` makes one variant per output profile (epub, eink, print) from the cached original,
  fits them into a size budget, and points each image at its variant for the writer.
"""
