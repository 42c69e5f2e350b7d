"""Images: fetched from a real HTTP server on 127.0.0.1, images made with Pillow here, no internet.

Each hostile or broken case must end as status "failed" with a reason a person understands, fast.
"""

from __future__ import annotations

import contextlib
import errno
import io
import itertools
import json
import os
import random
import signal
import socket
import stat
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given
from hypothesis import settings as property_settings
from hypothesis import strategies as st
from PIL import Image as PILImage
from PIL import ImageDraw

from compile import atomic, pages, theme
from compile.config import ImageSettings
from compile.images import cache, decode, fetch, markup, variants
from compile.images.cache import Cache
from compile.images.errors import FetchError
from compile.model import Article, Image
from tests.conftest import ROOT, run_cli

# ---------------------------------------------------------------- images, made here


def jpeg(size=(120, 80), color=(200, 30, 30), mode="RGB", **save) -> bytes:
    out = io.BytesIO()
    PILImage.new(mode, size, color).save(out, "JPEG", **save)
    return out.getvalue()


def noise_jpeg(size=(800, 600), quality=92) -> bytes:
    out = io.BytesIO()
    PILImage.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def rotated_jpeg_with_gps() -> bytes:
    """200×100, left half red, right half blue, EXIF orientation 6 (display rotated 90° clockwise), GPS set."""
    picture = PILImage.new("RGB", (200, 100), (0, 0, 255))
    picture.paste((255, 0, 0), (0, 0, 100, 100))
    exif = PILImage.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "SpyCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 24.0)
    gps[3], gps[4] = "E", (2.0, 21.0, 3.0)
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif, quality=95)
    return out.getvalue()


def png_alpha() -> bytes:
    picture = PILImage.frombytes("RGB", (300, 200), os.urandom(300 * 200 * 3)).convert("RGBA")
    picture.putalpha(PILImage.new("L", (300, 200), 128))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def png_line_art(size=(400, 300)) -> bytes:
    picture = PILImage.new("RGB", size, "white")
    for x in range(0, size[0], 20):
        picture.paste((0, 0, 0), (x, 0, x + 2, size[1]))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [PILImage.new("RGB", (64, 48), color) for color in ((0, 200, 0), (200, 0, 0), (0, 0, 200))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A real, tiny PNG whose header claims width×height: what a decompression bomb looks like first."""
    data = io.BytesIO()
    PILImage.new("1", (8, 8)).save(data, "PNG")
    raw = bytearray(data.getvalue())
    ihdr = raw[12:29]  # chunk type + 13 bytes of IHDR data
    ihdr[4:12] = struct.pack(">II", width, height)
    raw[12:29] = ihdr
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(raw)


# ---------------------------------------------------------------- server routes


def serve(data: bytes, content_type: str = "image/jpeg", status: int = 200, delay: float = 0.0,
          length: int | None = None):
    def route(handler):
        if delay:
            time.sleep(delay)
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        if length != -1:
            handler.send_header("Content-Length", str(len(data) if length is None else length))
        handler.end_headers()
        with contextlib.suppress(OSError):
            handler.wfile.write(data)
    return route


def redirect(location: str):
    def route(handler):
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return route


def flaky(failures: int, data: bytes):
    """5xx `failures` times, then the image."""
    count = {"n": 0}

    def route(handler):
        count["n"] += 1
        if count["n"] <= failures:
            serve(b"busy", "text/plain", status=503)(handler)
        else:
            serve(data)(handler)
    return route


def drip(interval: float, limit: int = 200):
    """Headers at once, then one byte every `interval` seconds: each read is quick, the whole is endless."""
    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "image/jpeg")
        handler.send_header("Content-Length", str(limit))
        handler.end_headers()
        try:
            for _ in range(limit):
                handler.wfile.write(b"\xff")
                handler.wfile.flush()
                time.sleep(interval)
        except OSError:
            pass
    return route


def settings_for(tmp_path: Path, **changes) -> ImageSettings:
    base = dict(allow_private_hosts=True, cache_dir=str(tmp_path / "cache"), connect_timeout=1.0,
                read_timeout=1.0, total_timeout=4.0, retries=1, backoff=0.01, concurrency=4, per_host=4)
    return ImageSettings(**{**base, **changes})


def fetch_urls(urls, settings: ImageSettings, offline: bool = False) -> tuple[list[Image], fetch.FetchSummary]:
    found = [Image(url=url) for url in urls]
    summary = fetch.fetch_all(found, settings, Cache.from_settings(settings), offline=offline)
    return found, summary


def variant(image: Image, settings: ImageSettings, name: str = "epub", width_mm: float = 0.0) -> PILImage.Image:
    cache = Cache.from_settings(settings)
    variants.use_profile([image], variants.profile(name, settings, width_mm), cache, settings)
    assert image.status == "ok", image.reason
    return PILImage.open(image.path)


def variant_of_original(image: Image, data: bytes, settings: ImageSettings, target: variants.Profile) -> None:
    """`data` put into the cache as fetch_all leaves an original, then `image`'s variant made as a build makes it."""
    cache = Cache.from_settings(settings)
    cache.write(cache.original(Cache.name(image)), data)
    image.status = "ok"
    variants.use_profile([image], target, cache, settings)


# ---------------------------------------------------------------- good images


def test_tiny_jpeg_is_fetched_cached_and_sized(http_server, tmp_path):
    http_server.routes["/tiny.jpg"] = serve(jpeg((3, 2)))
    settings = settings_for(tmp_path)
    (image,), summary = fetch_urls([f"{http_server.url}/tiny.jpg"], settings)
    assert (image.status, image.width, image.height) == ("ok", 3, 2)
    assert (summary.fetched, summary.cached, summary.failed) == (1, 0, 0) and summary.bytes == image.bytes
    assert Cache.from_settings(settings).original(image.url).is_file()
    picture = variant(image, settings)
    assert picture.size == (3, 2) and picture.format == "JPEG"


def test_huge_image_is_resized_per_profile_and_the_original_kept(http_server, tmp_path):
    data = noise_jpeg((3000, 2000), quality=60)
    http_server.routes["/huge.jpg"] = serve(data)
    settings = settings_for(tmp_path)
    (image,), _ = fetch_urls([f"{http_server.url}/huge.jpg"], settings)
    cache = Cache.from_settings(settings)
    epub = variant(image, settings, "epub")
    assert epub.size == (1600, 1067) and epub.mode == "RGB"
    eink = variant(image, settings, "eink")
    assert eink.mode == "L" and eink.width <= 1072 and eink.height <= 1448 and eink.width == 1072
    printed = variant(image, settings, "print", width_mm=114)
    assert printed.width == round(114 / 25.4 * 300)  # 300 ppi at the printed width
    narrow = variant(image, settings, "print", width_mm=50)
    assert narrow.width == round(50 / 25.4 * 300)
    assert cache.original(image.url).read_bytes() == data  # the original stays, untouched
    assert set(image.variants) == {"epub", "eink", "print"}
    assert len({p for p in (cache.root / "variants").glob("*/*")}) == 4  # one file per variant


def test_print_width_comes_from_the_page_size():
    settings = ImageSettings()
    assert pages.text_width_mm("A5") == 148 - pages.MARGINS_MM[0]
    assert pages.text_width_mm("A4 landscape") == 297 - pages.MARGINS_MM[0]
    assert variants.profile("print", settings, pages.text_width_mm("A4")).box[0] == round((210 - 38) / 25.4 * 300)
    assert variants.profile("print", ImageSettings(print_width_mm=100), 176).box[0] == round(100 / 25.4 * 300)
    with pytest.raises(ValueError, match="unknown image profile"):
        variants.profile("tiff", settings)


def test_too_many_pixels_is_refused_before_decoding(http_server, tmp_path):
    http_server.routes["/big.jpg"] = serve(jpeg((3000, 2000)))
    (image,), summary = fetch_urls([f"{http_server.url}/big.jpg"], settings_for(tmp_path, max_pixels=5_000_000))
    assert image.status == "failed" and "too many pixels: 3000×2000" in image.reason
    assert summary.failed == 1
    assert not Cache.from_settings(settings_for(tmp_path)).original(image.url).exists()


@pytest.mark.parametrize("side", [10_000, 100_000])
def test_decompression_bomb_is_refused(http_server, tmp_path, side):
    """A 100-byte PNG claiming 10⁸ or 10¹⁰ pixels: refused from its header, in no time, no memory."""
    http_server.routes["/bomb.png"] = serve(png_claiming(side, side), "image/png")
    started = time.monotonic()
    (image,), _ = fetch_urls([f"{http_server.url}/bomb.png"], settings_for(tmp_path))
    assert image.status == "failed" and "decompression bomb" in image.reason, image.reason
    assert time.monotonic() - started < 2


def test_cmyk_jpeg_becomes_rgb(http_server, tmp_path):
    http_server.routes["/cmyk.jpg"] = serve(jpeg((100, 60), (0, 255, 255, 0), mode="CMYK"))
    settings = settings_for(tmp_path)
    (image,), _ = fetch_urls([f"{http_server.url}/cmyk.jpg"], settings)
    picture = variant(image, settings)
    assert picture.mode == "RGB" and picture.format == "JPEG"
    red, green, blue = picture.getpixel((50, 30))
    assert red > 200 and green < 60 and blue < 60  # no magenta + yellow = red, not inverted


def test_exif_orientation_applied_and_metadata_stripped(http_server, tmp_path):
    data = rotated_jpeg_with_gps()
    assert PILImage.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the source really carries GPS
    http_server.routes["/rotated.jpg"] = serve(data)
    settings = settings_for(tmp_path)
    (image,), _ = fetch_urls([f"{http_server.url}/rotated.jpg"], settings)
    for name in ("epub", "eink", "print"):
        picture = variant(image, settings, name, width_mm=100)
        assert picture.size == (100, 200), name  # portrait now
        top, bottom = picture.convert("RGB").getpixel((50, 20)), picture.convert("RGB").getpixel((50, 180))
        if name != "eink":
            assert top[0] > 200 and top[2] < 60 and bottom[2] > 200, (name, top, bottom)  # red was left: now top
        assert not picture.getexif(), name
        assert "exif" not in picture.info and "icc_profile" not in picture.info
        assert b"SpyCam" not in image.path.read_bytes()


def test_png_with_alpha_stays_png(http_server, tmp_path):
    http_server.routes["/alpha.png"] = serve(png_alpha(), "image/png")
    settings = settings_for(tmp_path)
    (image,), _ = fetch_urls([f"{http_server.url}/alpha.png"], settings)
    picture = variant(image, settings)
    assert picture.format == "PNG" and picture.mode == "RGBA" and image.media_type == "image/png"
    assert picture.getpixel((10, 10))[3] == 128
    assert variant(image, settings, "eink").mode == "LA"


def test_line_art_png_stays_png_and_photo_png_becomes_jpeg(http_server, tmp_path):
    photo = io.BytesIO()
    PILImage.frombytes("RGB", (300, 200), os.urandom(300 * 200 * 3)).save(photo, "PNG")
    http_server.routes["/chart.png"] = serve(png_line_art(), "image/png")
    http_server.routes["/photo.png"] = serve(photo.getvalue(), "image/png")
    settings = settings_for(tmp_path)
    (chart, photo_image), _ = fetch_urls([f"{http_server.url}/chart.png", f"{http_server.url}/photo.png"], settings)
    assert variant(chart, settings).format == "PNG"
    assert variant(photo_image, settings).format == "JPEG"


def test_animated_gif_gives_its_first_frame(http_server, tmp_path):
    http_server.routes["/anim.gif"] = serve(animated_gif(), "image/gif")
    settings = settings_for(tmp_path)
    (image,), _ = fetch_urls([f"{http_server.url}/anim.gif"], settings)
    picture = variant(image, settings)
    assert getattr(picture, "n_frames", 1) == 1
    red, green, blue = picture.convert("RGB").getpixel((10, 10))
    assert green > 150 and red < 50 and blue < 50


def test_sixteen_bit_png_becomes_eight_bit(http_server, tmp_path):
    out = io.BytesIO()
    PILImage.new("I;16", (64, 64), 40000).save(out, "PNG")
    http_server.routes["/deep.png"] = serve(out.getvalue(), "image/png")
    settings = settings_for(tmp_path)
    (image,), _ = fetch_urls([f"{http_server.url}/deep.png"], settings)
    picture = variant(image, settings)
    assert picture.mode == "L" and 150 < picture.getpixel((5, 5)) < 160  # 40000 / 256 ≈ 156


# ---------------------------------------------------------------- broken and hostile responses


@pytest.mark.parametrize(("route", "reason"), [
    (serve(jpeg((400, 300))[:600]), "not a readable image"),  # truncated
    (serve(b"\xff\xd8\xff\xe0" + os.urandom(2000)), "not a readable image"),  # corrupt
    (serve(b"<!DOCTYPE html><html><body>Not found</body></html>", "image/jpeg"), "HTML page"),
    (serve(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"), "SVG"),
    (serve(b"", "image/jpeg"), "empty response"),
    (serve(b"nothing", status=404), "HTTP 404"),
    (serve(b"nothing", status=403), "HTTP 403"),
    (serve(b"", status=204), "HTTP 204"),
])
def test_broken_responses_fail_with_a_reason(http_server, tmp_path, route, reason):
    http_server.routes["/x.jpg"] = route
    settings = settings_for(tmp_path)
    (image,), summary = fetch_urls([f"{http_server.url}/x.jpg"], settings)
    assert image.status == "failed" and reason in image.reason, image.reason
    assert summary.failed == 1 and summary.fetched == 0
    assert not Cache.from_settings(settings).original(image.url).exists()  # nothing bad is cached


def test_5xx_is_retried_then_succeeds(http_server, tmp_path):
    http_server.routes["/flaky.jpg"] = flaky(2, jpeg())
    (image,), _ = fetch_urls([f"{http_server.url}/flaky.jpg"], settings_for(tmp_path, retries=2))
    assert image.status == "ok", image.reason
    assert http_server.hits.count("/flaky.jpg") == 3


def test_5xx_gives_up_after_the_retries(http_server, tmp_path):
    http_server.routes["/down.jpg"] = flaky(100, jpeg())
    (image,), _ = fetch_urls([f"{http_server.url}/down.jpg"], settings_for(tmp_path, retries=2))
    assert image.status == "failed" and image.reason == "HTTP 503 (after 3 attempts)"
    assert http_server.hits.count("/down.jpg") == 3


def test_slow_server_times_out_quickly(http_server, tmp_path):
    http_server.routes["/slow.jpg"] = serve(jpeg(), delay=3)
    started = time.monotonic()
    (image,), _ = fetch_urls([f"{http_server.url}/slow.jpg"], settings_for(tmp_path, read_timeout=0.3, retries=1))
    elapsed = time.monotonic() - started
    assert image.status == "failed" and "timed out" in image.reason and "after 2 attempts" in image.reason
    assert elapsed < 1.5


def test_dripping_server_is_cut_at_the_total_deadline(http_server, tmp_path):
    """Every read is faster than the read timeout; only the total deadline stops it."""
    http_server.routes["/drip.jpg"] = drip(0.1)
    started = time.monotonic()
    (image,), _ = fetch_urls([f"{http_server.url}/drip.jpg"], settings_for(tmp_path, read_timeout=1, total_timeout=1))
    elapsed = time.monotonic() - started
    assert image.status == "failed" and "total timeout of 1 s" in image.reason, image.reason
    assert elapsed < 2


def test_redirect_loop_is_refused_after_five(http_server, tmp_path):
    http_server.routes["/loop.jpg"] = redirect("/loop.jpg")
    (image,), _ = fetch_urls([f"{http_server.url}/loop.jpg"], settings_for(tmp_path))
    assert image.status == "failed" and image.reason == "more than 5 redirects"
    assert http_server.hits.count("/loop.jpg") == 6  # the first request and five redirects followed


def test_five_redirects_are_followed(http_server, tmp_path):
    for hop in range(5):
        http_server.routes[f"/r{hop}"] = redirect(f"/r{hop + 1}" if hop < 4 else "/final.jpg")
    http_server.routes["/final.jpg"] = serve(jpeg())
    (image,), _ = fetch_urls([f"{http_server.url}/r0"], settings_for(tmp_path))
    assert image.status == "ok", image.reason


@pytest.mark.parametrize("length", [None, -1], ids=["declared", "undeclared"])
def test_byte_limit_aborts_the_download(http_server, tmp_path, length):
    big = noise_jpeg((800, 800))
    http_server.routes["/big.jpg"] = serve(big, length=length)
    (image,), _ = fetch_urls([f"{http_server.url}/big.jpg"], settings_for(tmp_path, max_bytes=100_000))
    assert image.status == "failed" and "too large" in image.reason and "100000" in image.reason


def test_private_hosts_refused_by_default_without_a_request(http_server, tmp_path):
    http_server.routes["/ok.jpg"] = serve(jpeg())
    port = http_server.server_address[1]
    urls = [f"{http_server.url}/ok.jpg", f"http://localhost:{port}/ok.jpg", f"http://[::ffff:127.0.0.1]:{port}/ok.jpg"]
    found, summary = fetch_urls(urls, settings_for(tmp_path, allow_private_hosts=False))
    for image in found:
        assert image.status == "failed" and "non-public address" in image.reason, image.reason
        assert "allow_private_hosts" in image.reason
    assert summary.failed == 3
    assert http_server.hits == []  # the server never heard of us
    (allowed,), _ = fetch_urls(urls[:1], settings_for(tmp_path, allow_private_hosts=True))
    assert allowed.status == "ok" and http_server.hits == ["/ok.jpg"]


def test_redirect_to_a_private_host_is_refused(http_server, tmp_path):
    """allow_private_hosts lets loopback through, but never link-local (cloud metadata)."""
    http_server.routes["/meta.jpg"] = redirect("http://169.254.169.254/latest/meta-data/")
    (image,), _ = fetch_urls([f"{http_server.url}/meta.jpg"], settings_for(tmp_path, allow_private_hosts=True))
    assert image.status == "failed" and "169.254.169.254" in image.reason and "refused" in image.reason


@pytest.mark.parametrize("address", ["169.254.169.254", "0.0.0.0", "224.0.0.1", "fe80::1", "10.1.2.3", "::1"])
def test_address_rules(address):
    assert not fetch.allowed_address(address, allow_private=False)
    private_ok = address in ("10.1.2.3", "::1")
    assert fetch.allowed_address(address, allow_private=True) == private_ok
    assert fetch.allowed_address("93.184.216.34", allow_private=False)


def test_hostname_resolving_to_a_private_address_is_refused_at_connect(monkeypatch, http_server, tmp_path):
    """The address checked is the address connected to: a public-looking name cannot smuggle loopback."""
    http_server.routes["/x.jpg"] = serve(jpeg())
    real = fetch.socket.getaddrinfo
    monkeypatch.setattr(fetch.socket, "getaddrinfo",
                        lambda host, *a, **k: real("127.0.0.1" if host == "cdn.example.com" else host, *a, **k))
    port = http_server.server_address[1]
    (image,), _ = fetch_urls([f"http://cdn.example.com:{port}/x.jpg"],
                             settings_for(tmp_path, allow_private_hosts=False))
    assert image.status == "failed" and "cdn.example.com resolves to a non-public address" in image.reason
    assert http_server.hits == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.jpg", "gopher://x/1",
                                 "data:image/png;base64,iVBORw0KGgo=", "javascript:alert(1)", "/relative.jpg"])
def test_non_http_schemes_are_refused(tmp_path, url):
    (image,), _ = fetch_urls([url], settings_for(tmp_path))
    assert image.status == "failed" and "refused (only http and https)" in image.reason


def test_redirect_to_file_scheme_is_refused(http_server, tmp_path):
    http_server.routes["/sneaky.jpg"] = redirect("file:///etc/passwd")
    (image,), _ = fetch_urls([f"{http_server.url}/sneaky.jpg"], settings_for(tmp_path))
    assert image.status == "failed" and "scheme 'file' refused" in image.reason


# ---------------------------------------------------------------- cache


def test_offline_uses_only_the_cache(http_server, tmp_path):
    http_server.routes["/a.jpg"] = serve(jpeg())
    http_server.routes["/b.jpg"] = serve(jpeg())
    settings = settings_for(tmp_path)
    fetch_urls([f"{http_server.url}/a.jpg"], settings)
    hits = len(http_server.hits)
    (cached, missing), summary = fetch_urls([f"{http_server.url}/a.jpg", f"{http_server.url}/b.jpg"], settings,
                                       offline=True)
    assert cached.status == "ok" and cached.from_cache and cached.width == 120
    assert missing.status == "failed" and missing.reason == "offline, and not in the image cache"
    assert (summary.cached, summary.fetched, summary.failed) == (1, 0, 1)
    assert len(http_server.hits) == hits  # offline: not one request


def test_a_failed_download_is_remembered_and_not_tried_again(http_server, tmp_path):
    http_server.routes["/gone.jpg"] = serve(b"nothing", status=404)
    http_server.routes["/later.jpg"] = serve(b"nothing", status=404)
    settings = settings_for(tmp_path)
    urls = [f"{http_server.url}/gone.jpg", f"{http_server.url}/later.jpg"]
    fetch_urls(urls, settings)
    assert sorted(http_server.hits) == ["/gone.jpg", "/later.jpg"]
    http_server.routes["/later.jpg"] = serve(jpeg())  # fixed since: still not asked until the failure is old

    (gone, later), summary = fetch_urls(urls, settings)
    assert len(http_server.hits) == 2  # no request: both failed a moment ago
    assert gone.status == later.status == "failed" and (summary.failed, summary.not_retried) == (2, 2)
    assert gone.reason.startswith("HTTP 404 (in a build ") and "--retry-images" in gone.reason, gone.reason

    found = [Image(url=url) for url in urls]
    summary = fetch.fetch_all(found, settings, Cache.from_settings(settings), retry=True)  # --retry-images
    assert [i.status for i in found] == ["failed", "ok"] and summary.not_retried == 0
    assert sorted(http_server.hits) == ["/gone.jpg", "/gone.jpg", "/later.jpg", "/later.jpg"]
    (gone,), _ = fetch_urls(urls[:1], settings)  # retried, it failed anew: remembered again
    assert "in a build" in gone.reason and http_server.hits.count("/gone.jpg") == 2


def test_remembered_failures_expire_and_can_be_turned_off(http_server, tmp_path):
    http_server.routes["/gone.jpg"] = serve(b"nothing", status=404)
    url = f"{http_server.url}/gone.jpg"
    fetch_urls([url], settings_for(tmp_path, remember_failures=0))
    fetch_urls([url], settings_for(tmp_path, remember_failures=0))
    assert http_server.hits == ["/gone.jpg"] * 2  # 0: every build tries again, and nothing is kept
    assert not (tmp_path / "cache" / "failed").exists()

    settings = settings_for(tmp_path, remember_failures=60)
    fetch_urls([url], settings)
    failures = cache.Failures(Cache.from_settings(settings), settings)
    assert failures.reason(url) and failures.reason(url, now=time.time() + 61) is None  # a minute on: tried
    assert cache.Failures(Cache.from_settings(settings), settings, consult=False).reason(url) is None
    fetch_urls([url], settings_for(tmp_path, remember_failures=60, retries=2))  # other settings: tried again
    assert http_server.hits == ["/gone.jpg"] * 4


def test_a_failure_entry_not_sealed_by_this_user_is_ignored(http_server, tmp_path):
    """The cache folder is shared, not trusted: a planted entry cannot make an image fail."""
    http_server.routes["/a.jpg"] = serve(jpeg())
    settings = settings_for(tmp_path)
    url = f"{http_server.url}/a.jpg"
    failures = cache.Failures(Cache.from_settings(settings), settings)
    planted = failures.entries.path(failures.key(url))
    planted.parent.mkdir(parents=True)
    planted.write_text(json.dumps({"at": time.time(), "reason": "HTTP 404"}), encoding="utf-8")
    (image,), _ = fetch_urls([url], settings)
    assert image.status == "ok" and http_server.hits == ["/a.jpg"]


def test_old_failure_entries_are_swept(tmp_path):
    store = Cache(tmp_path / "cache")
    old = store.root / "failed" / "ab" / f"{'ab' * 32}.json"
    old.parent.mkdir(parents=True)
    old.write_text("{}", encoding="utf-8")
    os.utime(old, (time.time() - cache.Failures.LONGEST - 60,) * 2)
    assert store.sweep() == 1 and not old.exists()


def test_a_host_is_looked_up_once_per_build(monkeypatch, tmp_path):
    """Twenty images on a host that does not resolve: one lookup, twenty failures, at once."""
    lookups = []

    def slow_failure(host, port, allow_private):
        lookups.append(host)
        time.sleep(0.2)
        raise FetchError(f"cannot resolve host {host}: [Errno -2] Name or service not known")

    monkeypatch.setattr(fetch, "resolve", slow_failure)
    urls = [f"http://dead.invalid/{n}.jpg" for n in range(20)]
    started = time.monotonic()
    found, summary = fetch_urls(urls, settings_for(tmp_path, concurrency=8, per_host=8))
    assert lookups == ["dead.invalid"] and summary.failed == 20
    assert all(i.reason.startswith("cannot resolve host dead.invalid") for i in found)
    assert time.monotonic() - started < 2


def test_a_host_that_does_not_resolve_is_remembered_once_for_all_its_images(monkeypatch, http_server, tmp_path):
    """A dead CDN: one lookup and one entry in the cache for the host, not one per image (an archive had 17,639: a
    rebuild spent 18 s reading them back); the next build fails its images at once without a lookup, and once one
    of them downloads (--retry-images) the host is forgotten."""
    real, lookups = fetch.socket.getaddrinfo, []

    def no_address(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(fetch.socket, "getaddrinfo", no_address)
    settings = settings_for(tmp_path)
    urls = [f"{http_server.url}/{n}.jpg" for n in range(30)]
    found, summary = fetch_urls(urls, settings)
    assert lookups == ["127.0.0.1"] and summary.failed == 30 and not http_server.hits
    assert all(i.reason.startswith("cannot resolve host 127.0.0.1") for i in found)
    assert len(list((tmp_path / "cache" / "failed").rglob("*.json"))) == 1

    found, summary = fetch_urls(urls, settings)
    assert lookups == ["127.0.0.1"] and (summary.failed, summary.not_retried) == (30, 30)
    assert all(i.reason.startswith("cannot resolve host 127.0.0.1") and "(in a build " in i.reason for i in found)

    monkeypatch.setattr(fetch.socket, "getaddrinfo", real)
    http_server.routes["/0.jpg"] = serve(jpeg())
    http_server.routes["/1.jpg"] = serve(jpeg())
    retried = [Image(url=urls[0])]
    fetch.fetch_all(retried, settings, Cache.from_settings(settings), retry=True)
    (other,), _ = fetch_urls(urls[1:2], settings)
    assert retried[0].status == other.status == "ok" and http_server.hits == ["/0.jpg", "/1.jpg"]


def test_a_redirect_to_a_host_without_an_address_fails_that_image_only(monkeypatch, http_server, tmp_path):
    """One image of a live host redirected to a dead name (an archive may point a shared shortener or proxy there):
    that URL fails and is remembered, its host's other images are fetched, in this build and the next."""
    real = fetch.socket.getaddrinfo

    def dead_name(host, *args, **kwargs):
        if host == "dead.example":
            raise socket.gaierror(-2, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(fetch.socket, "getaddrinfo", dead_name)
    http_server.routes["/a.jpg"] = redirect("http://dead.example/x.jpg")
    http_server.routes["/b.jpg"] = serve(jpeg())
    settings = settings_for(tmp_path, concurrency=1)
    urls = [f"{http_server.url}/a.jpg", f"{http_server.url}/b.jpg"]
    for _build in range(2):
        (moved, kept), _ = fetch_urls(urls, settings)
        assert moved.status == "failed" and moved.reason.startswith("cannot resolve host dead.example")
        assert kept.status == "ok", kept.reason
    assert http_server.hits.count("/a.jpg") == 1 and "(in a build " in moved.reason


def test_images_of_a_host_that_never_answers_fail_without_each_waiting(tmp_path):
    """A vanished server behind a firewall: connections queue, nothing is answered. Two downloads wait out their
    timeouts; the host's other images then fail at once, saying why."""
    silent = socket.create_server(("127.0.0.1", 0), backlog=32)
    port = silent.getsockname()[1]
    try:
        urls = [f"http://127.0.0.1:{port}/{n}.jpg" for n in range(12)]
        started = time.monotonic()
        found, summary = fetch_urls(urls, settings_for(tmp_path, read_timeout=0.5, retries=0, per_host=2))
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert summary.failed == 12 and elapsed < 2.5, elapsed  # each waiting its turn: 6 rounds of 0.5 s at least
    waited = [i.reason for i in found if i.reason.startswith("timed out")]
    skipped = [i.reason for i in found if i.reason.startswith(f"not tried: http://127.0.0.1:{port} answered none")]
    # Two failures mark the host; with two at a time, a third may start as the first slot frees.
    assert 2 <= len(waited) <= 3 and len(waited) + len(skipped) == 12, [i.reason for i in found]
    assert "(timed out" in skipped[0]


def test_images_not_tried_are_tried_by_the_next_build(http_server, tmp_path):
    """A slow but live host whose first two images time out: its others are not tried in this build, and that is
    not remembered (they were never asked for); another port of the same host is asked meanwhile."""
    for n in range(2):
        http_server.routes[f"/slow{n}.jpg"] = serve(jpeg(), delay=1.0)
    for n in range(3):
        http_server.routes[f"/ok{n}.jpg"] = serve(jpeg())
    silent = socket.create_server(("127.0.0.1", 0), backlog=8)  # a dead port of the same host
    dead = [f"http://127.0.0.1:{silent.getsockname()[1]}/{n}.jpg" for n in range(2)]
    urls = [f"{http_server.url}/slow{n}.jpg" for n in range(2)] + [f"{http_server.url}/ok{n}.jpg" for n in range(3)]
    try:
        settings = settings_for(tmp_path, read_timeout=0.3, retries=0, per_host=1, concurrency=1)
        found, _ = fetch_urls(dead + urls, settings)
        assert [i.status for i in found[2:4]] == ["failed"] * 2
        assert all(i.reason.startswith("not tried: http://127.0.0.1") for i in found[4:]), [i.reason for i in found]
        found, _ = fetch_urls(urls[2:], settings)  # the next build: asked, found
    finally:
        silent.close()
    assert [i.status for i in found] == ["ok"] * 3, [i.reason for i in found]


def test_a_download_forgets_the_failure_before_it(http_server, tmp_path):
    http_server.routes["/back.jpg"] = serve(b"nothing", status=404)
    settings = settings_for(tmp_path)
    url = f"{http_server.url}/back.jpg"
    fetch_urls([url], settings)
    http_server.routes["/back.jpg"] = serve(jpeg())
    found = [Image(url=url)]
    fetch.fetch_all(found, settings, Cache.from_settings(settings), retry=True)
    assert found[0].status == "ok"
    failures = cache.Failures(Cache.from_settings(settings), settings)
    assert failures.reason(url) is None and not failures.entries.path(failures.key(url)).exists()


@pytest.mark.parametrize("planted", ["failed", "failed/ab"])
def test_the_failures_sweep_never_follows_a_link_out_of_the_cache(tmp_path, planted):
    """The cache folder is shared: `failed/` or a shard planted as a link to another folder must not make a build
    delete that folder's old files."""
    victim = tmp_path / "victim"
    victim.mkdir()
    old_file = victim / f"{'ab' * 32}.json"
    old_file.write_text("{}", encoding="utf-8")
    os.utime(old_file, (time.time() - cache.Failures.LONGEST - 60,) * 2)
    store = Cache(tmp_path / "cache")
    link = store.root / planted
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(victim if planted == "failed/ab" else tmp_path / "victim-parent")
    if planted == "failed":
        (tmp_path / "victim-parent").mkdir()
        (tmp_path / "victim-parent" / "ab").symlink_to(victim)
    assert store.sweep() == 0 and old_file.exists()


def test_a_host_that_answered_is_not_taken_for_down(http_server, tmp_path):
    """Slow images on a live host time out one by one; the host's other images are still tried."""
    http_server.routes["/ok.jpg"] = serve(jpeg())
    for n in range(4):
        http_server.routes[f"/slow{n}.jpg"] = serve(jpeg(), delay=1.0)
    urls = [f"{http_server.url}/ok.jpg"] + [f"{http_server.url}/slow{n}.jpg" for n in range(4)]
    found, _ = fetch_urls(urls, settings_for(tmp_path, read_timeout=0.3, retries=0, per_host=1, concurrency=1))
    assert found[0].status == "ok"
    assert all(i.reason.startswith("timed out") for i in found[1:]), [i.reason for i in found]
    assert len(http_server.hits) == 5


def test_cache_hit_makes_no_request_and_reuses_variants(http_server, tmp_path):
    http_server.routes["/a.jpg"] = serve(jpeg((2000, 1000)))
    settings = settings_for(tmp_path)
    (first,), _ = fetch_urls([f"{http_server.url}/a.jpg"], settings)
    variant(first, settings)
    written = first.path.stat().st_mtime_ns
    (again,), summary = fetch_urls([f"{http_server.url}/a.jpg"], settings)
    assert again.from_cache and summary.cached == 1 and http_server.hits == ["/a.jpg"]
    assert variant(again, settings).size == (1600, 800) and again.path.stat().st_mtime_ns == written


def test_same_url_twice_is_fetched_once(http_server, tmp_path):
    http_server.routes["/a.jpg"] = serve(jpeg())
    found, _ = fetch_urls([f"{http_server.url}/a.jpg"] * 3, settings_for(tmp_path))
    assert [i.status for i in found] == ["ok"] * 3 and http_server.hits == ["/a.jpg"]


def test_cache_paths_never_come_from_the_url(tmp_path):
    cache = Cache(tmp_path / "cache")
    for url in ["https://x/../../../../etc/passwd", "https://x/%2e%2e/%2e%2e/a.jpg", "https://x/a\x00b/../c"]:
        for path in (cache.original(url), cache.variant(url, "epub-1600x1600-q80", ".jpg")):
            assert path.resolve().is_relative_to(cache.root.resolve())
            assert ".." not in path.relative_to(cache.root).parts


def test_cut_connection_leaves_nothing_in_the_cache(http_server, tmp_path):
    """The server promises 100 kB and hangs up after 1 kB: a failed image, no partial file."""
    http_server.routes["/cut.jpg"] = serve(jpeg()[:1000], length=100_000)
    settings = settings_for(tmp_path)
    (image,), _ = fetch_urls([f"{http_server.url}/cut.jpg"], settings)
    assert image.status == "failed" and "connection failed" in image.reason, image.reason
    cache_root = Path(settings.cache_dir)
    assert not any(p.is_file() for p in cache_root.rglob("*") if p.parts[-3] != "failed")  # only that it failed


FETCH_SCRIPT = textwrap.dedent("""
    import json, sys
    from compile.images import fetch, variants
    from compile.images.cache import Cache
    from compile.config import ImageSettings
    from compile.model import Image
    settings = ImageSettings(allow_private_hosts=True, cache_dir=sys.argv[1], total_timeout=30, concurrency=4)
    found = [Image(url=u) for u in sys.argv[2:]]
    fetch.fetch_all(found, settings, Cache.from_settings(settings))
    cache = Cache.from_settings(settings)
    variants.use_profile(found, variants.profile("epub", settings), cache, settings)
    print(json.dumps([[i.status, i.reason] for i in found]))
""")


def _fetch_process(cache_dir: Path, urls: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", FETCH_SCRIPT, str(cache_dir), *urls], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_killed_download_leaves_the_cache_usable(http_server, tmp_path):
    data = jpeg((300, 200))
    state = {"slow": True}

    def sometimes_slow(handler):
        if state["slow"]:
            drip(0.05, limit=len(data))(handler)
        else:
            serve(data)(handler)
    http_server.routes["/a.jpg"] = sometimes_slow
    cache_dir = tmp_path / "cache"
    process = _fetch_process(cache_dir, [f"{http_server.url}/a.jpg"])
    deadline = time.monotonic() + 10
    while "/a.jpg" not in http_server.hits and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # mid-download
    process.send_signal(signal.SIGKILL)
    process.wait()
    cache = Cache(cache_dir)
    assert not cache.original(f"{http_server.url}/a.jpg").exists()
    state["slow"] = False
    settings = settings_for(tmp_path)
    (image,), _ = fetch_urls([f"{http_server.url}/a.jpg"], settings)
    assert image.status == "ok" and PILImage.open(cache.original(image.url)).size == (300, 200)


def test_stale_part_files_are_swept(tmp_path):
    cache = Cache(tmp_path / "cache")
    old = cache.root / "originals" / "ab" / ".abc.x.part"
    fresh = cache.root / "originals" / "ab" / ".abd.x.part"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"half")
    fresh.write_bytes(b"being written by another build")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert cache.sweep() == 1 and not old.exists() and fresh.exists()


def test_write_atomic_never_leaves_half_a_file(tmp_path, monkeypatch):
    target = tmp_path / "x" / "file"
    atomic.write_bytes(target, b"old")

    def crash(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_bytes(target, b"new")
    assert target.read_bytes() == b"old" and list(target.parent.iterdir()) == [target]


def test_write_atomic_in_one_open_keeps_the_umask_and_never_writes_through_a_planted_name(tmp_path, monkeypatch):
    umask = os.umask(0o027)
    try:
        atomic.write_bytes(tmp_path / "new" / "a", b"one")  # its folder made on the way
        assert stat.S_IMODE((tmp_path / "new" / "a").stat().st_mode) == 0o640
    finally:
        os.umask(umask)
    # The next temporary name is taken by a link to a file elsewhere: O_EXCL refuses it, mkstemp finds another.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"untouched")
    serial = itertools.count(7)
    monkeypatch.setattr(atomic, "_SERIAL", serial)
    (tmp_path / "new" / f".b.{os.getpid()}.7.part").symlink_to(elsewhere)
    atomic.write_bytes(tmp_path / "new" / "b", b"two")
    assert (tmp_path / "new" / "b").read_bytes() == b"two" and elsewhere.read_bytes() == b"untouched"

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: _Failing(fd, full))
    with pytest.raises(OSError, match="No space") as raised:
        atomic.write_bytes(tmp_path / "new" / "c", b"three")
    assert raised.value.filename == str(tmp_path / "new" / "c")  # the message names the output
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [f".b.{os.getpid()}.7.part", "a", "b"]


class _Failing:
    """A file whose write fails (a full disk)."""

    def __init__(self, fd, fail):
        self.fd, self.write = fd, fail

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def test_two_builds_share_one_cache_dir(http_server, tmp_path):
    """Two processes fetch and process the same 24 images into the same cache at the same time."""
    pictures = {f"/p{n}.jpg": noise_jpeg((400, 300)) for n in range(24)}
    for path, data in pictures.items():
        http_server.routes[path] = serve(data, delay=0.02)
    urls = [f"{http_server.url}{path}" for path in pictures]
    cache_dir = tmp_path / "cache"
    processes = [_fetch_process(cache_dir, urls), _fetch_process(cache_dir, list(reversed(urls)))]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert all(status == "ok" for status, _ in json.loads(out)), out
    cache = Cache(cache_dir)
    for path, data in pictures.items():
        assert cache.original(f"{http_server.url}{path}").read_bytes() == data
    for file in (cache_dir / "variants").rglob("*"):
        if file.is_file():
            PILImage.open(file).load()  # every variant whole
    assert not list(cache_dir.rglob("*.part"))


def test_concurrent_fetch_in_threads(http_server, tmp_path):
    for n in range(10):
        http_server.routes[f"/t{n}.jpg"] = serve(jpeg(), delay=0.05)
    urls = [f"{http_server.url}/t{n}.jpg" for n in range(10)]
    settings = settings_for(tmp_path)
    results = []
    threads = [threading.Thread(target=lambda: results.append(fetch_urls(urls, settings)[0])) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(image.status == "ok" for found in results for image in found)


# ---------------------------------------------------------------- budgets


def test_budget_recompresses_and_says_so(http_server, tmp_path):
    for n in range(4):
        http_server.routes[f"/n{n}.jpg"] = serve(noise_jpeg((1200, 900)))
    settings = settings_for(tmp_path)
    found, _ = fetch_urls([f"{http_server.url}/n{n}.jpg" for n in range(4)], settings)
    cache = Cache.from_settings(settings)
    free = variants.use_profile(found, variants.profile("epub", settings), cache, settings)
    assert free["recompressed"] is None
    budget = free["bytes"] // 3
    entry = variants.use_profile(found, variants.profile("epub", settings), cache, settings, budget_bytes=budget)
    assert entry["bytes"] <= budget < free["bytes"]
    assert "over the budget" in entry["recompressed"] and "(fits)" in entry["recompressed"]
    assert sum(image.path.stat().st_size for image in found) == entry["bytes"]
    assert all(image.variants["epub"]["profile"] == entry["profile"] for image in found)


def test_a_budget_step_stops_making_variants_once_over(http_server, tmp_path):
    """Far over the budget, a step makes a budget's worth of variants, not all of them: an archive of thousands of
    images took each of the seven steps its every image (a 1,070-image archive: 556 s; 65 s so)."""
    count = 12
    for n in range(count):
        http_server.routes[f"/o{n}.jpg"] = serve(noise_jpeg((900, 700)))
    settings = settings_for(tmp_path)
    found, _ = fetch_urls([f"{http_server.url}/o{n}.jpg" for n in range(count)], settings)
    cache, target = Cache.from_settings(settings), variants.profile("epub", settings)
    entry = variants.use_profile(found, target, cache, settings, budget_bytes=1000)
    assert "still over budget" in entry["recompressed"]
    made = {tag.name: len(list(tag.iterdir())) for tag in (cache.root / "variants").iterdir()}
    assert made.pop(f"{entry['profile']}.{variants.ENCODING}") == count  # the last step whole: every image's
    assert len(made) == len(variants.BUDGET_LADDER)  # the target and every step before the last were tried
    assert all(files < count for files in made.values()), made  # each stopped once over (4 threads in flight)
    assert all(image.variants["epub"]["profile"] == entry["profile"] for image in found)
    assert sum(image.path.stat().st_size for image in found) == entry["bytes"]


def screenshot_png(size=(1400, 1000), seed=0) -> bytes:
    """A few flat colours and thin lines, as a chart or a screenshot of a terminal is: PNG, not JPEG."""
    rng = random.Random(seed)
    picture = PILImage.new("RGB", size, (240, 240, 240))
    draw = ImageDraw.Draw(picture)
    palette = [(30, 60, 90), (0, 170, 230), (200, 40, 40), (20, 20, 20), (120, 200, 120)]
    for _ in range(200):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        draw.line((x, y, x + rng.randrange(-300, 300), y + rng.randrange(-200, 200)), fill=rng.choice(palette),
                  width=rng.choice((1, 2, 3)))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def test_a_budget_keeps_screenshots_whole_in_256_colours(http_server, tmp_path):
    """Scaled down, a screenshot hardly shrinks (its blended edges compress worse than its flat colours did);
    in an adaptive palette at full size it fits where the sizes alone did not."""
    for n in range(3):
        http_server.routes[f"/s{n}.png"] = serve(screenshot_png(seed=n), "image/png")
    settings = settings_for(tmp_path)
    found, _ = fetch_urls([f"{http_server.url}/s{n}.png" for n in range(3)], settings)
    cache, target = Cache.from_settings(settings), variants.profile("epub", settings)
    free = variants.use_profile(found, target, cache, settings)
    # PNG at full colour: 1.4 megapixels, its colours counted on a sample by nearest pixels (a smoothing
    # resize had blended them into many, and a large chart went to JPEG)
    assert {(PILImage.open(image.path).format, PILImage.open(image.path).mode) for image in found} == {("PNG", "RGB")}
    entry = variants.use_profile(found, target, cache, settings, budget_bytes=int(free["bytes"] * 0.8))
    assert "(fits)" in entry["recompressed"] and entry["profile"].endswith("-pal")
    for image in found:
        with PILImage.open(image.path) as picture:
            assert picture.format == "PNG" and picture.mode == "P" and picture.size == (1400, 1000)
            assert len(picture.convert("RGB").getcolors(256) or []) >= 5  # its colours, not a posterised few


def test_a_budget_keeps_a_cut_out_photo_in_full_colour(http_server, tmp_path):
    """A transparent photo is PNG for its alpha, not for few colours: 256 colours would band it."""
    http_server.routes["/cut.png"] = serve(png_alpha(), "image/png")
    settings = settings_for(tmp_path)
    found, _ = fetch_urls([f"{http_server.url}/cut.png"], settings)
    entry = variants.use_profile(found, variants.profile("epub", settings), Cache.from_settings(settings), settings,
                                 budget_bytes=1000)
    assert entry["recompressed"] and PILImage.open(found[0].path).mode == "RGBA"


def test_impossible_budget_says_it_is_still_over(http_server, tmp_path):
    http_server.routes["/n.jpg"] = serve(noise_jpeg((800, 600)))
    settings = settings_for(tmp_path)
    found, _ = fetch_urls([f"{http_server.url}/n.jpg"], settings)
    entry = variants.use_profile(found, variants.profile("epub", settings), Cache.from_settings(settings),
                               settings, budget_bytes=1000)
    assert "still over budget" in entry["recompressed"] and found[0].status == "ok"


# ---------------------------------------------------------------- finding images


def test_front_matter_image_becomes_the_lead_figure():
    article = Article(id="a", source="a.md", title="T <x>", url="https://news.example.com/2020/05/story.html",
                      body="<p>text</p>", meta={"front_matter_image": "../img/lead.jpg"})
    markup.add_lead_image(article)
    assert article.images[0].url == "https://news.example.com/2020/img/lead.jpg"
    soup = BeautifulSoup(article.body, "html.parser")
    assert soup.figure.img["src"] == article.images[0].url and soup.figure.img["alt"] == "T <x>"
    markup.add_lead_image(article)  # idempotent: already in the body
    assert len(article.images) == 1


def test_front_matter_image_must_be_http():
    article = Article(id="a", source="a.md", body="<p>x</p>", meta={"front_matter_image": "javascript:alert(1)"})
    markup.add_lead_image(article)
    assert article.images == [] and article.body == "<p>x</p>" and "not an http(s) URL" in article.warnings[0]


def test_front_matter_proxy_image_is_unwrapped():
    article = Article(id="a", source="a.md", body="", meta={"front_matter_image":
                                                           "https://images.weserv.nl/?url=cdn.example.com/a.jpg"})
    markup.add_lead_image(article)
    assert article.images[0].url == "https://cdn.example.com/a.jpg"
    assert article.images[0].found_url.startswith("https://images.weserv.nl/")


# ---------------------------------------------------------------- the whole build


def test_build_gives_each_output_its_own_variant(http_server, tmp_path):
    http_server.routes["/photo.jpg"] = serve(noise_jpeg((2400, 1600), quality=70))
    http_server.routes["/lead.png"] = serve(png_line_art((500, 300)), "image/png")
    source = tmp_path / "src"
    source.mkdir()
    (source / "anthology.toml").write_text(textwrap.dedent("""
        title = "Test"
        [images]
        allow_private_hosts = true
        """), encoding="utf-8")
    (source / "story.md").write_text(textwrap.dedent(f"""
        ---
        title: A story with pictures
        date: 2021-05-22
        url: {http_server.url}/news/story.html
        image: ../lead.png
        ---
        Some text of the story, long enough to be an article body.

        ![A photo]({http_server.url}/photo.jpg)

        More text after the photo.

        ![Gone](/missing.jpg)
        """).lstrip(), encoding="utf-8")
    result = run_cli("build", str(source), "-o", str(tmp_path / "out"),
                     env={"ANTHOLOGY_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert "images: 2 fetched" in result.stderr and "1 failed" in result.stderr
    assert "\x1b[" not in result.stderr  # not a terminal: plain lines
    report = json.loads((tmp_path / "out" / "src.report.json").read_text(encoding="utf-8"))
    by_url = {entry["url"]: entry for entry in report["images"]}
    photo = by_url[f"{http_server.url}/photo.jpg"]
    assert photo["status"] == "ok" and photo["width"] == 2400
    assert photo["variants"]["epub"]["width"] == 1600
    block = theme.load("book").measure_pt / 72  # inches: the theme's text block, a full-width figure's width
    assert photo["variants"]["print"]["width"] == round(block * 300), "300 dpi at its printed width"
    assert by_url[f"{http_server.url}/lead.png"]["variants"]["epub"]["media_type"] == "image/png"
    missing = by_url[f"{http_server.url}/missing.jpg"]
    assert missing["status"] == "failed" and missing["reason"] == "HTTP 404"
    summary = report["image_summary"]
    assert (summary["fetched"], summary["failed"]) == (2, 1) and summary["bytes"] > 0
    assert set(summary["profiles"]) == {"epub", "pdf"}
    with zipfile.ZipFile(tmp_path / "out" / "src.epub") as book:
        names = [n for n in book.namelist() if "/images/" in n and not n.endswith("/cover.jpg")]
        sizes = sorted(PILImage.open(io.BytesIO(book.read(n))).size for n in names)
    assert sizes == [(500, 300), (1600, 1067)]  # the EPUB carries the epub variants, not the print ones
    hits = list(http_server.hits)
    again = run_cli("build", str(source), "-o", str(tmp_path / "out2"), "--offline", "--format", "epub",
                    env={"ANTHOLOGY_CACHE": str(tmp_path / "cache")})
    assert again.returncode == 0 and "2 from cache" in again.stderr and http_server.hits == hits

    online = run_cli("build", str(source), "-o", str(tmp_path / "out3"), "--format", "epub",
                     env={"ANTHOLOGY_CACHE": str(tmp_path / "cache")})  # the dead link: not asked again
    assert online.returncode == 0 and "1 failed (1 as in a recent build: --retry-images)" in online.stderr
    assert http_server.hits == hits, "a failure an hour old or less is not tried again"
    report = json.loads((tmp_path / "out3" / "src.report.json").read_text(encoding="utf-8"))
    missing = next(entry for entry in report["images"] if entry["url"].endswith("/missing.jpg"))
    assert missing["reason"].startswith("HTTP 404 (in a build ") and report["image_summary"]["not_retried"] == 1
    retried = run_cli("build", str(source), "-o", str(tmp_path / "out3"), "--format", "epub", "--retry-images",
                      env={"ANTHOLOGY_CACHE": str(tmp_path / "cache")})
    assert retried.returncode == 0 and "1 failed, in" in retried.stderr
    assert http_server.hits == [*hits, "/missing.jpg"]


def test_unicode_urls_are_encoded_on_the_wire(monkeypatch, http_server, tmp_path):
    """Chinese file names and IDN hosts are common in news URLs: sent as browsers send them."""
    http_server.routes["/%E5%9B%BE%E7%89%87%20a.jpg"] = serve(jpeg())
    real = fetch.socket.getaddrinfo
    monkeypatch.setattr(fetch.socket, "getaddrinfo",
                        lambda host, *a, **k: real("127.0.0.1" if host.startswith("xn--") else host, *a, **k))
    port = http_server.server_address[1]
    found, _ = fetch_urls([f"{http_server.url}/图片 a.jpg", f"http://例子.测试:{port}/图片 a.jpg"],
                          settings_for(tmp_path))
    assert [image.status for image in found] == ["ok", "ok"], [image.reason for image in found]
    assert http_server.hits == ["/%E5%9B%BE%E7%89%87%20a.jpg"] * 2


def test_an_unexpected_error_fails_one_image_not_the_build(monkeypatch, http_server, tmp_path):
    http_server.routes["/a.jpg"] = serve(jpeg())

    def broken(*args, **kwargs):
        raise RuntimeError("surprise")
    monkeypatch.setattr(fetch, "fetch_one", broken)
    (image,), summary = fetch_urls([f"{http_server.url}/a.jpg"], settings_for(tmp_path))
    assert image.status == "failed" and "internal error: RuntimeError: surprise" in image.reason
    assert summary.failed == 1


def test_a_variant_is_made_from_the_cached_original(tmp_path):
    settings = settings_for(tmp_path)
    image = Image(url="https://example.com/a.jpg")
    variant_of_original(image, jpeg((4000, 1000)), settings, variants.profile("print", settings, printed_width_mm=60))
    assert image.status == "ok" and image.variants["print"]["width"] == round(60 / 25.4 * 300)
    page = Image(url="https://example.com/page.jpg")
    variant_of_original(page, b"<html><body>hi</body></html>", settings, variants.profile("epub", settings))
    assert page.status == "failed" and "HTML page" in page.reason and page.path is None


def test_epub_profile_is_validated(tmp_path):
    from compile import config
    path = tmp_path / "anthology.toml"
    path.write_text('[images]\nepub_profile = "kindle"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match="epub_profile"):
        config.load(path)
    path.write_text('[images]\nepub_profile = "eink"\nepub_budget_mb = 25\n', encoding="utf-8")
    assert config.load(path).images.epub_budget_mb == 25.0


# ---------------------------------------------------------------- untrusted input (issue 18)

MALFORMED_URLS = ["http://[::1/x.png", "http://a b/x.png", "http://host:99999/x", "https://1.2.3.4.5/x.jpg",
                  "http:x.png", "http://xn--zz/x.png"]
NASTY = [*MALFORMED_URLS, "", " ", "//", "http://", "http://[", "http://]", "http://@/", "http://:80/", "https://[zz]/",
         "http://a:b:c/", "http://\x00/", "http://a\tb/", "\u202ehttp://x/", "http://%zz/", "http://例子.测试/图.jpg",
         "file:///etc/passwd", "data:,x", "javascript:alert(1)", "x" * 5000, "http://" + "a." * 200 + "b/"]


@pytest.mark.parametrize("url", NASTY)
def test_url_helpers_never_raise(url):
    """Whatever a source writes, finding and checking its image URL gives an answer, never an exception."""
    img = BeautifulSoup(f'<img src="x" srcset="{url} 2x, {url} ²w, {url} 1e999w" data-src="{url}">', "lxml").img
    for base in ("", "https://news.example/a/b.html", "http://[::1/", url):
        found = markup.absolute_url(url, base)
        assert found == "" or found.startswith(("http://", "https://", "HTTP"))
        markup.best_source(img, [url], base)
        markup.unwrap_proxy(found)
    markup.unwrap_proxy(url)
    with contextlib.suppress(FetchError):
        fetch.check_url(url)
    with contextlib.suppress(FetchError):
        fetch.wire_url(url)
    article = Article(id="a", source="a.md", url=url, meta={"front_matter_image": url})
    markup.add_lead_image(article)


def _httpx_sends(url: str) -> bool:
    try:
        fetch.wire_url(url)
    except FetchError:
        return False
    return True


URL_PIECES = ["http://", "https://", "HTTP://", "//", ":", "@", "[", "]", "::1", "%", "%25", "#", "?", "/", ".", "..",
              "a", "Z", "-", "+", "例", "ß", "١", "\u3002", "xn--", "1.2.3.4", "\x00", "\t", " ", "\u200b", "fe80::1%",
              "999999"]


@property_settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.sampled_from(NASTY), st.lists(st.sampled_from(URL_PIECES), max_size=12).map("".join),
                 st.text(st.characters(exclude_categories=("Cs",)), max_size=40)))
def test_markup_knows_what_httpx_can_send(url):
    """markup.sendable answers what httpx's URL parser (fetch.wire_url) does, without the HTTP client: cleaning
    reaches no network code. (Lone surrogates are left out: the sanitizer refuses them before it matters.)"""
    assert markup.sendable(url) == _httpx_sends(url)


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_malformed_url_is_a_failed_image_not_a_crash(tmp_path, url):
    found = markup.absolute_url(url)
    assert markup.unwrap_proxy(found) == (found, url)  # the source's spelling is reported as found
    (image,), summary = fetch_urls([found], settings_for(tmp_path))
    assert (image.status, image.reason, summary.failed) == ("failed", markup.MALFORMED, 1)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "/etc/passwd", "../x.png", "x.png"])
def test_local_paths_and_relative_urls_without_a_base_are_refused(url):
    assert markup.absolute_url(url) == ""
    with pytest.raises(FetchError):
        fetch.check_url(url)


def test_malformed_image_urls_keep_their_article(http_server, tmp_path):
    """Each bad URL becomes a failed image (placeholder in the book, entry in the report); the article stays."""
    http_server.routes["/ok.jpg"] = serve(jpeg())
    source = tmp_path / "src"
    source.mkdir()
    (source / "anthology.toml").write_text(textwrap.dedent("""
        title = "Test"
        [images]
        allow_private_hosts = true
        """), encoding="utf-8")
    for n, url in enumerate(MALFORMED_URLS[:3]):
        (source / f"story{n}.html").write_text(
            f"<h1>Story {n}</h1><p>Text of story number {n}, long enough to be an article.</p>"
            f'<figure><img src="{url}"><figcaption>Caption {n}</figcaption></figure>'
            f'<p><img src="{http_server.url}/ok.jpg"></p><p>After the figure.</p>', encoding="utf-8")
    result = run_cli("build", str(source), "-o", str(tmp_path / "out"), "--no-embed-fonts",
                     env={"ANTHOLOGY_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert "internal error" not in result.stderr
    report = json.loads((tmp_path / "out" / "src.report.json").read_text(encoding="utf-8"))
    assert [e["status"] for e in report["inputs"] if e["source"].endswith(".html")] == ["article"] * 3
    failed = {entry["found_url"]: entry for entry in report["images"] if entry["status"] == "failed"}
    assert set(failed) == set(MALFORMED_URLS[:3])
    assert {entry["reason"] for entry in failed.values()} == {markup.MALFORMED}
    assert sum(entry["status"] == "ok" for entry in report["images"]) == 3
    with zipfile.ZipFile(tmp_path / "out" / "src.epub") as book:
        text = "".join(book.read(n).decode() for n in book.namelist() if n.endswith(".xhtml"))
    assert text.count("image-missing") == 3 and all(f"Caption {n}" in text for n in range(3))


def _cut(data: bytes, share: float = 0.6) -> bytes:
    return data[:int(len(data) * share)]


@pytest.mark.parametrize("make", [lambda: _cut(noise_jpeg()), lambda: noise_jpeg()[:-2],
                                  lambda: _cut(png_line_art()), lambda: png_line_art()[:-12]],
                         ids=["jpeg-60%", "jpeg-no-EOI", "png-60%", "png-no-IEND"])
def test_truncated_images_fail(http_server, tmp_path, monkeypatch, make):
    """Even where Pillow is told to accept cut files (WeasyPrint sets that on import)."""
    monkeypatch.setattr(decode.ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    http_server.routes["/cut"] = serve(make())
    (image,), _ = fetch_urls([f"{http_server.url}/cut"], settings_for(tmp_path))
    assert (image.status, image.reason) == ("failed", "truncated image")
    assert not Cache.from_settings(settings_for(tmp_path)).original(image.url).exists()


def test_jpeg_is_decoded_at_the_scale_its_variant_needs(tmp_path):
    data = noise_jpeg((3200, 2400))
    with decode.decoded(data, 60_000_000, (400, 400)) as picture:
        assert picture.size == (800, 600) and picture.info["full_size"] == (3200, 2400)  # 1/4: still covers 400
    image = Image(url="https://example.com/big.jpg")
    settings = settings_for(tmp_path, max_side=400)
    variant_of_original(image, data, settings, variants.profile("epub", settings))
    assert image.variants["epub"]["width"] == 400 and image.variants["epub"]["height"] == 300


def test_pixel_budget_refuses_what_it_cannot_hold_and_queues_the_rest():
    budget = decode.PixelBudget(100)
    with pytest.raises(FetchError, match="decoding budget"), budget.hold(101):
        pass
    order = []
    with budget.hold(60):
        waiting = threading.Thread(target=lambda: budget.hold(60).__enter__() or order.append("second"))
        waiting.start()
        time.sleep(0.2)
        order.append("first done")
    waiting.join(5)
    assert order == ["first done", "second"]


PIXEL_BOMBS = textwrap.dedent("""
    import http.server, json, resource, struct, sys, threading, zlib
    limit = 2 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from compile.images import fetch, variants
    from compile.images.cache import Cache
    from compile.config import ImageSettings
    from compile.model import Image

    def png(side):  # all black, RGB: 175 KB on the wire, 240 MB decoded
        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        pack, row = zlib.compressobj(9), bytes(1 + side * 3)
        body = b"".join(pack.compress(row) for _ in range(side)) + pack.flush()
        header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
        return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")

    data = png(7740)
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = ImageSettings(allow_private_hosts=True, cache_dir=sys.argv[1], concurrency=16, per_host=16,
                             read_timeout=60, total_timeout=120)
    found = [Image(url=f"http://127.0.0.1:{server.server_address[1]}/{n}.png") for n in range(16)]
    cache = Cache.from_settings(settings)
    fetch.fetch_all(found, settings, cache)
    variants.use_profile(found, variants.profile("epub", settings), cache, settings)
    print(json.dumps({"results": [[i.status, i.reason] for i in found],
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
""")


@pytest.mark.slow
def test_sixteen_pixel_bombs_fit_in_two_gigabytes(tmp_path):
    """16 PNGs of 7740×7740 (each under max_pixels) took 7.2 GB when decoded at once; under the pixel budget they
    are made one or two at a time: within a 2 GB address space, no MemoryError, no kill."""
    result = subprocess.run([sys.executable, "-c", PIXEL_BOMBS, str(tmp_path / "cache")], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(status == "ok" or ("Memory" not in reason and "internal" not in reason)
               for status, reason in outcome["results"]), outcome["results"]
    assert sum(status == "ok" for status, _ in outcome["results"]) == 16
    assert outcome["peak_mb"] < 1200


def test_a_full_cache_fails_the_image_not_the_article(http_server, tmp_path, monkeypatch):
    http_server.routes["/a.jpg"] = serve(jpeg())
    http_server.routes["/b.jpg"] = serve(jpeg())

    def full(path, data):
        raise OSError(28, "No space left on device", str(path))
    settings = settings_for(tmp_path)
    cache = Cache.from_settings(settings)
    monkeypatch.setattr(atomic, "write_bytes", full)
    found = [Image(url=f"{http_server.url}/a.jpg"), Image(url=f"{http_server.url}/b.jpg")]
    fetch.fetch_all(found, settings, cache)
    assert [i.status for i in found] == ["failed", "failed"] and cache.write_failed
    assert all("cannot write the image cache" in i.reason for i in found)
