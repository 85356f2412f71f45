"""`make publish` swaps in a new build only on success; content errors as annotations."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Site, _env, model

BAD_LOCALITY = "Phan Thiet"


def publish(site: Site, *settings: str) -> subprocess.CompletedProcess:
    """Run `python -m portal.publish` on a site, as `make publish` does."""
    command = [sys.executable, "-m", "portal.publish", "--content", "content"]
    command += ["--output", "output", "-s", str(ROOT / "publishconf.py"), "--"]
    # One -e with every setting: Pelican keeps only the last -e given.
    command += ["-e", f"CACHE_PATH={json.dumps(str(site.root / 'cache'))}", *settings]
    return subprocess.run(
        command, cwd=site.root, capture_output=True, text=True, env=_env()
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    """Return every file of a folder with its bytes."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def published(site: Site) -> Site:
    """A site with one model, published once."""
    site.write("models/cho-nhua.md", model())
    result = publish(site)
    assert result.returncode == 0, result.stderr
    return site


def test_failed_publish_keeps_the_old_output_byte_for_byte(published):
    before = snapshot(published.output)
    assert "mo-hinh/cho-nhua/index.html" in before
    published.write("models/sai.md", model(locality=BAD_LOCALITY))
    result = publish(published)
    assert result.returncode != 0
    assert f"không có địa bàn “{BAD_LOCALITY}”" in result.stderr
    assert "được giữ nguyên" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(published.output) == before
    assert not (published.root / "output.old").exists()


def test_failure_after_pages_are_written_keeps_the_old_output(published):
    before = snapshot(published.output)
    published.write("models/moi.md", model(title="Mô hình mới"))
    # The page list cannot be written (index.html is a file): the build fails at
    # the very end, after every page of the new site has been written.
    late_failure = 'COUNTER={"pages_file": "index.html/counter-pages.json"}'
    result = publish(published, late_failure)
    assert result.returncode != 0
    assert "được giữ nguyên" in result.stderr
    assert snapshot(published.output) == before


def test_a_failure_after_compression_and_search_keeps_the_old_output(published):
    """The staged copy shares the compressed copies' files: the build replaces them."""
    output = published.output
    page = output / "mo-hinh" / "cho-nhua" / "index.html"
    before = snapshot(output)
    assert f"{page.relative_to(output)}.br" in before
    edited = model().replace("Nội dung.", "Nội dung đã sửa, dài hơn trước. " * 40)
    published.write("models/cho-nhua.md", edited)
    # The marker is written last of all, after compression and the search index.
    result = publish(published, 'DEPLOY_MARKER={"text": ""}')
    assert result.returncode != 0
    assert "DEPLOY_MARKER['text'] must be a non-empty string" in result.stderr
    assert "được giữ nguyên" in result.stderr
    assert snapshot(output) == before
    assert publish(published).returncode == 0  # the same edit, published
    assert "dài hơn trước" in gzip.decompress(Path(f"{page}.gz").read_bytes()).decode(
        "utf-8"
    )


def test_successful_publish_swaps_in_the_new_site(published):
    published.write("models/moi.md", model(title="Mô hình mới"))
    result = publish(published)
    assert result.returncode == 0, result.stderr
    assert "Mô hình mới" in published.page("mo-hinh/moi/")
    assert "output.old" not in {p.name for p in published.root.iterdir()}
    # The previous site stays as the next publish's staging folder.
    staging = published.root / "output.staging"
    assert (staging / "mo-hinh" / "cho-nhua" / "index.html").is_file()
    assert not (staging / "mo-hinh" / "moi").exists()


def test_unchanged_files_keep_their_times(published):
    output = published.output
    (css,) = (output / "theme" / "css").glob("site.*[0-9a-f].css")
    page_gz = output / "mo-hinh" / "cho-nhua" / "index.html.gz"
    times = {path: path.stat().st_mtime_ns for path in (css, page_gz)}
    # Another field and locality: the page of cho-nhua (its related models) is unchanged.
    published.write(
        "models/khac.md",
        model(title="Mô hình khác", category="Kinh tế", locality="Tuy Phong"),
    )
    assert publish(published).returncode == 0
    assert {path: path.stat().st_mtime_ns for path in times} == times
    home = (output / "index.html").read_bytes()
    assert gzip.decompress((output / "index.html.gz").read_bytes()) == home


def test_annotations_name_the_file_and_line(site):
    site.write("models/sai.md", model(locality=BAD_LOCALITY))
    command = [sys.executable, "-m", "portal.check", "content"]
    command += ["--data", str(ROOT / "data")]
    plain = subprocess.run(command, cwd=site.root, capture_output=True, text=True)
    github = subprocess.run(
        [*command, "--github"], cwd=site.root, capture_output=True, text=True
    )
    assert plain.returncode == github.returncode == 1
    message = next(
        line.removeprefix("LỖI ")
        for line in plain.stdout.splitlines()
        if "locality" in line
    )
    assert message.startswith("content/models/sai.md:4: locality:")
    assert f"::error file=content/models/sai.md,line=4::{message}" in (
        github.stdout.splitlines()
    )


@pytest.mark.parametrize("one_step", [True, False], ids=["renameat2", "two-renames"])
def test_swap_puts_the_new_site_in_place(tmp_path, monkeypatch, one_step):
    from portal import publish as module

    if not one_step:
        monkeypatch.setattr(module, "exchange", lambda first, second: False)
    output, staging = tmp_path / "output", tmp_path / "output.staging"
    for folder, text in ((output, "cũ"), (staging, "mới")):
        folder.mkdir()
        (folder / "index.html").write_text(text, "utf-8")
    module.swap(staging, output)
    assert (output / "index.html").read_text("utf-8") == "mới"
    assert (staging / "index.html").read_text("utf-8") == "cũ"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["output", "output.staging"]


def test_a_staging_folder_left_behind_or_tampered_with_gives_a_clean_build(
    published, tmp_path
):
    """Double-buffered: the next publish builds into the site before the last one."""
    published.write("models/moi.md", model(title="Mô hình mới"))
    assert publish(published).returncode == 0
    staging = published.root / "output.staging"
    assert not (staging / "mo-hinh" / "moi").exists()  # one publish behind
    # Whatever happened to the staging folder since, the record check undoes it.
    (staging / "la.html").write_text("không phải của bản dựng", "utf-8")
    (staging / "index.html").write_text("sửa tay", "utf-8")
    (staging / "mo-hinh" / "cho-nhua" / "index.html").unlink()
    published.write("models/cho-nhua.md", model().replace("Nội dung.", "Đã sửa."))
    assert publish(published).returncode == 0
    clean = published.root / "clean"
    command = [sys.executable, "-m", "portal.publish", "--content", "content"]
    command += ["--output", "clean", "-s", str(ROOT / "publishconf.py"), "--"]
    command += ["-e", f"CACHE_PATH={json.dumps(str(tmp_path / 'clean-cache'))}"]
    result = subprocess.run(
        command, cwd=published.root, capture_output=True, text=True, env=_env()
    )
    assert result.returncode == 0, result.stderr
    skip = "pagefind/"  # Pagefind's own byte order varies (docs/INCREMENTAL.md)
    got = {
        k: v for k, v in snapshot(published.output).items() if not k.startswith(skip)
    }
    want = {k: v for k, v in snapshot(clean).items() if not k.startswith(skip)}
    assert (sorted(set(got) - set(want)), sorted(set(want) - set(got))) == ([], [])
    assert [name for name in got if got[name] != want[name]] == []


def test_reuse_output_builds_on_the_restored_site_without_a_copy(published):
    """CI (`--reuse-output`): output/ is moved to staging, rebuilt, swapped back."""
    output, staging = published.output, published.root / "output.staging"
    shutil.rmtree(staging, ignore_errors=True)  # a fresh runner: the cache has output/
    page = output / "mo-hinh" / "cho-nhua" / "index.html"
    inode = page.stat().st_ino
    published.write("models/moi.md", model(title="Mô hình mới"))
    command = [sys.executable, "-m", "portal.publish", "--content", "content"]
    command += ["--output", "output", "-s", str(ROOT / "publishconf.py")]
    command += ["--reuse-output", "--"]
    command += ["-e", f"CACHE_PATH={json.dumps(str(published.root / 'cache'))}"]
    result = subprocess.run(
        command, cwd=published.root, capture_output=True, text=True, env=_env()
    )
    assert result.returncode == 0, result.stderr
    assert "Mô hình mới" in published.page("mo-hinh/moi/")
    assert page.stat().st_ino == inode  # the same file: moved and kept, not copied
