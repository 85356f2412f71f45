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

from blinker import signal

from portal.files import Listing

__all__ = [
    "declare",
    "declare_tree",
    "listing",
    "output_declared",
    "output_listing",
    "output_scanned",
    "scanned",
    "tree_declared",
]

output_declared = signal("incremental_output_declared")
tree_declared = signal("incremental_tree_declared")
output_scanned = signal("incremental_output_scanned")
output_listing = signal("incremental_output_listing")


def declare(*paths: str | os.PathLike) -> None:
    """Declare files written by this build (in or outside the output folder).

    Many at once are one signal (the compressed copies of a site: 13,000 files).
    """
    output_declared.send(None, paths=[os.fspath(path) for path in paths])


def declare_tree(folder: str | os.PathLike) -> None:
    """Declare every file now under a folder as written by this build."""
    tree_declared.send(os.fspath(folder))


def listing(folder: str | os.PathLike) -> Listing | None:
    """Return the output folder as the build knows it now, or None: then walk it.

    The build walked the folder before it started (the check of its record)
    and knows what it wrote, declared and removed since: the listing it gives
    is up to date (portal.files.Listing.refresh), one stat per folder instead
    of one per file.
    """
    for _receiver, found in output_listing.send(os.fspath(folder)):
        if found is not None:
            return found
    return None


def scanned(folder: str | os.PathLike, listing: Listing) -> None:
    """Hand the build a walk of the whole output folder, so it need not walk again.

    `listing` holds every file by relative path with its stat and every
    folder's time; a file the sender wrote since is in it with its stat after
    writing. The build brings it up to date when it records the output, taking
    the stat again of what is declared after it (docs/INCREMENTAL.md).
    """
    output_scanned.send(os.fspath(folder), listing=listing)
