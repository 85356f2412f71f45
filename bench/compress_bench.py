"""Compression levels: bytes saved against seconds, for gzip and brotli (`make bench`).

Measures, in one process, every gzip level and brotli quality on the text files
plugins/assets compresses (same suffixes and minimum size): the sample site
(built into bench/work/compress-sample/ when missing) and, when the build-speed
bench has made it, the 5,000-item synthetic site (bench/work/n5000/out-ours).
A large site is measured on an evenly spread subset of its files (--max-files)
and the totals scaled to all of them. Prints a Markdown table for
docs/BENCHMARKS.md.

    .venv/bin/python bench/compress_bench.py [--site DIR ...] [--max-files 600]
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import time
from pathlib import Path

import brotli

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from assets.assets import get_options, text_files  # noqa: E402

GZIP_LEVELS = (1, 4, 6, 9)
BROTLI_QUALITIES = (4, 5, 6, 7, 8, 9, 10, 11)


def sample_site(work: Path) -> Path:
    """Build the sample content once (compression off) and return its output."""
    output = work / "compress-sample"
    if not (output / "index.html").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pelican",
                str(ROOT / "content"),
                "-o",
                str(output),
                "-s",
                str(ROOT / "pelicanconf.py"),
                "-q",
                "-e",
                'ASSETS={"compress": false}',
                'SEARCH={"enabled": false}',
                f'CACHE_PATH="{work / "compress-sample-cache"}"',
            ],
            check=True,
            cwd=ROOT,
        )
    return output


def measure(files: list[bytes], codec: str, level: int) -> tuple[int, float]:
    """Return (compressed bytes, CPU seconds) of one codec and level over files."""
    started = time.process_time()
    if codec == "gzip":
        size = sum(len(gzip.compress(d, compresslevel=level, mtime=0)) for d in files)
    else:
        size = sum(len(brotli.compress(d, quality=level)) for d in files)
    return size, time.process_time() - started


def site_rows(site: Path, max_files: int) -> list[str]:
    """Measure one site; return its table rows."""
    paths = text_files(site, get_options({}))
    step = max(1, len(paths) // max_files)
    chosen = [p.read_bytes() for p in paths[::step]]
    total = sum(p.stat().st_size for p in paths)
    scale = total / sum(len(d) for d in chosen)
    reference = None
    rows = []
    for codec, levels in (("brotli", BROTLI_QUALITIES), ("gzip", GZIP_LEVELS)):
        for level in reversed(levels):
            size, seconds = measure(chosen, codec, level)
            size, seconds = size * scale, seconds * scale
            if codec == "brotli" and level == 11:
                reference = size
            versus = f"{100 * (size / reference - 1):+.1f} %" if reference else ""
            rows.append(
                f"| {site.relative_to(ROOT) if site.is_relative_to(ROOT) else site} "
                f"({len(paths)} files, {total / 1e6:.1f} MB) | {codec} {level} "
                f"| {size / 1e6:.2f} MB | {100 * (1 - size / total):.1f} % "
                f"| {versus} | {seconds:.2f} s |"
            )
            print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Measure every site asked for, or the sample and the 5,000-item one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, action="append", default=[])
    parser.add_argument("--max-files", type=int, default=600)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    args = parser.parse_args(argv)
    sites = args.site
    if not sites:
        sites = [sample_site(args.work)]
        large = args.work / "n5000" / "out-ours"
        if (large / "index.html").exists():
            sites.append(large)
    print("| site | codec, level | compressed | saved | vs brotli 11 | CPU, one core |")
    print("|---|---|---|---|---|---|")
    for site in sites:
        site_rows(site, args.max_files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
