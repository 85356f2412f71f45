"""Show that the taxonomy plugin's indexing grows with items, not items × terms.

    .venv/bin/python bench/taxonomy_scaling.py --record

Times `build_taxonomies` (the plugin's one pass: sort once, deal every item into
its terms) in-process on synthetic items, for more items and for more terms.
No pages are written: this isolates the work the issue asks to keep linear.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plugins"))

from taxonomy.taxonomy import build_taxonomies, get_options  # noqa: E402

from bench.taxonomy_cost import record  # noqa: E402

SECTION = "## Taxonomy plugin: one pass over the items"
CASES = ((5_000, 10), (5_000, 1_000), (20_000, 10), (20_000, 1_000))
OPTIONS = {
    "nam": {"attribute": "year", "title": "Năm", "url": "nam/", "order": "newest"},
    "don-vi": {"attribute": "unit", "title": "Đơn vị", "url": "don-vi/"},
}


def items(count: int, terms: int, seed: int = 1) -> list[SimpleNamespace]:
    """Return fake articles with a date, a title, a year and one of `terms` units."""
    rng = random.Random(seed)
    start = dt.datetime(2016, 1, 1)
    return [
        SimpleNamespace(
            type="model" if number % 5 < 2 else "news",
            title=f"Mô hình “dân vận khéo” số {rng.randrange(10**6)}",
            date=start + dt.timedelta(days=rng.randrange(3650)),
            year=2016 + rng.randrange(10),
            unit=f"Đơn vị {number % terms}",
        )
        for number in range(count)
    ]


def time_case(count: int, terms: int, repeat: int) -> float:
    """Return the median seconds of build_taxonomies for one case."""
    settings = {"TAXONOMIES": OPTIONS, "VOCABULARY_PATH": str(ROOT / "data")}
    options = get_options(settings)
    data = items(count, terms)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        build_taxonomies(options, settings, data)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Time every case and print (and record) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    rows = [
        "| items | terms (units) | median (ms) | µs per item |",
        "|---:|---:|---:|---:|",
    ]
    for count, terms in CASES:
        seconds = time_case(count, terms, args.repeat)
        rows.append(
            f"| {count} | {terms} | {seconds * 1000:.0f} | {seconds / count * 1e6:.1f} |"
        )
        print(rows[-1], flush=True)
    section = "\n".join(
        [
            SECTION,
            "",
            "`build_taxonomies` alone (in-process, no pages written), two taxonomies"
            " (year and a plain `unit` one), median of"
            f" {args.repeat} runs. The time per item stays flat when the number of"
            " terms grows 100-fold: no work grows with items × terms.",
            "",
            *rows,
            "",
            "```",
            f".venv/bin/python bench/taxonomy_scaling.py --repeat {args.repeat} --record",
            "```",
            "",
        ]
    )
    print(section)
    if args.record:
        record(section, SECTION)


if __name__ == "__main__":
    main()
