"""Search benchmark: index size, indexing time and first-search bytes at 1,000 and 5,000 items.

    .venv/bin/python bench/search_bench.py [--sizes 1000 5000] [--query duong]

For each size it writes a synthetic site (models and news in real Vietnamese sentences
taken from the sample content), builds it with Pelican (search off), times Pagefind on
the output, measures the index on disk, and opens /tim-kiem/?q=… in Debian's headless
Chromium to add up the bytes of every /pagefind/ file one first search downloads.

TODO: switch to bench/synth.py (the shared generator) once it lands on main.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from search_index import get_options, run_pagefind  # noqa: E402

from portal import vocab  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS, serve_directory  # noqa: E402
from tests.conftest import front_matter, get_settings  # noqa: E402

SEED = 20261129
UI_FILES = re.compile(r"pagefind-(component-|modular-)?ui\.|pagefind-highlight\.js")


def sentences() -> list[str]:
    """Return the Vietnamese sentences of the sample content's bodies."""
    found = []
    for path in sorted((ROOT / "content").rglob("*.md")):
        body = path.read_text("utf-8").split("---", 2)[-1]
        for line in body.splitlines():
            if line and not line.startswith(("#", "-", "|", "!")):
                found += [
                    s.strip() for s in re.split(r"(?<=[.!?])\s+", line) if len(s) > 20
                ]
    return found


def generate(content: Path, count: int) -> None:
    """Write `count` items (three models for two news) into a content folder."""
    rng = random.Random(SEED)
    pool = sentences()
    terms = {
        name: v.sorted_terms()
        for name, v in vocab.from_settings(get_settings()).items()
    }
    for folder in ("models", "news", "pages", "images"):
        (content / folder).mkdir(parents=True, exist_ok=True)
    for number in range(count):
        is_model = number % 5 < 3
        year = 2016 + number % 10
        date = f"{year}-{1 + number % 12:02d}-{1 + number % 28:02d}"
        words = rng.choice(pool).rstrip(".").split()
        title = " ".join(words[: rng.randint(6, 12)]) + f" ({number})"
        fields = {
            "title": title,
            "category": rng.choice(terms["linh-vuc"]).name,
            "locality": rng.choice(terms["dia-ban"]).name,
            "date": date,
            "summary": rng.choice(pool),
        }
        if is_model:
            fields |= {
                "year": year,
                "kind": rng.choice(terms["hinh-thuc"]).name,
                "unit": "Hội Liên hiệp Phụ nữ xã "
                + rng.choice(["Đức Hạnh", "Phan Hòa", "Tân Đức"]),
            }
        paragraphs = [
            " ".join(rng.choice(pool) for _ in range(rng.randint(3, 6)))
            for _ in range(rng.randint(3, 6))
        ]
        folder = "models" if is_model else "news"
        text = front_matter(**fields) + "\n\n".join(paragraphs) + "\n"
        (content / folder / f"muc-{number:05d}.md").write_text(text, "utf-8")


def build(site: Path) -> float:
    """Build the site with the search index off; return the seconds it took."""
    command = [
        sys.executable,
        "-m",
        "pelican",
        str(site / "content"),
        "-o",
        str(site / "output"),
    ]
    command += ["-s", str(ROOT / "pelicanconf.py"), "--log-handler", "plain"]
    command += ["-e", 'SEARCH={"enabled": false}', f'CACHE_PATH="{site / "cache"}"']
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=site)
    return time.perf_counter() - started


def disk_size(folder: Path) -> dict[str, int]:
    """Return the bytes on disk of the index: all of it, and without the unused UI files."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    return {
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "bytes_without_ui": sum(
            p.stat().st_size for p in files if not UI_FILES.search(p.name)
        ),
    }


def first_search_bytes(output: Path, query: str) -> dict:
    """Open the search page with a query; add up what the first search downloaded."""
    from playwright.sync_api import sync_playwright

    sizes: dict[str, int] = {}
    gzipped: dict[str, int] = {}

    def record(response) -> None:
        body = response.body()
        sizes[response.url] = len(body)
        # What a server compressing text would send (Pagefind's own files are gzipped).
        text = response.url.split("?")[0].endswith((".js", ".json", ".html", ".css"))
        gzipped[response.url] = len(gzip.compress(body, 6)) if text else len(body)

    with serve_directory(output) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.on("response", record)
        page.goto(f"{base}/tim-kiem/?q={query}")
        page.wait_for_function(
            "document.getElementById('search-status').textContent.startsWith('Tìm thấy')"
        )
        page.wait_for_load_state("networkidle")
        status = page.text_content("#search-status")
        browser.close()
    kinds: dict[str, int] = {}
    for url, size in sizes.items():
        if "/pagefind/" not in url:
            continue
        name = url.split("?")[0].rsplit("/", 1)[-1]
        kind = name.split(".")[-1] if "." in name else name
        kind = {"js": name, "pagefind": "wasm"}.get(kind, kind)
        kinds[kind] = kinds.get(kind, 0) + size
    page_bytes = sum(s for u, s in sizes.items() if "/pagefind/" not in u)
    return {
        "status": status,
        "pagefind_bytes": sum(kinds.values()),
        "pagefind_bytes_gzip": sum(s for u, s in gzipped.items() if "/pagefind/" in u),
        "pagefind_requests": sum(1 for u in sizes if "/pagefind/" in u),
        "by_kind": kinds,
        "search_page_bytes": page_bytes,
    }


def measure(count: int, query: str) -> dict:
    """Generate, build, index and search one synthetic site."""
    with tempfile.TemporaryDirectory(prefix=f"search-bench-{count}-") as tmp:
        site = Path(tmp)
        generate(site / "content", count)
        build_seconds = build(site)
        options = get_options({})
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        index_seconds = run_pagefind(site / "output", options)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU time is steadier than wall time on a machine shared with other jobs.
        index_cpu = (after.ru_utime + after.ru_stime) - (
            before.ru_utime + before.ru_stime
        )
        size = disk_size(site / "output" / options["output_subdir"])
        searched = first_search_bytes(site / "output", query)
    return {
        "items": count,
        "build_s": round(build_seconds, 1),
        "index_s": round(index_seconds, 2),
        "index_cpu_s": round(index_cpu, 2),
        **size,
        **searched,
    }


def main() -> None:
    """Measure each size and print one JSON line per size, then a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--query", default="duong")
    args = parser.parse_args()
    rows = []
    for count in args.sizes:
        row = measure(count, args.query)
        print(json.dumps(row, ensure_ascii=False), flush=True)
        rows.append(row)
    print(
        "\n| items | Pelican build (s) | Pagefind indexing, wall (CPU) s | index on disk (all / used) "
        f"| first search “{args.query}”: bytes, text gzipped (raw; requests) |"
    )
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['items']:,} | {r['build_s']} | {r['index_s']} ({r['index_cpu_s']}) "
            f"| {r['bytes'] / 1e6:.1f} MB / {r['bytes_without_ui'] / 1e6:.1f} MB "
            f"| {r['pagefind_bytes_gzip'] / 1e3:.0f} kB ({r['pagefind_bytes'] / 1e3:.0f} kB; "
            f"{r['pagefind_requests']}) |"
        )


if __name__ == "__main__":
    main()
