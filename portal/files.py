"""Files: one helper for every atomic write, link-or-copy and walk in the repository."""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "FileStat",
    "Layout",
    "Listing",
    "RACY_NS",
    "Share",
    "Stamp",
    "file_names",
    "file_sha256",
    "file_stat",
    "forget_sha256",
    "keep_newest",
    "layout",
    "link_or_copy",
    "list_tree",
    "note_sha256",
    "noted_sha256",
    "owner",
    "stamp",
    "walk",
    "write_atomic",
]

Stamp = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode
Share = tuple[int, int]  # index, count (see list_tree)


def _umask() -> int:
    """Return the process's umask (read once: setting it back is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; a written file gets the mode open() would give it.
DEFAULT_MODE = 0o666 & ~_umask()


_temporaries = itertools.count()


def write_atomic(path: str | os.PathLike, data: bytes, mode: int | None = None) -> None:
    """Write bytes to a temporary file beside path and rename it into place.

    The folder is made only when it is missing (most writes go into one that
    exists: a publish from nothing writes 20,000 compressed copies and store
    entries, each a `mkdir` that failed before).
    """
    path = os.fspath(path)
    try:
        handle, temporary = _create_temporary(path)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path) or os.curdir, exist_ok=True)
        handle, temporary = _create_temporary(path)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(handle, view) :]
            # By the open file where the system allows it (not Windows).
            target = handle if os.chmod in os.supports_fd else temporary
            os.chmod(target, DEFAULT_MODE if mode is None else mode)
        finally:
            os.close(handle)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def keep_newest(folder: str | os.PathLike, pattern: str, count: int) -> None:
    """Remove all but the count newest files of a folder matching a glob pattern."""

    def modified(path: Path) -> int:
        try:
            return path.stat().st_mtime_ns
        except FileNotFoundError:  # removed meanwhile (another build)
            return 0

    found = sorted(Path(folder).glob(pattern), key=modified, reverse=True)
    for path in found[count:]:
        path.unlink(missing_ok=True)


def _create_temporary(path: str) -> tuple[int, str]:
    """Create a new file beside path, named by process and count; return fd and name.

    What tempfile.mkstemp does (a name nobody has, O_EXCL, mode 0600) for a
    third of its cost: a random name costs more than the file (tens of thousands
    of compressed copies in a publish from nothing).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    folder, name = os.path.split(path)
    while True:
        temporary = os.path.join(folder, f".{name}.{os.getpid()}.{next(_temporaries)}")
        try:
            return os.open(temporary, flags, 0o600), temporary
        except FileExistsError:
            continue  # left by a process that had this id before


def link_or_copy(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Hard-link a file that is only ever replaced, never written into; else copy it.

    The target shares the source's bytes and time; a copy (another file system)
    keeps the time too.
    """
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def walk(
    folder: str | os.PathLike, folders: set[str] | None = None
) -> Iterator[tuple[str, os.stat_result]]:
    """Yield (relative path, stat) of every file under a folder (links as files).

    One `os.scandir` per folder and no `Path` objects: the output holds tens of
    thousands of files. With `folders`, every sub-folder's relative path is added.
    """
    descend = None if folders is None else _noting(folders)
    for rel, entry in _entries(folder, descend):
        try:
            yield rel, entry.stat(follow_symlinks=False)
        except OSError:
            continue


def _noting(folders: set[str]) -> Callable[[str, os.DirEntry], bool]:
    """Return a folder test that adds every sub-folder's relative path to a set."""

    def descend(rel: str, _entry: os.DirEntry) -> bool:
        folders.add(rel)
        return True

    return descend


def file_names(folder: str | os.PathLike) -> set[str]:
    """Return the relative path of every file under a folder, without a stat.

    Under half of walk's time: only the folders are read (see walk).
    """
    return {rel for rel, _ in _entries(folder, None)}


def _entries(
    folder: str | os.PathLike,
    descend: Callable[[str, os.DirEntry], bool] | None,
) -> Iterator[tuple[str, os.DirEntry]]:
    """Yield (relative path, directory entry) of every file under a folder.

    `descend` is shown every sub-folder before it is read (links are files);
    a sub-folder it answers False for is left out.
    """
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(folder, rel_dir)))
        except OSError:
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if entry.is_dir(follow_symlinks=False):
                if descend is None or descend(rel, entry):
                    stack.append(rel)
            else:
                yield rel, entry


class FileStat(NamedTuple):
    """What a walk keeps of a file's stat (os.stat_result's names, cheap to pickle)."""

    st_size: int
    st_mtime_ns: int
    st_ctime_ns: int
    st_ino: int
    st_mode: int


def file_stat(status: os.stat_result) -> FileStat:
    """Return what a listing keeps of a stat."""
    return FileStat(
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
        status.st_ino,
        status.st_mode,
    )


# A file or folder whose time is this close to when it was looked at is looked
# at again: a change in the same tick of the clock would leave its time as it
# was (portal.stamps uses it too).
RACY_NS = 2_000_000_000


@dataclass
class Listing:
    """Every file under a folder with its stat, and every folder's time, as walked.

    A folder's time is taken before it is read: adding, removing or renaming an
    entry in it changes that time, so a folder whose time is the same (and was
    not racy) still holds the files listed. What changes a file in place (its
    bytes, not its folder) is not seen: `refresh` takes the stat again of the
    files it is told were touched.
    """

    files: dict[str, FileStat] = field(default_factory=dict)
    folders: dict[str, int] = field(default_factory=dict)  # "" is the top
    taken_ns: int = 0  # time.time_ns() before any stat was taken

    def __getstate__(self) -> tuple:
        """Pickle the stats as plain tuples (5 times faster than named ones)."""
        return self.taken_ns, self.folders, {k: tuple(v) for k, v in self.files.items()}

    def __setstate__(self, state: tuple) -> None:
        """Load a pickled listing (see __getstate__)."""
        self.taken_ns, self.folders, files = state
        make = tuple.__new__  # FileStat(*v) without its Python-level __new__
        self.files = {k: make(FileStat, v) for k, v in files.items()}

    def merge(self, other: Listing) -> None:
        """Take another share's walk of the same folder into this one (list_tree).

        Dated by the earlier walk: a file is racy from the earlier time on.
        """
        self.files.update(other.files)
        self.folders.update(other.folders)
        self.taken_ns = min(self.taken_ns, other.taken_ns)

    def refresh(self, top: str, touched: Iterable[str]) -> None:
        """Bring the listing up to date with one stat per folder and per touched file.

        A folder whose time changed (or was racy) is read again: its new files
        (and those replaced: another inode) are added, those gone dropped, and
        a folder gone takes its files with it. A file still listed under the
        same inode keeps its stat unless `touched` names it
        (relative paths: what this build wrote or may have written in place):
        someone else's change to it shows as a time the record does not hold.
        The listing keeps its date (see racy).
        """
        racy_ns = self.taken_ns - RACY_NS
        reread: list[str] = []
        gone: set[str] = set()
        lstat, prefix = os.lstat, os.path.join(top, "")
        for rel, mtime in list(self.folders.items()):
            try:
                status = lstat(prefix + rel if rel else top)  # 6,600 folders
            except OSError:
                gone.add(rel)
                continue
            if not stat.S_ISDIR(status.st_mode):
                gone.add(rel)
            elif status.st_mtime_ns != mtime or mtime >= racy_ns:
                self.folders[rel] = status.st_mtime_ns
                reread.append(rel)
        if gone:
            gone.update(f for f in self.folders if _within(f, gone))
            for rel in gone:
                del self.folders[rel]
            for rel in [r for r in self.files if r.rpartition("/")[0] in gone]:
                del self.files[rel]
        listed: dict[str, set[str]] = {rel: set() for rel in reread}
        for rel in self.files:
            found = listed.get(rel.rpartition("/")[0])
            if found is not None:
                found.add(rel)
        fresh: set[str] = set()
        for rel in reread:
            if rel in self.folders:  # not inside a folder gone since
                fresh |= self._read(top, rel, listed[rel])
        for rel in set(touched) - fresh:
            try:
                status = os.lstat(os.path.join(top, rel))
            except OSError:
                self.files.pop(rel, None)
                continue
            if not stat.S_ISDIR(status.st_mode):
                self.files[rel] = file_stat(status)

    def racy(self) -> set[str]:
        """Return the files whose stat may miss a change made in the tick it was taken.

        Taking their stat again, a listing can be dated anew (`taken_ns`) from
        before that: every other stat shows a time older than the racy window.
        """
        racy_ns = self.taken_ns - RACY_NS
        return {rel for rel, s in self.files.items() if s.st_mtime_ns >= racy_ns}

    def _read(self, top: str, rel_dir: str, before: set[str]) -> set[str]:
        """List one folder again (and every folder new under it); return new files.

        `before` holds the files listed in it; one it still holds under the
        same inode keeps its stat (see refresh), one replaced gets its new one.
        """
        try:
            entries = list(os.scandir(os.path.join(top, rel_dir)))
        except OSError:
            return set()
        prefix = f"{rel_dir}/" if rel_dir else ""
        seen, new = set(), set()
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                if rel not in self.folders:
                    try:
                        self.folders[rel] = entry.stat(
                            follow_symlinks=False
                        ).st_mtime_ns
                    except OSError:
                        continue
                    new |= self._read(top, rel, set())
                continue
            seen.add(rel)
            listed = self.files.get(rel)
            # Another inode (from the folder's entry, no stat): a file replaced.
            if listed is None or listed.st_ino != entry.inode():
                try:
                    self.files[rel] = file_stat(entry.stat(follow_symlinks=False))
                except OSError:
                    continue
                new.add(rel)
        for rel in before - seen:
            del self.files[rel]
        return new


def _within(rel: str, folders: set[str]) -> bool:
    """Return whether a relative path lies inside one of the folders."""
    while "/" in rel:
        rel = rel.rpartition("/")[0]
        if rel in folders:
            return True
    return False


# What a walk knows of a folder from the last one: its time, and its entries
# (name, whether a folder) as they were then (see layout and list_tree).
Layout = dict[str, tuple[int, list[tuple[str, bool]]]]


def layout(files: Iterable[str], folders: dict[str, int], taken_ns: int) -> Layout:
    """Return the entries of each folder of a walk whose time vouches for them.

    `files` and `folders` (relative path -> time) are what a walk found, taken
    from `taken_ns` on. Adding, removing or renaming an entry changes its
    folder's time (the rule Listing.refresh follows): a folder whose time is
    still the one listed, and was not racy then, holds the same entries. A
    racy folder is left out (read again).
    """
    racy_ns = taken_ns - RACY_NS
    known: Layout = {rel: (t, []) for rel, t in folders.items() if t < racy_ns}
    for names, is_folder in ((folders, True), (files, False)):
        for rel in names:
            if rel:
                parent, _, name = rel.rpartition("/")
                found = known.get(parent)
                if found is not None:
                    found[1].append((name, is_folder))
    return known


def _folder_entries(
    path: str, mtime: int, known: tuple[int, list] | None
) -> list[tuple[str, bool]] | None:
    """Return a folder's entries (name, whether a folder); None when unreadable.

    From the last walk when the folder's time is the one it listed (layout),
    else read.
    """
    if known is not None and known[0] == mtime:
        return known[1]
    try:
        with os.scandir(path) as entries:
            return [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
    except OSError:
        return None


def list_tree(
    folder: str | os.PathLike, share: Share | None = None, known: Layout | None = None
) -> Listing:
    """Walk a folder: every file's stat and every folder's time (see Listing).

    With `share` (index, count), only the files `owner` gives that index: each
    of `count` processes walks its share, and the listings `merge` into one.
    With `known` (layout of the last walk), a folder whose time is as listed
    is not read again: its files' stats are taken by their names (a third of
    the walk of 32,500 files, 6,600 folders, went into reading folders).
    One loop and no call per file but the stat (10 µs a file at 32,500 files
    was the critical path of "nothing changed").
    """
    listing = Listing(taken_ns=time.time_ns())
    try:
        top = os.lstat(folder)
    except OSError:
        return listing
    mine, count = share or (0, 1)
    files, folders = listing.files, listing.folders
    if mine == 0:
        folders[""] = top.st_mtime_ns
    known = known or {}
    make = tuple.__new__  # FileStat(...) without its Python-level __new__
    lstat, base = os.lstat, os.path.join(os.fspath(folder), "")
    # (folder, depth: 2 = owned whole, its time). Above depth 2 a path has at
    # most two parts, so its owner is hash(rel) % count (`owner`, without a call
    # and a split per file of a flat folder: a quarter of a share's walk).
    stack: list[tuple[str, int, int]] = [("", 0, top.st_mtime_ns)]
    while stack:
        rel_dir, depth, mtime = stack.pop()
        prefix = f"{rel_dir}/" if rel_dir else ""
        entries = _folder_entries(base + rel_dir, mtime, known.get(rel_dir))
        for name, is_folder in entries or ():
            rel = prefix + name
            try:
                if is_folder:
                    # Folders near the top are read by every share, the
                    # others (and their files) by their owner alone.
                    if depth == 1 and hash(rel) % count != mine:
                        continue
                    s = lstat(base + rel)
                    if depth or mine == 0:
                        folders[rel] = s.st_mtime_ns
                    stack.append((rel, min(depth + 1, 2), s.st_mtime_ns))
                elif depth == 2 or hash(rel) % count == mine:
                    s = lstat(base + rel)
                    files[rel] = make(
                        FileStat,
                        (s.st_size, s.st_mtime_ns, s.st_ctime_ns, s.st_ino, s.st_mode),
                    )
            except OSError:
                continue
    return listing


def owner(rel: str, count: int) -> int:
    """Return the index of the share (see list_tree) that walks a file.

    A file in a folder two levels down or deeper goes with that folder, a file
    nearer the top by its own path (a flat folder of images is split too). By
    Python's string hash: the same in a process and the processes it forks.
    """
    parts = rel.split("/", 2)
    return hash(rel if len(parts) < 3 else f"{parts[0]}/{parts[1]}") % count


def file_sha256(path: str | os.PathLike) -> bytes | None:
    """Return the SHA-256 of a file's bytes, or None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").digest()
    except OSError:
        return None


# SHA-256 of files this process read or wrote whole, by absolute path, with the
# stamp the file had then (see note_sha256).
_noted: dict[str, tuple[Stamp, str]] = {}


def stamp(status: os.stat_result) -> Stamp:
    """Return what tells one version of a file from another: size, times, inode.

    Writing into a file changes its ctime, replacing it (a rename) its inode.
    """
    return (status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino)


def note_sha256(path: str, file_stamp: Stamp, sha256: str) -> None:
    """Remember a file's SHA-256 (hex), taken while the file had this stamp.

    The stamp must be taken before the bytes are read and still be the file's
    after (or after they were written, by whoever wrote them); a file that
    changes since has another stamp, and the note no longer speaks for it.
    """
    _noted[path] = (file_stamp, sha256)


def noted_sha256(path: str, status: os.stat_result) -> str | None:
    """Return the noted SHA-256 (hex) of a file still as noted (same stamp), else None."""
    found = _noted.get(path)
    if found is None or found[0] != stamp(status):
        return None
    return found[1]


def forget_sha256() -> None:
    """Forget every noted SHA-256 (a new build starts)."""
    _noted.clear()
