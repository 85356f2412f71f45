"""Time the images plugin: N photo-like images, cold cache vs warm cache, side by side.

Run: .venv/bin/python bench/images_bench.py [N] [ROUNDS]
Each round makes every image from an empty cache with 1 thread, then with 2 threads,
then again with the warm cache (a rebuild with nothing changed: nothing processed).
Prints the median of each, as Markdown table rows for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from images import get_options, prepare  # noqa: E402
from PIL import Image  # noqa: E402

LABELS = {
    "cold1": "cold cache, 1 thread",
    "cold2": "cold cache, 2 threads",
    "warm": "warm cache (nothing changed)",
}


def photo(seed: int, size: tuple[int, int] = (2400, 1600)) -> bytes:
    """Return a photo-like JPEG (smooth colour blobs plus grain) with GPS EXIF."""
    small = (size[0] // 16, size[1] // 16)
    channels = [
        Image.effect_noise(small, 40 + 10 * ((seed + i) % 3)).resize(
            size, Image.Resampling.BICUBIC
        )
        for i in range(3)
    ]
    image = Image.merge("RGB", channels)
    grain = Image.effect_noise(size, 12).convert("RGB")
    image = Image.blend(image, grain, 0.15)
    exif = image.getexif()
    exif[0x8825] = {1: "N", 2: (10.0, 55.0, 30.0), 3: "E", 4: (108.0, 6.0, 12.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def timed(names: list[str], root: Path, options: dict) -> tuple[float, float]:
    """Return the wall and CPU seconds prepare() takes on every image."""
    wall, cpu = time.perf_counter(), time.process_time()
    done, failed = prepare(names, root, options)
    assert len(done) == len(names) and not failed
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    """Run the rounds and print the table rows."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "images"
        root.mkdir()
        names = []
        for i in range(count):
            (root / f"anh-{i}.jpg").write_bytes(photo(i))
            names.append(f"anh-{i}.jpg")
        megabytes = sum(p.stat().st_size for p in root.iterdir()) / 1e6
        cache = Path(folder) / "cache"
        results: dict[str, list[tuple[float, float]]] = {
            "cold1": [],
            "cold2": [],
            "warm": [],
        }
        for _ in range(rounds):
            for workers in (1, 2):
                shutil.rmtree(cache, ignore_errors=True)
                options = get_options(
                    {"IMAGES": {"workers": workers, "cache_dir": str(cache)}}
                )
                results[f"cold{workers}"].append(timed(names, root, options))
            results["warm"].append(timed(names, root, options))
    print(f"{count} images 2400×1600 ({megabytes:.1f} MB), median of {rounds} rounds")
    print("| images | run | wall | CPU |")
    print("| --- | --- | --- | --- |")
    for key, label in LABELS.items():
        wall = statistics.median(w for w, _ in results[key])
        cpu = statistics.median(c for _, c in results[key])
        print(f"| {count} | {label} | {wall:.3f} s | {cpu:.3f} s |")


if __name__ == "__main__":
    main()
