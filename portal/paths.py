"""Paths of written files, relative to the output folder."""

from __future__ import annotations

import os

__all__ = ["under"]


def under(path: str, folder: str) -> str | None:
    """Return path relative to folder (absolute, symlinks resolved) in URL form.

    The common case (path is folder + separator + a clean relative part) is a
    string slice; anything else is resolved. None when path is not inside.
    """
    prefix = folder + os.sep
    if path.startswith(prefix):
        rest = path[len(prefix) :]
        # No empty, "." or ".." part to resolve, first and last parts included:
        # three scans in C (normpath, in Python, cost 2.5 µs a path; a rebuild
        # asks for some 40,000).
        whole = f"{os.sep}{rest}{os.sep}"
        if (
            os.sep * 2 not in whole
            and f"{os.sep}.{os.sep}" not in whole
            and f"{os.sep}..{os.sep}" not in whole
        ):
            return rest.replace(os.sep, "/")
    real = os.path.realpath(path)
    if not real.startswith(prefix):
        return None
    return os.path.relpath(real, folder).replace(os.sep, "/")
