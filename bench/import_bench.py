#!/usr/bin/env python3
"""Benchmark the legacy importer: 1,000 feed items into an empty import folder.

Writes an RSS feed of N items (tests/legacy_site.py's style: Vietnamese text,
boilerplate, a script, an image on 127.0.0.1 for one item in ten) into a
temporary folder, runs `python -m portal.importer` on it once (the first import)
and once more (the second run, nothing new), and prints the wall times and a
markdown table row for docs/BENCHMARKS.md. Target: under 60 s for 1,000 items.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import html
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import format_datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.1"  # the only address this benchmark talks to
ROOT = Path(__file__).resolve().parent.parent
LOCALITIES = ("Phan Thiết", "La Gi", "Tuy Phong", "Bắc Bình", "Đức Linh", "Phú Quý")
TARGET_SECONDS = 60.0


def item(number: int, image_base: str) -> str:
    """Return one feed item."""
    where = LOCALITIES[number % len(LOCALITIES)]
    date = dt.datetime(2015, 1, 1, 8, tzinfo=dt.UTC) + dt.timedelta(days=number)
    image = (
        f'<figure><img src="{image_base}/anh.png" alt="Ảnh {number}">'
        f"<figcaption>Người dân {where}</figcaption></figure>"
        if number % 10 == 0
        else ""
    )
    body = (
        f"<p>Ban Dân vận ở {where} triển khai mô hình dân vận khéo số {number},"
        " vận động nhân dân giữ gìn vệ sinh môi trường, giúp nhau phát triển kinh tế."
        "</p>"
        * 6
        + image
        + "<script>var x = 1;</script><div>Chia sẻ: Facebook | Zalo</div>"
        + "<p><strong>Các tin khác</strong></p><ul><li>Tin cũ</li></ul>"
    )
    return (
        f"<item><title>{where}: mô hình dân vận khéo số {number}</title>"
        f"<link>http://danvan.example.gov.vn/tin-tuc-su-kien/bai-{number}.html</link>"
        f"<pubDate>{format_datetime(date)}</pubDate>"
        f"<description>{html.escape(body)}</description></item>\n"
    )


class _Quiet(SimpleHTTPRequestHandler):
    """Serve files without logging every request."""

    def log_message(self, format, *args):  # noqa: A002
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve a folder on 127.0.0.1 (the feed's images); yield its base URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer((HOST, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run(folder: Path, feed: Path) -> tuple[float, float]:
    """Run the importer once; return its wall and CPU (user + system) seconds."""
    command = [sys.executable, "-m", "portal.importer", str(feed)]
    command += ["--out", str(folder / "import"), "--content", str(folder / "content")]
    command += ["--data", str(ROOT / "data"), "--report", str(folder / "report.csv")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if result.returncode != 0:
        sys.exit(result.stdout + result.stderr)
    print(result.stdout.splitlines()[0])
    return elapsed, cpu


def main() -> int:
    """Write the feed, import it twice, print the times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        folder = Path(tmp)
        (folder / "img").mkdir()
        from PIL import Image

        Image.new("RGB", (120, 80), (200, 120, 40)).save(folder / "img" / "anh.png")
        with serve(folder / "img") as image_base:
            items = "".join(item(n, image_base) for n in range(args.items))
            feed = folder / "feed.xml"
            feed.write_text(
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Ban Dân vận</title>{items}</channel></rss>",
                "utf-8",
            )
            first = run(folder, feed)
            second = run(folder, feed)
            images = len(list((folder / "content" / "images").rglob("*.png")))
        print(f"images saved: {images}")
    cores = os.cpu_count()
    load = os.getloadavg()[0]
    print(
        f"first import: {first[0]:.1f} s wall ({first[1]:.1f} s CPU),"
        f" second run: {second[0]:.1f} s wall ({second[1]:.1f} s CPU)"
    )
    print(
        f"| {args.items} | {first[0]:.1f} ({first[1]:.1f}) |"
        f" {second[0]:.1f} ({second[1]:.1f}) | {cores} cores, load {load:.1f} |"
    )
    return 0 if first[0] < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
