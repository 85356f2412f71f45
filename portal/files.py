"""Writing files safely: one helper for every atomic write in the repository."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["link_or_copy", "write_atomic"]


def _umask() -> int:
    """Return the process's umask (read once: setting it back is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; a written file gets the mode open() would give it.
DEFAULT_MODE = 0o666 & ~_umask()


def write_atomic(path: str | os.PathLike, data: bytes, mode: int | None = None) -> None:
    """Write bytes to a temporary file beside path and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, DEFAULT_MODE if mode is None else mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def link_or_copy(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Hard-link a file that is only ever replaced, never written into; else copy it.

    The target shares the source's bytes and time; a copy (another file system)
    keeps the time too.
    """
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
