"""Time the site build with and without the taxonomy plugin, side by side.

    .venv/bin/python bench/taxonomy_cost.py --items 5000 --runs 3 --record

Generates synthetic content once (bench/synth.py), then builds it `runs` times
with each plugin list, alternating the order, with the same settings (CACHE,
output cleared before each build), and prints median/min/max wall-clock times.
`--record` writes the result into the "Taxonomy plugin cost" section of
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.synth import generate  # noqa: E402

SECTION = "## Taxonomy plugin cost"
BENCHMARKS = ROOT / "docs" / "BENCHMARKS.md"
VARIANTS = {
    "without taxonomy": ["frontmatter", "sections"],
    "with taxonomy": ["frontmatter", "sections", "taxonomy"],
}


def build(
    content: Path, output: Path, cache: Path, plugins: list[str]
) -> tuple[float, float]:
    """Build the site once from scratch; return wall-clock and CPU seconds."""
    shutil.rmtree(output, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    overrides = {
        "PLUGINS": plugins,
        "CACHE_PATH": str(cache),
        "LOAD_CONTENT_CACHE": False,
        "CACHE_CONTENT": False,
    }
    command = [sys.executable, "-m", "pelican", str(content), "-o", str(output)]
    command += ["-s", str(ROOT / "pelicanconf.py"), "-q", "-e"]
    command += [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode:
        sys.exit(f"build failed ({plugins}):\n{result.stdout}\n{result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def count_files(folder: Path) -> int:
    """Return how many HTML and XML files a build wrote."""
    return sum(1 for p in folder.rglob("*") if p.suffix in (".html", ".xml"))


Times = dict[str, dict[str, list[float]]]  # variant -> {"wall": […], "cpu": […]}


def run(items: int, runs: int, seed: int, after_run) -> None:
    """Generate the content, then time every variant `runs` times, alternating.

    `after_run(times, files, done)` is called after each round, so a long
    benchmark on a busy machine leaves its partial result.
    """
    times: Times = {name: {"wall": [], "cpu": []} for name in VARIANTS}
    files: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="taxonomy-bench-") as tmp:
        root = Path(tmp)
        counts = generate(root / "content", items, seed)
        print(f"generated {counts}", flush=True)
        names = list(VARIANTS)
        for number in range(runs):
            order = names if number % 2 == 0 else names[::-1]
            for name in order:
                output = root / f"output-{names.index(name)}"
                wall, cpu = build(
                    root / "content", output, root / "cache", VARIANTS[name]
                )
                times[name]["wall"].append(wall)
                times[name]["cpu"].append(cpu)
                files[name] = count_files(output)
                print(
                    f"run {number + 1}: {name}: {wall:.2f} s wall, {cpu:.2f} s CPU",
                    flush=True,
                )
            after_run(times, files, number + 1)


def _row(name: str, values: list[float], base: float, files: int | str) -> str:
    """Return one table row: median, min, max and the ratio to the base."""
    median = statistics.median(values)
    return (
        f"| {name} | {median:.2f} | {min(values):.2f} | {max(values):.2f}"
        f" | {median / base:.2f}× | {files} |"
    )


def report(times: Times, files: dict[str, int], args, done: int) -> str:
    """Return the Markdown section with the tables and the command."""
    rows = []
    for metric, label in (("cpu", "CPU seconds"), ("wall", "wall-clock seconds")):
        base = statistics.median(times["without taxonomy"][metric])
        rows += [
            f"| build ({label}) | median | min | max | vs without | files written |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        rows += [
            _row(name, values[metric], base, files[name])
            for name, values in times.items()
        ]
        rows.append("")
    cpu = {name: statistics.median(v["cpu"]) for name, v in times.items()}
    extra = cpu["with taxonomy"] - cpu["without taxonomy"]
    command = (
        f".venv/bin/python bench/taxonomy_cost.py --items {args.items}"
        f" --runs {args.runs} --seed {args.seed} --record"
    )
    return "\n".join(
        [
            SECTION,
            "",
            f"{args.items} synthetic items (bench/synth.py, seed {args.seed}:"
            " 40 % models, 60 % news, every field, locality and year), each variant"
            f" built {done} time(s) from scratch, alternating, in one run, with the"
            " same settings (content cache off, output cleared). CPU seconds"
            " (user + system of the `pelican` process) are the fair measure on a"
            " shared machine; wall-clock seconds are shown too.",
            "",
            *rows,
            f"The plugin adds {extra:.1f} CPU seconds (median), i.e."
            f" {extra / cpu['without taxonomy']:.0%} of the build without it, for"
            " its overview pages, term pages and feeds. It reads each item once,"
            " so the cost grows with items × taxonomies, not items × terms.",
            "",
            f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} on"
            f" {platform.python_implementation()} {platform.python_version()},"
            f" {os.cpu_count()} CPU(s) shared with other jobs (ratios matter,"
            " not absolute times). Command:",
            "",
            "```",
            command,
            "```",
            "",
        ]
    )


def record(section: str, title: str = SECTION) -> None:
    """Replace (or add) a section of docs/BENCHMARKS.md, keeping the others."""
    text = BENCHMARKS.read_text("utf-8") if BENCHMARKS.exists() else "# Benchmarks\n\n"
    start = text.find(title + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(title))
        rest = "\n" + text[end + 1 :] if end >= 0 else ""
        text = text[:start] + section.rstrip("\n") + "\n" + rest
    BENCHMARKS.parent.mkdir(exist_ok=True)
    BENCHMARKS.write_text(text, "utf-8")


def main() -> None:
    """Parse the arguments, run the benchmark and print (and record) the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--record", action="store_true", help="write docs/BENCHMARKS.md"
    )
    args = parser.parse_args()

    def after_run(times: Times, files: dict[str, int], done: int) -> None:
        section = report(times, files, args, done)
        if done == args.runs:
            print(section)
        if args.record:
            record(section)

    run(args.items, args.runs, args.seed, after_run)


if __name__ == "__main__":
    main()
