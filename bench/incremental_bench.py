"""Time incremental builds beside full builds of the same generated site.

    .venv/bin/python bench/incremental_bench.py 1000 5000

For each size: a plain full build (plugin off), a full build with the plugin
(first build, records written), then incremental builds after: nothing
changed, one body edit, one title edit, the newest item added. Prints one
Markdown table row per measurement: wall time, peak memory (max RSS of the
build process) and the pages the plugin rendered. Hugo is timed by the bench
helper's `make bench`; this script only times Pelican.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import model, news  # noqa: E402

FIELDS = [
    "Kinh tế",
    "Văn hóa – xã hội",
    "Quốc phòng – an ninh",
    "Xây dựng hệ thống chính trị",
]
LOCALITIES = ["Phan Thiết", "La Gi", "Tuy Phong", "Bắc Bình", "Hàm Tân", "Đức Linh"]
KINDS = ["Mô hình", "Điển hình tập thể", "Điển hình cá nhân"]
BODY = (
    "Đoạn văn thứ {n} kể về cách cán bộ gần dân, hiểu dân, trọng dân và có "
    "trách nhiệm với dân; vận động bà con cùng làm, cùng hưởng. "
) * 6


def model_text(i: int, title: str | None = None, body: str = "") -> str:
    """Return a generated model."""
    year = 2010 + i % 15
    text = model(
        title=title or f"Mô hình Dân vận khéo số {i}",
        category=FIELDS[i % len(FIELDS)],
        locality=LOCALITIES[i % len(LOCALITIES)],
        year=year,
        kind=KINDS[i % len(KINDS)],
        unit=f"Đơn vị thực hiện {i}",
        summary=f"Tóm tắt mô hình {i}.",
        date=f"{year}-{1 + i % 12:02d}-{1 + i % 28:02d}",
    )
    paragraphs = "\n\n".join(BODY.format(n=n) for n in range(4))
    return text.replace("Nội dung.\n", paragraphs + body + "\n")


def news_text(i: int, models: int, date: str | None = None) -> str:
    """Return a generated news item that mentions two models."""
    year = 2012 + i % 13
    text = news(
        title=f"Tin hoạt động dân vận số {i}",
        date=date or f"{year}-{1 + i % 12:02d}-{1 + i % 28:02d}",
        summary=f"Tóm tắt tin {i}.",
        models=[f"m{i % models:05d}", f"m{(i * 7) % models:05d}"],
    )
    paragraphs = "\n\n".join(BODY.format(n=n) for n in range(3))
    return text.replace("Nội dung.\n", paragraphs + "\n")


def generate(content: Path, items: int) -> None:
    """Write a site of `items` items: half models, half news."""
    models = items // 2
    for folder in ("models", "news", "pages", "images"):
        (content / folder).mkdir(parents=True, exist_ok=True)
    for i in range(models):
        (content / "models" / f"m{i:05d}.md").write_text(model_text(i), "utf-8")
    for i in range(items - models):
        (content / "news" / f"n{i:05d}.md").write_text(news_text(i, models), "utf-8")


def build(root: Path, *extra: str) -> tuple[float, float, int, dict | None]:
    """Run pelican once; return wall and CPU seconds, peak MiB and the report."""
    settings = {
        "CACHE_PATH": str(root / "cache"),
        **json.loads(os.environ.get("BENCH_SETTINGS", "{}")),
    }
    command = [
        sys.executable,
        "-m",
        "pelican",
        str(root / "content"),
        "-o",
        str(root / "output"),
        "-s",
        str(ROOT / "pelicanconf.py"),
        "-q",
        "--log-handler",
        "plain",
        *extra,
        "-e",
        *[f"{k}={json.dumps(v)}" for k, v in settings.items()],
    ]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=root)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"build failed: {command}")
    report_path = root / "cache" / "incremental-report.json"
    report = None
    if (
        report_path.exists()
        and report_path.stat().st_mtime >= time.time() - seconds - 1
    ):
        report = json.loads(report_path.read_text("utf-8"))
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss // 1024, report


def row(size: int, name: str, result: tuple) -> None:
    """Print one table row."""
    seconds, cpu, rss, report = result
    rendered = "" if report is None else str(len(report["rendered"]))
    print(
        f"| {size} | {name} | {seconds:.2f} | {cpu:.2f} | {rss} | {rendered} |",
        flush=True,
    )


def bench(size: int) -> None:
    """Measure every row for one site size."""
    root = Path(tempfile.mkdtemp(prefix=f"inc-bench-{size}-"))
    try:
        generate(root / "content", size)
        off = json.dumps({"INCREMENTAL": {"enabled": False}})
        os.environ["BENCH_SETTINGS"] = off
        row(size, "full build, plugin off", build(root))
        shutil.rmtree(root / "output")
        os.environ["BENCH_SETTINGS"] = "{}"
        shutil.rmtree(root / "cache", ignore_errors=True)
        row(size, "full build, plugin on (first build)", build(root))
        row(size, "incremental: nothing changed", build(root))
        model_path = root / "content" / "models" / "m00003.md"
        model_path.write_text(model_text(3, body="Một câu mới."), "utf-8")
        row(size, "incremental: one body edit", build(root))
        model_path.write_text(model_text(3, title="Tên mới của mô hình số 3"), "utf-8")
        row(size, "incremental: one title edit", build(root))
        newest = root / "content" / "news" / "n99999.md"
        newest.write_text(news_text(99999, size // 2, date="2026-01-01"), "utf-8")
        row(size, "incremental: newest item added", build(root))
        row(size, "full build forced (FULL=1)", build(root, "--ignore-cache"))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    """Run the benchmark for each size given on the command line."""
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 5000]
    print("| items | build | wall s | CPU s | peak MiB | pages rendered |")
    print("|---|---|---|---|---|---|")
    for size in sizes:
        bench(size)


if __name__ == "__main__":
    main()
