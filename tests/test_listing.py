"""portal.files.Listing: one walk of the output, brought up to date by folder times."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import pytest

from portal.files import FileStat, Listing, file_stat, layout, list_tree, owner

OLD_NS = 1_600_000_000_000_000_000  # September 2020: far outside the racy window


def _tree(top: Path) -> None:
    """Make a small output folder with old times (files and folders)."""
    for rel in ("index.html", "a/index.html", "a/b/index.html", "c/index.html"):
        path = top / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel, "utf-8")
    _age(top)


def _age(top: Path) -> None:
    """Date every file and folder under top (top included) far in the past."""
    for path in [*top.rglob("*"), top]:
        os.utime(path, ns=(OLD_NS, OLD_NS), follow_symlinks=False)


def _names(listing: Listing) -> set[str]:
    return set(listing.files)


def test_a_walk_lists_every_file_and_every_folders_time(tmp_path) -> None:
    _tree(tmp_path)
    listing = list_tree(tmp_path)
    assert _names(listing) == {
        "index.html",
        "a/index.html",
        "a/b/index.html",
        "c/index.html",
    }
    assert listing.folders == {"": OLD_NS, "a": OLD_NS, "a/b": OLD_NS, "c": OLD_NS}
    status = os.lstat(tmp_path / "a" / "index.html")
    assert listing.files["a/index.html"] == file_stat(status)
    assert pickle.loads(pickle.dumps(listing)) == listing
    assert isinstance(pickle.loads(pickle.dumps(listing)).files["index.html"], FileStat)


@pytest.mark.parametrize("count", [1, 2, 3])
def test_shares_of_a_walk_merge_into_the_whole_walk(tmp_path, count) -> None:
    """Each share walks the files `owner` gives it (a flat folder split file by
    file, a deep folder whole), none twice; merged they are the whole walk."""
    _tree(tmp_path)
    for rel in [f"flat/{n}.webp" for n in range(40)] + [
        f"deep/{n}/x/index.html" for n in range(40)
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel, "utf-8")
    (tmp_path / "flat" / "link").symlink_to(tmp_path / "deep")  # a file
    _age(tmp_path)
    whole = list_tree(tmp_path)
    shares = [list_tree(tmp_path, (index, count)) for index in range(count)]
    for index, share in enumerate(shares):
        assert share.files and all(owner(r, count) == index for r in share.files)
    assert sum(len(share.files) for share in shares) == len(whole.files) == 85
    earliest = min(share.taken_ns for share in shares)
    merged = shares[0]
    for share in shares[1:]:
        merged.merge(share)
    assert merged.files == whole.files and merged.folders == whole.folders
    assert merged.taken_ns == earliest


def test_a_refresh_sees_what_was_added_removed_or_replaced(tmp_path) -> None:
    """Files and folders added, removed or replaced: the same names as a new walk."""
    _tree(tmp_path)
    listing = list_tree(tmp_path)
    (tmp_path / "a" / "stray.html").write_text("lạ", "utf-8")  # in a listed folder
    (tmp_path / "new" / "deep").mkdir(parents=True)  # a new folder with files
    (tmp_path / "new" / "deep" / "x.html").write_text("x", "utf-8")
    (tmp_path / "c" / "index.html").unlink()
    (tmp_path / "c").rmdir()
    (tmp_path / "c").write_text("a file where a folder was", "utf-8")
    (tmp_path / "a" / "b" / "index.html").unlink()
    (tmp_path / "a" / "b").rmdir()
    listing.refresh(str(tmp_path), set())
    walked = list_tree(tmp_path)
    assert _names(listing) == _names(walked)
    assert set(listing.folders) == set(walked.folders) == {"", "a", "new", "new/deep"}
    assert listing.files["new/deep/x.html"] == walked.files["new/deep/x.html"]


def test_a_file_changed_in_place_keeps_its_stat_unless_touched(tmp_path) -> None:
    """Its folder's time does not change: only `touched` takes its stat again."""
    _tree(tmp_path)
    listing = list_tree(tmp_path)
    before = listing.files["a/index.html"]
    for rel in ("a/index.html", "c/index.html"):
        with open(tmp_path / rel, "r+b") as handle:  # in place, another size
            handle.write(b"changed in place")
    listing.refresh(str(tmp_path), {"c/index.html"})
    assert listing.files["a/index.html"] == before  # the record will differ
    assert listing.files["c/index.html"] == file_stat(
        os.lstat(tmp_path / "c/index.html")
    )


@pytest.mark.parametrize("racy", [True, False])
def test_a_folder_listed_in_the_racy_window_is_read_again(tmp_path, racy) -> None:
    """An entry added in the clock tick the folder was listed leaves its time as
    it was: a folder whose time was that close to the walk is read again."""
    _tree(tmp_path)
    if racy:
        os.utime(tmp_path / "a", ns=(time.time_ns(), time.time_ns()))
    listing = list_tree(tmp_path)
    noted = listing.folders["a"]
    (tmp_path / "a" / "same-tick.html").write_text("x", "utf-8")
    os.utime(tmp_path / "a", ns=(noted, noted))  # the same time as when listed
    listing.refresh(str(tmp_path), set())
    assert ("a/same-tick.html" in listing.files) is racy


def test_racy_files_are_those_modified_near_the_walk(tmp_path) -> None:
    _tree(tmp_path)
    (tmp_path / "c" / "index.html").write_text("now", "utf-8")
    listing = list_tree(tmp_path)
    assert listing.racy() == {"c/index.html"}


def test_a_file_replaced_gets_its_new_stat(tmp_path) -> None:
    """Renamed onto (another inode, its folder's time changes): its new stat."""
    _tree(tmp_path)
    listing = list_tree(tmp_path)
    (tmp_path / "a" / "new.tmp").write_text("replaced, longer", "utf-8")
    os.replace(tmp_path / "a" / "new.tmp", tmp_path / "a" / "index.html")
    listing.refresh(str(tmp_path), set())
    status = os.lstat(tmp_path / "a" / "index.html")
    assert listing.files["a/index.html"] == file_stat(status)
    assert set(listing.files) == set(list_tree(tmp_path).files)


def _known(top: Path):
    """Return a walk of top and the layout it gives the next walk."""
    walked = list_tree(top)
    return walked, layout(walked.files, walked.folders, time.time_ns())


@pytest.mark.parametrize("count", [1, 2])
def test_a_walk_with_the_last_layout_finds_what_a_full_walk_finds(
    tmp_path, count
) -> None:
    """Added, removed, replaced and edited files and folders: the same listing."""
    _tree(tmp_path)
    for n in range(12):
        (tmp_path / "d" / str(n)).mkdir(parents=True)
        (tmp_path / "d" / str(n) / "index.html").write_text(str(n), "utf-8")
    _age(tmp_path)
    _, known = _known(tmp_path)
    (tmp_path / "a" / "new.html").write_text("new", "utf-8")  # a/ changes
    (tmp_path / "c" / "index.html").unlink()  # c/ changes
    (tmp_path / "d" / "3" / "index.html").write_text("edited in place", "utf-8")
    (tmp_path / "d" / "4" / "e").mkdir()  # d/4 changes
    (tmp_path / "d" / "4" / "e" / "f.html").write_text("f", "utf-8")
    (tmp_path / "d" / "5" / "index.html").unlink()
    (tmp_path / "d" / "5").rmdir()  # d/ changes
    for index in range(count):
        share = (index, count) if count > 1 else None
        fast, full = list_tree(tmp_path, share, known), list_tree(tmp_path, share)
        assert fast.files == full.files
        assert fast.folders == full.folders
    edited = list_tree(tmp_path, None, known).files["d/3/index.html"]
    assert edited.st_size == len("edited in place")


def test_a_folder_whose_time_is_as_listed_is_not_read_again(tmp_path) -> None:
    """Its entries come from the last walk (a file added with the folder's time
    put back is not seen); a folder racy when listed is read again."""
    _tree(tmp_path)
    _, known = _known(tmp_path)
    (tmp_path / "c" / "hidden.html").write_text("x", "utf-8")
    os.utime(tmp_path / "c", ns=(OLD_NS, OLD_NS))
    assert "c/hidden.html" not in list_tree(tmp_path, None, known).files
    assert "c/hidden.html" in list_tree(tmp_path).files
    racy = layout(list_tree(tmp_path).files, {"": OLD_NS, "c": OLD_NS}, OLD_NS)
    assert "c" not in racy  # listed within the racy window of its time
    assert "c/hidden.html" in list_tree(tmp_path, None, racy).files
