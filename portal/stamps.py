"""When a file's size and modification time vouch for its bytes.

Caches keyed by content hash (the incremental plugin's snapshot, the images
plugin's index) skip reading a file whose size and time are those they noted,
unless the file was modified within the time stamps' precision of the moment
they looked: it may have changed again in that same instant.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from portal.files import RACY_NS, write_atomic

__all__ = ["RACY_NS", "is_racy", "load_notes", "save_notes", "vouches"]


def is_racy(mtime_ns: int, taken_ns: int) -> bool:
    """Return whether a file modified at mtime_ns may have changed after taken_ns."""
    return mtime_ns >= taken_ns - RACY_NS


def vouches(
    size: object, mtime_ns: object, status: os.stat_result, taken_ns: int
) -> bool:
    """Return whether a noted size and time still stand for the file's bytes."""
    return (
        size == status.st_size
        and mtime_ns == status.st_mtime_ns
        and not is_racy(status.st_mtime_ns, taken_ns)
    )


def load_notes(path: Path, folder: Path, form: int) -> tuple[dict[str, list], int]:
    """Return the entries noted on a folder's files and when they were taken.

    Nothing (and time 0) when the file is missing, unreadable, of another format
    or about another folder.
    """
    try:
        data = json.loads(path.read_bytes())
        if data["output"] == str(folder.resolve()) and data["format"] == form:
            return dict(data["files"]), int(data["taken"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return {}, 0


def save_notes(
    path: Path, folder: Path, form: int, entries: Mapping[str, list], taken_ns: int
) -> None:
    """Write the entries noted on a folder's files, with when they were taken."""
    data = {
        "format": form,
        "output": str(folder.resolve()),
        "taken": taken_ns,
        "files": dict(entries),
    }
    write_atomic(path, json.dumps(data, separators=(",", ":")).encode())
