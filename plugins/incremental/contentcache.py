"""Pelican's content objects kept between builds, keyed by each file's SHA-256.

Pelican builds an Article or a Page from every source file on every run:
it parses the Markdown, then formats the slug, the dates and the URLs. An
object built from the same bytes by the same code with the same settings (all
covered by the global fingerprint) is the same object, so the generators get
it back from here instead: pickled right after Pelican accepted it, with the
settings, the shared context and Pelican's URL wrappers kept by reference.
What plugins add later in the build (translations, related items, pictures)
is not in it: the build sets it again. The URL and output path the sections
plugin pins at the end of reading are kept beside the object, so they are not
formatted again either.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import pickle
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from pelican.urlwrappers import URLWrapper

from .tracking import SAFE_PROPERTIES

__all__ = ["ContentCache"]

log = logging.getLogger(__name__)
PREFIX = "incremental"
FORMAT = 1
# Pinned attributes kept beside each object (see the sections plugin).
PINNED = ("override_url", "override_save_as")
_MISSING = object()  # a field deleted since it was built


class _Pickler(pickle.Pickler):
    """Pickle a content object, keeping shared objects by reference."""

    def __init__(self, handle, settings: Mapping, context: Mapping) -> None:
        super().__init__(handle, protocol=pickle.HIGHEST_PROTOCOL)
        self.settings, self.context = settings, context

    def persistent_id(self, obj: Any) -> Any:
        if obj is self.settings:
            return ("settings",)
        if obj is self.context:
            return ("context",)
        if isinstance(obj, URLWrapper):
            slug = None if obj._slug_from_name else obj.slug
            kind = type(obj)
            return ("urlwrapper", kind.__module__, kind.__qualname__, obj.name, slug)
        return None


class _Unpickler(pickle.Unpickler):
    """Unpickle a content object into this build's settings and context."""

    def __init__(self, handle, settings: Mapping, context: Mapping, wrappers: dict):
        super().__init__(handle)
        self.settings, self.context, self.wrappers = settings, context, wrappers

    def persistent_load(self, pid: Any) -> Any:
        if pid == ("settings",):
            return self.settings
        if pid == ("context",):
            return self.context
        wrapper = self.wrappers.get(pid)
        if wrapper is None:
            wrapper = self.wrappers[pid] = _wrapper(pid, self.settings)
        return wrapper


def _wrapper(pid: tuple, settings: Mapping) -> URLWrapper:
    """Rebuild a category, tag or author (one object per name in a build)."""
    _, module, qualname, name, slug = pid
    kind = getattr(importlib.import_module(module), qualname)
    wrapper = kind(name, settings)
    if slug is not None:
        wrapper.slug = slug
    return wrapper


class ContentCache:
    """Content objects of the last builds, by source path, checked by content hash.

    They live in an SQLite file: a rebuild loads the small index (path, hash,
    pinned URLs), fetches the pickles in one query, unpickles those it uses,
    and writes only what changed, in one transaction committed when the build
    ends (a build that stops half-way changes nothing). A damaged file only
    means reading every source again.
    """

    def __init__(self, path: str, hash_of: Callable[[str], bytes], load: bool) -> None:
        self.path = path
        self.hash_of = hash_of
        self.db = _open(path, fresh=not load)
        self.index: dict[str, tuple] = self._index()
        self.new: set[str] = set()  # files whose row this build wrote
        self.used: set[str] = set()
        self.live: dict[str, Any] = {}
        self.read: list[str] = []  # files built from their bytes in this build
        self.wrappers: dict[tuple, URLWrapper] = {}
        # Each live object's fields as built (names, values), to tell them from
        # fields plugins set later; names are shared, with their positions.
        self.snapshots: dict[str, tuple[dict[str, int], tuple]] = {}
        self.layouts: dict[tuple, dict[str, int]] = {}
        # The pickles, fetched in one query when the first is asked for (one
        # query per file cost 0.1 s at 5,000 items); each is dropped once used.
        self.blobs: dict[str, bytes] | None = None

    def _index(self) -> dict[str, tuple]:
        """Return (hash, url, save_as) of every cached file, by path."""
        if self.db is None:
            return {}
        try:
            rows = self.db.execute("SELECT path, hash, url, save_as FROM contents")
            return {row[0]: row[1:] for row in rows}
        except sqlite3.Error as error:
            log.debug("%s: content cache not loaded: %r", PREFIX, error)
            self.db.close()
            self.db = _open(self.path, fresh=True)
            return {}

    def attach(self, generator) -> None:
        """Serve a caching generator's objects from here (Pelican's own cache is off)."""
        base = os.path.abspath(generator.path)

        def get_cached_data(filename: str, default: Any = None) -> Any:
            return self.get(generator, os.path.join(base, filename), default)

        def cache_data(filename: str, data: Any) -> None:
            self.put(generator, os.path.join(base, filename), data)

        generator.get_cached_data = get_cached_data
        generator.cache_data = cache_data
        generator.save_cache = _nothing  # saved once, when the build ends

    def get(self, generator, path: str, default: Any = None) -> Any:
        """Return the object built last time from this file's bytes, or default."""
        row = self.index.get(path)
        if row is None:
            return default
        self.used.add(path)
        if row[0] != self.hash_of(path):
            return default
        try:
            data = self._blob(path)
            obj = _Unpickler(
                io.BytesIO(data), generator.settings, generator.context, self.wrappers
            ).load()
        except Exception as error:  # an entry that no longer loads is read again
            log.debug("%s: cached %s not loaded: %r", PREFIX, path, error)
            return default
        for name, value in zip(PINNED, row[1:], strict=True):
            if value is not None:
                setattr(obj, name, value)
        self.live[path] = obj
        self._snapshot(path, obj)
        return obj

    def _blob(self, path: str) -> bytes:
        """Return a cached object's pickle (every row fetched in one query at first)."""
        if self.blobs is None:
            self.blobs = dict(self.db.execute("SELECT path, data FROM contents"))
        return self.blobs.pop(path)

    def put(self, generator, path: str, obj: Any) -> None:
        """Keep an object Pelican just built and accepted (committed when the build ends)."""
        self.used.add(path)
        self.read.append(path)
        self._snapshot(path, obj)
        if self.db is None:
            return
        handle = io.BytesIO()
        try:
            _Pickler(handle, generator.settings, generator.context).dump(obj)
            self.db.execute(
                "INSERT OR REPLACE INTO contents VALUES (?, ?, ?, NULL, NULL)",
                (path, self.hash_of(path), handle.getvalue()),
            )
        except (
            pickle.PicklingError,
            TypeError,
            AttributeError,
            sqlite3.Error,
        ) as error:
            log.debug("%s: %s not cached: %r", PREFIX, path, error)
            return
        self.new.add(path)
        self.live[path] = obj

    def _snapshot(self, path: str, obj: Any) -> None:
        """Remember an object's fields as built, before any plugin adds to them."""
        fields = obj.__dict__
        names = tuple(fields)
        layout = self.layouts.get(names)
        if layout is None:
            layout = self.layouts[names] = {n: i for i, n in enumerate(names)}
        self.snapshots[path] = (layout, tuple(fields.values()))

    def own_fields(self, obj: Any) -> Callable[[tuple], bool] | None:
        """Return which read steps on obj read only its fields as built, or None.

        Those are the fields the file's bytes decide (not `_context`, not one a
        plugin set or replaced since) and Pelican's properties made of them.
        """
        path = getattr(obj, "source_path", None)
        snapshot = self.snapshots.get(path) if isinstance(path, str) else None
        if snapshot is None or self.live.get(path) is not obj:
            return None
        layout, values = snapshot
        fields = obj.__dict__

        def own(step: tuple) -> bool:
            if step[0] != "a":
                return False
            name = step[1]
            if name in SAFE_PROPERTIES:
                return True
            i = layout.get(name)
            return (
                i is not None
                and name != "_context"
                and fields.get(name, _MISSING) is values[i]
            )

        return own

    def unchanged(self, obj: Any) -> bool:
        """Return whether obj was taken from the cache: built from the same bytes."""
        path = getattr(obj, "source_path", None)
        return self.live.get(path) is obj and path not in self.new

    def save(self) -> None:
        """Pin URLs that changed, forget deleted files, and commit."""
        self.blobs = None
        if self.db is None:
            return
        pinned = []
        for path, obj in self.live.items():
            urls = [obj.__dict__.get(name) for name in PINNED]
            if path in self.new or list(self.index[path][1:]) != urls:
                pinned.append((*urls, path))
        stale = [(path,) for path in self.index.keys() - self.used]
        try:
            with self.db:
                self.db.executemany(
                    "UPDATE contents SET url = ?, save_as = ? WHERE path = ?", pinned
                )
                self.db.executemany("DELETE FROM contents WHERE path = ?", stale)
        except sqlite3.Error as error:
            log.warning("%s: không lưu được bộ nhớ đệm nội dung: %s", PREFIX, error)
        finally:
            self.db.close()
            self.db = None


SCHEMA = """
CREATE TABLE IF NOT EXISTS contents (
    path TEXT PRIMARY KEY,  -- absolute path of the source file
    hash BLOB NOT NULL,     -- SHA-256 of its bytes
    data BLOB NOT NULL,     -- the pickled content object
    url TEXT,               -- pinned url and save_as, when the build pinned them
    save_as TEXT
)
"""


def _open(path: str, fresh: bool) -> sqlite3.Connection | None:
    """Open the cache database (emptied when fresh, damaged or of another format)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    for attempt in (False, True):
        if fresh or attempt:
            with contextlib.suppress(OSError):
                os.remove(path)
        try:
            db = sqlite3.connect(path)
            if db.execute("PRAGMA user_version").fetchone()[0] != FORMAT:
                db.execute("DROP TABLE IF EXISTS contents")
                db.execute(f"PRAGMA user_version = {FORMAT}")
            db.execute(SCHEMA)
            return db
        except sqlite3.Error as error:
            log.debug("%s: content cache %s unusable: %r", PREFIX, path, error)
    log.warning("%s: không mở được bộ nhớ đệm nội dung %s", PREFIX, path)
    return None


def _nothing() -> None:
    """Do nothing."""
