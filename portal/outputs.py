"""Declaring the files a plugin writes itself (outside Pelican's writer).

The build owns its output folder (plugins/incremental, docs/INCREMENTAL.md): a
file in it that no part of the build produced or declared is removed when the
build ends. A plugin that writes a file itself calls `declare(*paths)` (or
`declare_tree(folder)` for a folder it fills, such as Pagefind's) in the same
run. These are blinker signals, so a plugin needs no import of the incremental
plugin and nothing happens when it is off.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from blinker import signal

__all__ = [
    "declare",
    "declare_tree",
    "output_declared",
    "output_scanned",
    "scanned",
    "tree_declared",
]

output_declared = signal("incremental_output_declared")
tree_declared = signal("incremental_tree_declared")
output_scanned = signal("incremental_output_scanned")


def declare(*paths: str | os.PathLike) -> None:
    """Declare files written by this build (in or outside the output folder).

    Many at once are one signal (the compressed copies of a site: 13,000 files).
    """
    output_declared.send(None, paths=[os.fspath(path) for path in paths])


def declare_tree(folder: str | os.PathLike) -> None:
    """Declare every file now under a folder as written by this build."""
    tree_declared.send(os.fspath(folder))


def scanned(
    folder: str | os.PathLike, files: Mapping[str, os.stat_result], taken_ns: int
) -> None:
    """Hand the build a walk of the whole output folder, so it need not walk again.

    `files` holds every file by relative path with its stat, taken after
    `taken_ns` (time.time_ns()); a file the sender wrote since is in it with
    its stat after writing. The build records the output from it, taking the
    stat again of what is declared after it (docs/INCREMENTAL.md).
    """
    output_scanned.send(os.fspath(folder), files=files, taken_ns=taken_ns)
