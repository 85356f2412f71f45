"""portal.files.write_atomic: a new file renamed into place, nothing left beside it."""

from __future__ import annotations

import itertools
import os
import stat

import pytest

from portal import files


@pytest.mark.parametrize(
    ("mode", "expected"), [(None, files.DEFAULT_MODE), (0o644, 0o644), (0o600, 0o600)]
)
def test_write_atomic_replaces_the_file_with_the_mode_asked(tmp_path, mode, expected):
    path = tmp_path / "a" / "b" / "index.html.gz"
    files.write_atomic(path, b"cu")
    inode = path.stat().st_ino
    files.write_atomic(path, b"moi" * 100_000, mode)
    assert path.read_bytes() == b"moi" * 100_000
    assert stat.S_IMODE(path.stat().st_mode) == expected
    assert path.stat().st_ino != inode  # replaced, never written into
    assert os.listdir(path.parent) == ["index.html.gz"]


def test_write_atomic_skips_a_temporary_left_by_an_earlier_process(
    tmp_path, monkeypatch
):
    path = tmp_path / "page.html"
    monkeypatch.setattr(files, "_temporaries", itertools.count())
    left = tmp_path / f".page.html.{os.getpid()}.0"
    left.write_bytes(b"de lai")
    files.write_atomic(path, b"trang")
    assert path.read_bytes() == b"trang"
    assert left.read_bytes() == b"de lai"  # not taken over, not removed
    assert sorted(os.listdir(tmp_path)) == [left.name, "page.html"]


def test_write_atomic_leaves_nothing_when_the_rename_fails(tmp_path):
    target = tmp_path / "folder"
    (target / "inside").mkdir(parents=True)  # a folder cannot be replaced by a file
    with pytest.raises(OSError):
        files.write_atomic(target, b"x")
    assert sorted(os.listdir(tmp_path)) == ["folder"]


@pytest.mark.parametrize(
    ("name", "folders"),
    [("page.html", 0), ("a/b/page.html", 1), ("a/page.html", 0)],
)
def test_write_atomic_makes_the_folder_only_when_missing(
    tmp_path, monkeypatch, name, folders
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    made = []
    real = os.makedirs
    monkeypatch.setattr(os, "makedirs", lambda *a, **k: made.append(a) or real(*a, **k))
    files.write_atomic(name, b"trang")  # a relative path, as given
    assert (tmp_path / name).read_bytes() == b"trang"
    assert len(made) == folders
    beside = {"page.html": {"a", "page.html"}, "a/b/page.html": {"page.html"}}
    assert set(os.listdir((tmp_path / name).parent)) == beside.get(name, {"page.html"})


@pytest.mark.parametrize("count", [2, 3])
def test_each_share_of_a_walk_holds_the_files_owner_gives_it(tmp_path, count):
    """list_tree's shares split the files as `owner` does (the walk computes
    it inline above two levels: a flat folder by each file, a deeper file by
    its folder two levels down), and together they are the whole walk."""
    for rel in (
        [f"top-{n}.html" for n in range(8)]
        + [f"images/{n}.jpg" for n in range(20)]
        + [f"tin-tuc/bai-{n}/index.html" for n in range(12)]
        + [f"tin-tuc/bai-{n}/sau/hinh.png" for n in range(6)]
    ):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel, "utf-8")
    whole = files.list_tree(tmp_path)
    shares = [files.list_tree(tmp_path, (index, count)) for index in range(count)]
    for index, share in enumerate(shares):
        assert share.files and {files.owner(rel, count) for rel in share.files} == {
            index
        }
    assert sorted(itertools.chain(*(s.files for s in shares))) == sorted(whole.files)
