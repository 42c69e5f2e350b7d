"""Image fetching benchmark: 200 images from loopback servers with 50 ms added latency per request.

    PYTHONPATH=. python bench/images_bench.py [--images 200] [--latency 0.05] [--hosts 1] [--repeat 3]

Prints, as medians over --repeat runs (each on a fresh cache):
- sequential (concurrency=1) and concurrent (the default settings) fetch times, and their ratio (goal <= 0.15);
- the time to make the EPUB and print variants from a cold variant cache;
- the cache-hit rebuild: fetch_all + both profiles again, everything already cached (no request made).
--hosts N spreads the images over N loopback addresses (127.0.0.1 .. 127.0.0.N), like an archive whose
images come from several CDNs; the per-host limit then matters less.
--folder DIR times a folder of real pictures (an archive's `img/`) made into EPUB variants under a budget, as a
build over its budget makes them (`variants.use_profile`): cold, then under --budget-share of their size.
--dead N also times N dead links, on a host that takes connections and never answers (as a vanished server
behind a firewall does), with the default timeouts: the build that first meets them, and the next build (the
failures are remembered: cache.Failures).
"""

from __future__ import annotations

import argparse
import http.server
import io
import random
import shutil
import socket
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from PIL import Image as PILImage
from PIL import ImageDraw

from compile import pages
from compile.config import ImageSettings
from compile.images import fetch, variants
from compile.images.cache import Cache
from compile.model import Image


def make_pictures(count: int, seed: int = 7) -> list[bytes]:
    """Distinct photo-sized JPEGs (640×427, ~30-60 kB): blocks of colour and some lines."""
    rng = random.Random(seed)
    pictures = []
    for _ in range(count):
        picture = PILImage.new("RGB", (640, 427), tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(picture)
        for _ in range(40):
            x, y = rng.randrange(640), rng.randrange(427)
            box = (x, y, x + rng.randrange(20, 200), y + rng.randrange(20, 200))
            draw.rectangle(box, fill=tuple(rng.randrange(256) for _ in range(3)))
            draw.line((rng.randrange(640), rng.randrange(427), x, y), fill=(0, 0, 0), width=3)
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=85)
        pictures.append(out.getvalue())
    return pictures


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real image hosts do
    disable_nagle_algorithm = True  # else headers and body, written apart, wait 40 ms on delayed ACKs
    pictures: list[bytes] = []
    latency = 0.05
    requests = 0

    def do_GET(self):  # noqa: N802 - the stdlib's name
        type(self).requests += 1
        time.sleep(self.latency)
        number = int(self.path.strip("/").split(".")[0])
        data = self.pictures[number]
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def start_servers(hosts: int, pictures: list[bytes], latency: float) -> list[http.server.ThreadingHTTPServer]:
    Handler.pictures, Handler.latency = pictures, latency
    servers = []
    for n in range(hosts):
        server = http.server.ThreadingHTTPServer((f"127.0.0.{n + 1}", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    return servers


def urls_for(servers, count: int) -> list[str]:
    return [f"http://{servers[n % len(servers)].server_address[0]}:{servers[n % len(servers)].server_address[1]}"
            f"/{n}.jpg" for n in range(count)]


def timed_fetch(urls: list[str], settings: ImageSettings) -> tuple[float, list[Image]]:
    found = [Image(url=url) for url in urls]
    started = time.perf_counter()
    summary = fetch.fetch_all(found, settings, Cache.from_settings(settings))
    elapsed = time.perf_counter() - started
    failed = [i for i in found if i.status != "ok"]
    assert not failed, failed[0].reason
    assert summary.fetched + summary.cached == len(urls)
    return elapsed, found


def both_profiles(found: list[Image], settings: ImageSettings) -> None:
    cache = Cache.from_settings(settings)
    variants.use_profile(found, variants.profile("epub", settings), cache, settings)
    variants.use_profile(found, variants.profile("print", settings, pages.text_width_mm("A5")), cache, settings)


def run_once(urls: list[str], base: ImageSettings, root: Path) -> dict:
    sequential = replace(base, concurrency=1, per_host=1, cache_dir=str(root / "seq"))
    concurrent = replace(base, cache_dir=str(root / "conc"))
    seq_time, _ = timed_fetch(urls, sequential)
    conc_time, found = timed_fetch(urls, concurrent)
    started = time.perf_counter()
    both_profiles(found, concurrent)
    variants_time = time.perf_counter() - started
    before = Handler.requests
    started = time.perf_counter()
    _, again = timed_fetch(urls, concurrent)
    both_profiles(again, concurrent)
    rebuild_time = time.perf_counter() - started
    assert Handler.requests == before, "a cache-hit rebuild made requests"
    return {"sequential": seq_time, "concurrent": conc_time, "variants": variants_time, "rebuild": rebuild_time}


def dead_links(count: int, base: ImageSettings) -> tuple[float, float]:
    """Seconds to fetch `count` images from a host that never answers: first, then again with the same cache."""
    silent = socket.create_server(("127.0.0.1", 0), backlog=count)  # connections queue; nothing is ever read
    urls = [f"http://127.0.0.1:{silent.getsockname()[1]}/{n}.jpg" for n in range(count)]
    times = []
    with tempfile.TemporaryDirectory(prefix="images-bench-dead-") as root:
        settings = replace(base, cache_dir=root)
        for _ in range(2):
            found = [Image(url=url) for url in urls]
            started = time.perf_counter()
            summary = fetch.fetch_all(found, settings, Cache.from_settings(settings))
            times.append(time.perf_counter() - started)
            assert summary.failed == count
    silent.close()
    return times[0], times[1]


def budget_run(folder: Path, share: float, base: ImageSettings) -> None:
    """A folder's pictures as EPUB variants: with no budget, then under `share` of what they came to."""
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    with tempfile.TemporaryDirectory(prefix="images-bench-budget-") as root:
        settings = replace(base, cache_dir=root)
        cache = Cache.from_settings(settings)
        found = [Image(url=f"https://images.invalid/{name}", local=name) for name in files]
        fetch.fetch_all(found, settings, cache, offline=True, source=folder)
        ok = [image for image in found if image.status == "ok"]
        target = variants.profile("epub", settings)
        started = time.perf_counter()
        free = variants.use_profile(ok, target, cache, settings)
        free_seconds = time.perf_counter() - started
        shutil.rmtree(Path(root) / "variants")
        budget = int(free["bytes"] * share)
        started = time.perf_counter()
        entry = variants.use_profile(ok, target, cache, settings, budget_bytes=budget)
        seconds = time.perf_counter() - started
        made = sum(1 for path in (Path(root) / "variants").rglob("*") if path.is_file())
    print(f"{len(ok)} pictures of {folder} ({len(files) - len(ok)} refused), EPUB variants")
    print(f"  no budget          {free_seconds:7.2f} s   {free['bytes'] / 1e6:.1f} MB")
    print(f"  budget {budget / 1e6:5.1f} MB    {seconds:7.2f} s   {entry['bytes'] / 1e6:.1f} MB at {entry['profile']}, "
          f"{made} variants made")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--hosts", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dead", type=int, default=0, help="also time this many dead links")
    parser.add_argument("--folder", type=Path, help="time this folder's pictures under a budget, and only that")
    parser.add_argument("--budget-share", type=float, default=0.5)
    args = parser.parse_args()
    if args.folder:
        budget_run(args.folder, args.budget_share, replace(ImageSettings(), allow_private_hosts=True))
        return
    pictures = make_pictures(args.images)
    servers = start_servers(args.hosts, pictures, args.latency)
    urls = urls_for(servers, args.images)
    base = replace(ImageSettings(), allow_private_hosts=True)
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="images-bench-") as root:
            runs.append(run_once(urls, base, Path(root)))
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    ratio = statistics.median(run["concurrent"] / run["sequential"] for run in runs)
    megabytes = sum(map(len, pictures)) / 1e6
    print(f"{args.images} images ({megabytes:.1f} MB), {args.latency * 1000:.0f} ms latency, {args.hosts} host(s), "
          f"concurrency={base.concurrency}, per_host={base.per_host}, median of {args.repeat}")
    print(f"  sequential fetch   {median['sequential']:7.2f} s")
    print(f"  concurrent fetch   {median['concurrent']:7.2f} s")
    print(f"  ratio              {ratio:7.3f}   (goal <= 0.15)")
    print(f"  variants, cold     {median['variants']:7.2f} s   (epub + print for every image)")
    print(f"  cache-hit rebuild  {median['rebuild']:7.2f} s   (fetch_all + both profiles, no request)")
    for server in servers:
        server.shutdown()
    if args.dead:
        first, again = dead_links(args.dead, base)
        print(f"{args.dead} dead links (a host that never answers; timeouts {base.read_timeout:g} s read, "
              f"{base.retries} retries, {base.total_timeout:g} s in all)")
        print(f"  first build        {first:7.2f} s")
        print(f"  next build         {again:7.2f} s   (remembered for {base.remember_failures:g} s: no request)")


if __name__ == "__main__":
    main()
