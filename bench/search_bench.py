"""Search benchmark: Pagefind's cost and what a reader downloads, one index against shards.

    .venv/bin/python bench/search_bench.py [--sizes 1000 5000] [--query duong]
    .venv/bin/python bench/search_bench.py --output /tmp/i21s-bench/n5000/out-search_index \\
        --shard-pages 100000 1280 640 320 --workers 2 1

For each size it writes a synthetic site (models and news in real Vietnamese sentences
taken from the sample content) and builds it with Pelican (search off); with --output it
uses a site already built (e.g. by bench/run.py). Then, for each `SEARCH["shard_pages"]`
(100000: one index) and each number of workers, it runs the plugin's `index_site()` with
an empty cache (a full index), then again after one indexed page was edited (its shard
alone is indexed again), recording Pagefind's wall and CPU seconds and peak memory, and
opens /tim-kiem/?q=… in Debian's headless Chromium to add up the bytes of every
/pagefind/ file one first search downloads. The search page's script is the working
tree's theme/static/js/search.js (copied over the built one).
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
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from search_index import get_options, make_index  # noqa: E402

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
    from playwright.sync_api import expect, sync_playwright

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
        page.goto(f"{base}/tim-kiem/?q={quote(query)}")
        finished = re.compile(r"^(Tìm thấy|Không tìm thấy|Chưa tải được)")
        expect(page.locator("#search-status")).to_have_text(finished, timeout=60_000)
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


def use_working_script(output: Path) -> None:
    """Copy the working tree's search.js over the built site's (hashed) one."""
    page = (output / "tim-kiem" / "index.html").read_text("utf-8")
    script = re.search(r'src="/(theme/js/search[^"]*\.js)"', page)[1]
    (output / script).write_bytes((ROOT / "theme/static/js/search.js").read_bytes())


def edit_one_page(output: Path) -> tuple[Path, bytes]:
    """Add a word to one model page's search body; return it and its old bytes."""
    pages = sorted((output / "mo-hinh").glob("*/index.html"))
    page = pages[len(pages) // 2]
    old = page.read_bytes()
    added = "<p>Sửa một chữ.</p></article>".encode()
    page.write_bytes(old.replace(b"</article>", added, 1))
    return page, old


def index_once(output: Path, cache: Path, shard_pages: int, workers: int) -> dict:
    """Run the plugin's indexing once; return its seconds, CPU and memory."""
    settings = {"CACHE_PATH": str(cache)}
    settings["SEARCH"] = {"shard_pages": shard_pages, "workers": workers}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = make_index(output, settings, get_options(settings))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    peaks = sorted((usage.peak_mb for usage in done.usages), reverse=True)
    return {
        "pages": done.pages,
        "shards": done.shards,
        "indexed": len(done.usages),
        "wall_s": round(done.seconds, 2),
        # CPU time is steadier than wall time on a machine shared with other jobs.
        "cpu_s": round(
            (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 2
        ),
        "peak_mb": round(max(peaks, default=0)),
        "peak_at_once_mb": round(sum(peaks[: max(1, workers)])),
    }


def measure_output(
    output: Path, shard_pages: int, workers: int, queries: list[str]
) -> dict:
    """Index a built site from nothing and after one edit; search it in Chromium."""
    use_working_script(output)
    with tempfile.TemporaryDirectory(prefix="search-bench-cache-") as cache:
        full = index_once(output, Path(cache), shard_pages, workers)
        page, old = edit_one_page(output)
        try:
            edited = index_once(output, Path(cache), shard_pages, workers)
        finally:
            page.write_bytes(old)
        index_once(output, Path(cache), shard_pages, workers)  # back as it was
    row = {"shard_pages": shard_pages, "workers": workers, "full": full, "edit": edited}
    row["bundle"] = disk_size(output / "pagefind")
    for query in queries:
        row[query] = first_search_bytes(output, query)
    return row


def table(rows: list[dict], queries: list[str]) -> str:
    """Return the rows as a Markdown table."""
    lines = [
        "| items | shards (pages per shard at most) | workers | full index: wall / CPU s,"
        " peak MB (at once) | one page edited: shards indexed, wall / CPU s, peak MB | "
        + " | ".join(f"first search “{q}”: kB gzipped (raw; requests)" for q in queries)
        + " |",
        "|---:|---|---:|---|---|" + "---:|" * len(queries),
    ]
    for r in rows:
        full, edit = r["full"], r["edit"]
        searches = [
            f"{r[q]['pagefind_bytes_gzip'] / 1e3:.0f} ({r[q]['pagefind_bytes'] / 1e3:.0f};"
            f" {r[q]['pagefind_requests']})"
            for q in queries
        ]
        lines.append(
            f"| {r['items']:,} | {full['shards']} ({r['shard_pages']}) | {r['workers']} "
            f"| {full['wall_s']} / {full['cpu_s']}, {full['peak_mb']}"
            f" ({full['peak_at_once_mb']}) "
            f"| {edit['indexed']}, {edit['wall_s']} / {edit['cpu_s']}, {edit['peak_mb']} | "
            + " | ".join(searches)
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    """Measure each size and setting; print one JSON line each, then a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--output", type=Path, help="a site already built")
    parser.add_argument("--query", nargs="+", default=["duong", "Đức Linh"])
    parser.add_argument(
        "--shard-pages", type=int, nargs="+", default=[100_000, 1280, 640, 320]
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    args = parser.parse_args()
    rows = []

    def run(output: Path) -> None:
        for shard_pages in args.shard_pages:
            for workers in args.workers:
                row = measure_output(output, shard_pages, workers, args.query)
                row["items"] = row["full"]["pages"]
                print(json.dumps(row, ensure_ascii=False), flush=True)
                rows.append(row)

    if args.output:
        run(args.output)
    for count in [] if args.output else args.sizes:
        with tempfile.TemporaryDirectory(prefix=f"search-bench-{count}-") as tmp:
            generate(Path(tmp) / "content", count)
            build(Path(tmp))
            run(Path(tmp) / "output")
    print("\n" + table(rows, args.query))


if __name__ == "__main__":
    main()
