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
from collections.abc import Mapping, Sequence

from blinker import signal

from portal.files import Listing

__all__ = [
    "PELICAN_LISTS",
    "declare",
    "declare_tree",
    "listing",
    "item_fields_noted",
    "lists_noted",
    "note_item_fields",
    "note_lists",
    "output_declared",
    "output_listing",
    "output_scanned",
    "scanned",
    "tree_declared",
]

# The attributes of Pelican's generators holding lists of content objects
# (articles and pages, their translations, drafts and hidden ones); `dates` is
# `articles` in another order.
PELICAN_LISTS = (
    "articles",
    "translations",
    "drafts",
    "drafts_translations",
    "hidden_articles",
    "hidden_translations",
    "pages",
    "hidden_pages",
    "draft_pages",
    "draft_translations",
)

output_declared = signal("incremental_output_declared")
tree_declared = signal("incremental_tree_declared")
output_scanned = signal("incremental_output_scanned")
output_listing = signal("incremental_output_listing")
lists_noted = signal("incremental_lists_noted")
item_fields_noted = signal("incremental_item_fields_noted")


def declare(*paths: str | os.PathLike) -> None:
    """Declare files written by this build (in or outside the output folder).

    Many at once are one signal (the compressed copies of a site: 13,000 files).
    """
    output_declared.send(None, paths=[os.fspath(path) for path in paths])


def declare_tree(folder: str | os.PathLike) -> None:
    """Declare every file now under a folder as written by this build."""
    tree_declared.send(os.fspath(folder))


def note_lists(prefix: str, lists: Mapping[str, Sequence]) -> None:
    """Name each list of content objects a generator keeps (in the context, on an item).

    The names (`prefix` + key) must be stable from build to build: a rebuild
    compares each name's items with the last build's and keeps without
    replaying the pages that read no list that changed and no item that did
    (docs/INCREMENTAL.md). A page that reaches a content object through a list
    no name was given to is replayed in every build. Costs nothing but a dict
    insertion per list; nothing is hashed unless a rebuild needs it.
    """
    if lists and lists_noted.receivers:
        lists_noted.send(prefix, lists=lists)


def note_item_fields(*names: str) -> None:
    """Name the fields a plugin sets on items from each item alone.

    From the item's own metadata and body and files outside the content's
    Markdown (an image), never from another item: a rebuild then takes them
    as the item's own, like its title (docs/INCREMENTAL.md). A field derived
    from other items belongs in a named list (note_lists) or is left unnamed.
    """
    item_fields_noted.send(None, names=names)


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
