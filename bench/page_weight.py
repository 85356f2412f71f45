"""Measure each page type's weight: HTML, CSS and JS gzipped, images as stored.

Usage: .venv/bin/python bench/page_weight.py [--output DIR]
Without --output it builds the sample content (pelicanconf.py) into a temporary
folder first. Prints a Markdown table for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 30 * 1024  # HTML + CSS + JS of an article, gzipped
PAGE_TYPES = {
    "home": "",
    "news article": "tin-tuc/phat-dong-nam-dan-van-kheo-2020-voi-noi-dung-04-khong/",
    "model": "mo-hinh/doi-rac-thai-nhua-lay-khau-trang-y-te/",
    "gallery": "mo-hinh/",
    "news list": "tin-tuc/",
    "index (field)": "linh-vuc/",
    "timeline (year)": "nam/",
    "statistics": "thong-ke/",
    "term (locality)": "dia-ban/phan-thiet/",
    "page": "gioi-thieu/",
    "404": "404.html",
}


class Resources(HTMLParser):
    """Collect the stylesheets, scripts and images a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.css: list[str] = []
        self.js: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and a.get("rel") == "stylesheet":
            self.css.append(a["href"])
        elif tag == "script" and a.get("src"):
            self.js.append(a["src"])
        elif tag == "img" and a.get("src") and a.get("loading") != "lazy":
            self.images.append(a["src"])


def gzipped(data: bytes) -> int:
    """Return the size of data gzipped at level 9."""
    return len(gzip.compress(data, 9))


def local(output: Path, url: str) -> Path:
    """Return the file of a root-relative URL."""
    return output / urlsplit(url).path.lstrip("/")


def weigh(output: Path, url: str) -> dict[str, int] | None:
    """Return the byte counts of one page, or None when it was not built."""
    file = output / url if url.endswith(".html") else output / url / "index.html"
    if not file.exists():
        return None
    html = file.read_bytes()
    found = Resources()
    found.feed(html.decode("utf-8"))
    return {
        "html": gzipped(html),
        "css": sum(gzipped(local(output, u).read_bytes()) for u in found.css),
        "js": sum(gzipped(local(output, u).read_bytes()) for u in found.js),
        "images": sum(local(output, u).stat().st_size for u in found.images),
    }


def build(output: Path) -> None:
    """Build the sample content with the development settings."""
    command = [sys.executable, "-m", "pelican", str(ROOT / "content"), "-o"]
    command += [str(output), "-s", str(ROOT / "pelicanconf.py"), "-q"]
    command += ["-e", f'CACHE_PATH="{output.parent / "cache"}"']
    subprocess.run(command, check=True, cwd=ROOT)


def table(output: Path) -> str:
    """Return the Markdown table of every page type's weight."""
    rows = [
        "| page type | HTML (gz) | CSS (gz) | JS (gz) | images (eager, fallback src) | HTML+CSS+JS |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, url in PAGE_TYPES.items():
        sizes = weigh(output, url)
        if sizes is None:
            rows.append(f"| {name} | not built | | | | |")
            continue
        text = sizes["html"] + sizes["css"] + sizes["js"]
        mark = "" if text <= BUDGET else " (over 30 KB)"
        rows.append(
            f"| {name} | {sizes['html']:,} B | {sizes['css']:,} B | {sizes['js']:,} B"
            f" | {sizes['images']:,} B | {text:,} B{mark} |"
        )
    return "\n".join(rows)


def main() -> None:
    """Build (unless given an output folder) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="an already built site")
    args = parser.parse_args()
    if args.output:
        print(table(args.output))
        return
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "output"
        build(output)
        print(table(output))


if __name__ == "__main__":
    main()
