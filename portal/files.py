"""Files: one helper for every atomic write, link-or-copy and walk in the repository."""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "Stamp",
    "file_names",
    "file_sha256",
    "forget_sha256",
    "link_or_copy",
    "note_sha256",
    "noted_sha256",
    "stamp",
    "walk",
    "write_atomic",
]

Stamp = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


def _umask() -> int:
    """Return the process's umask (read once: setting it back is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; a written file gets the mode open() would give it.
DEFAULT_MODE = 0o666 & ~_umask()


_temporaries = itertools.count()


def write_atomic(path: str | os.PathLike, data: bytes, mode: int | None = None) -> None:
    """Write bytes to a temporary file beside path and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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


def _create_temporary(path: Path) -> tuple[int, str]:
    """Create a new file beside path, named by process and count; return fd and name.

    What tempfile.mkstemp does (a name nobody has, O_EXCL, mode 0600) for a
    third of its cost: a random name costs more than the file (tens of thousands
    of compressed copies in a publish from nothing).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        temporary = f"{path.parent}/.{path.name}.{os.getpid()}.{next(_temporaries)}"
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
    for rel, entry in _entries(folder, folders):
        try:
            yield rel, entry.stat(follow_symlinks=False)
        except OSError:
            continue


def file_names(folder: str | os.PathLike) -> set[str]:
    """Return the relative path of every file under a folder, without a stat.

    Under half of walk's time: only the folders are read (see walk).
    """
    return {rel for rel, _ in _entries(folder, None)}


def _entries(
    folder: str | os.PathLike, folders: set[str] | None
) -> Iterator[tuple[str, os.DirEntry]]:
    """Yield (relative path, directory entry) of every file under a folder."""
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
                if folders is not None:
                    folders.add(rel)
                stack.append(rel)
            else:
                yield rel, entry


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
