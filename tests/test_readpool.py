"""readpool: the sources parsed ahead on a full build give the one-process site."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from PIL import Image

from portal import readpool
from tests.conftest import ROOT, _env, model, news, pelican_command

POOL = {"workers": 2, "min_files": 0}
ONE = {"min_files": 1_000_000}
# Run pelican in this process, counting the files the build took from the pool.
COUNTING = """
import json, sys
from portal import readpool
taken = []
real = readpool.ReadPool.take
def take(self, path):
    value = real(self, path)
    taken.append(value is not None)
    return value
readpool.ReadPool.take = take
from pelican import main
try:
    main(sys.argv[2:])
finally:
    open(sys.argv[1], "w").write(json.dumps([sum(taken), len(taken)]))
"""


def build(root: Path, content: Path, name: str, pool: dict) -> tuple[str, list]:
    """Build content into root/name with these READPOOL options; return stderr, counts."""
    settings = {
        "CACHE_PATH": str(root / f"cache-{name}"),
        "REDIRECTS": {"path": str(root / "redirects.yml")},
        "SEARCH": {"enabled": False},
        "READPOOL": pool,
    }
    command = pelican_command(content, root / name, "pelicanconf.py", settings)
    counts = root / f"{name}.json"
    result = subprocess.run(
        [sys.executable, "-c", COUNTING, str(counts), *command[3:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        # Pelican reads its files in the order of a set: the same order in both builds.
        env={**_env(), "PYTHONHASHSEED": "0"},
        timeout=300,
    )
    return result.stderr, [result.returncode, *json.loads(counts.read_text())]


def tree(folder: Path) -> dict[str, bytes]:
    """Map every file under a folder to its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def small_site(content: Path) -> Path:
    """Write models, news (some with a photo) and a page; return the content folder."""
    for folder in ("models", "news", "pages", "images"):
        (content / folder).mkdir(parents=True)
    Image.new("RGB", (64, 48), "teal").save(content / "images" / "anh.jpg", "JPEG")
    for i in range(12):
        photo = {"image": "anh.jpg", "image_alt": f"Ảnh {i}"} if i % 3 == 0 else {}
        (content / "models" / f"mo-hinh-{i}.md").write_text(
            model(title=f"Mô hình {i}", year=2015 + i % 8, **photo)
            + f"\nĐoạn *{i}* với [liên kết](https://example.vn/{i}).\n",
            "utf-8",
        )
        (content / "news" / f"tin-{i}.md").write_text(
            news(title=f"Tin {i}", date=f"2021-02-{i + 1:02d}", **photo), "utf-8"
        )
    (content / "pages" / "gioi-thieu.md").write_text(
        "---\ntitle: Giới thiệu\ndate: 2021-01-01\nsummary: Trang.\n---\nNội dung.\n",
        "utf-8",
    )
    return content


def test_the_pool_builds_the_one_process_site(tmp_path) -> None:
    content = small_site(tmp_path / "content")
    files = sum(1 for _ in content.rglob("*.md"))
    _, pooled = build(tmp_path, content, "pool", POOL)
    _, alone = build(tmp_path, content, "one", ONE)
    assert pooled == [0, files, files]  # every file parsed ahead, taken once
    assert alone == [0, 0, 0]
    assert tree(tmp_path / "pool") == tree(tmp_path / "one")
    # An incremental build reads from the content cache: no pool is started.
    edited = content / "news" / "tin-3.md"
    edited.write_text(edited.read_text("utf-8") + "\nThêm một câu.\n", "utf-8")
    _, again = build(tmp_path, content, "pool", POOL)
    assert again == [0, 0, 0]
    assert "Thêm một câu" in (
        tmp_path / "pool" / "tin-tuc" / "tin-3" / "index.html"
    ).read_text("utf-8")


def test_editor_errors_are_reported_as_in_one_process(tmp_path) -> None:
    content = tmp_path / "content"
    for folder in ("models", "news", "pages", "images"):
        (content / folder).mkdir(parents=True)
    for i in range(6):
        (content / "news" / f"tin-{i}.md").write_text(news(title=f"Tin {i}"), "utf-8")
    (content / "models" / "sai.md").write_text(
        model(locality="Phan Thiet", year="năm ngoái"), "utf-8"
    )
    (content / "news" / "anh.md").write_text(news(image="khong-co.jpg"), "utf-8")
    (content / "pages" / "hong.md").write_text("---\ntitle: [\n---\n", "utf-8")
    stderr, counts = {}, {}
    for name, pool in (("pool", POOL), ("one", ONE)):
        stderr[name], counts[name] = build(tmp_path, content, name, pool)
        errors = [line for line in stderr[name].splitlines() if "LỖI" in line]
        assert len(errors) >= 4, stderr[name]
    assert counts == {"pool": [1, 9, 9], "one": [1, 0, 0]}
    assert stderr["pool"].splitlines() == stderr["one"].splitlines()


def _parse(path: str) -> tuple[str, int]:
    if path == "raises":
        raise ValueError(path)
    if path == "dies":
        os._exit(3)
    return path, os.getpid()


def test_a_file_a_worker_cannot_parse_is_left_to_the_build() -> None:
    paths = [f"f{i}" for i in range(40)] + ["raises"]
    pool = readpool.ReadPool(paths, _parse, 2)
    try:
        results = [pool.take(path) for path in paths]
        assert pool.take("f1") is None  # taken once
        assert pool.take("elsewhere") is None
    finally:
        pool.close()
    assert [r[0] for r in results[:-1]] == paths[:-1]
    assert {r[1] for r in results[:-1]} - {os.getpid()} == {r[1] for r in results[:-1]}
    assert results[-1] is None


def test_a_worker_that_dies_breaks_the_build() -> None:
    pool = readpool.ReadPool(["dies", "f1"], _parse, 1)
    try:
        with pytest.raises(BrokenProcessPool):
            pool.take("f1")
    finally:
        pool.close()
