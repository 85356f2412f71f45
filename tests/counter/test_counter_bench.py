"""The benchmark script runs, stops by itself and checks what it measured."""

from __future__ import annotations

import subprocess
import sys

from tests.counter.counter_helpers import ROOT

BENCH = ROOT / "bench" / "counter_bench.py"


def test_bench_help() -> None:
    """--help describes the options."""
    done = subprocess.run(
        [sys.executable, str(BENCH), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "--concurrency" in done.stdout and "--duration" in done.stdout


def test_bench_short_run() -> None:
    """A short run prints the table row; stored total equals acknowledged hits."""
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--duration",
            "0.5",
            "--concurrency",
            "8",
            "--pages",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| concurrency | visits/s" in done.stdout
    hits = next(line for line in done.stdout.splitlines() if "hits:" in line)
    assert " 0 failed" in hits  # the production limits refuse no visit here
    row = done.stdout.strip().splitlines()[-1]
    assert row.startswith("| 8 |")
