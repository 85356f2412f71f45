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
        # No ".", "//" or ".." to resolve (normpath keeps a leading "..").
        if os.path.normpath(rest) == rest and rest.split(os.sep, 1)[0] != "..":
            return rest.replace(os.sep, "/")
    real = os.path.realpath(path)
    if not real.startswith(prefix):
        return None
    return os.path.relpath(real, folder).replace(os.sep, "/")
