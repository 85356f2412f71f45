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
from collections.abc import Callable, Mapping
from typing import Any

from pelican.urlwrappers import URLWrapper

__all__ = ["ContentCache"]

log = logging.getLogger(__name__)
PREFIX = "incremental"
FORMAT = 1
# Pinned attributes kept beside each object (see the sections plugin).
PINNED = ("override_url", "override_save_as")
Entry = list  # [sha256 bytes, pickled object bytes, pinned url, pinned save_as]


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
    """Content objects of the last builds, by source path, checked by content hash."""

    def __init__(self, path: str, hash_of: Callable[[str], bytes], load: bool) -> None:
        self.path = path
        self.hash_of = hash_of
        self.entries: dict[str, Entry] = self._load() if load else {}
        self.used: set[str] = set()
        self.live: dict[str, Any] = {}
        self.read: list[str] = []  # files built from their bytes in this build
        self.wrappers: dict[tuple, URLWrapper] = {}
        self.dirty = False

    def _load(self) -> dict[str, Entry]:
        """Return the saved entries, or none if the file is missing or damaged."""
        try:
            with open(self.path, "rb") as handle:
                data = pickle.load(handle)
            if isinstance(data, dict) and data.get("format") == FORMAT:
                return data["entries"]
        except Exception as error:  # a damaged cache only costs reading again
            log.debug("%s: content cache not loaded: %r", PREFIX, error)
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
        entry = self.entries.get(path)
        if entry is None:
            return default
        self.used.add(path)
        if entry[0] != self.hash_of(path):
            return default
        try:
            handle = io.BytesIO(entry[1])
            obj = _Unpickler(
                handle, generator.settings, generator.context, self.wrappers
            ).load()
        except Exception as error:  # an entry that no longer loads is read again
            log.debug("%s: cached %s not loaded: %r", PREFIX, path, error)
            return default
        for name, value in zip(PINNED, entry[2:], strict=True):
            if value is not None:
                setattr(obj, name, value)
        self.live[path] = obj
        return obj

    def put(self, generator, path: str, obj: Any) -> None:
        """Keep an object Pelican just built and accepted."""
        self.used.add(path)
        self.read.append(path)
        handle = io.BytesIO()
        try:
            _Pickler(handle, generator.settings, generator.context).dump(obj)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            log.debug("%s: %s not cached: %r", PREFIX, path, error)
            self.entries.pop(path, None)
            return
        self.entries[path] = [self.hash_of(path), handle.getvalue(), None, None]
        self.live[path] = obj
        self.dirty = True

    def save(self) -> None:
        """Pin each object's URLs into its entry; save if anything changed."""
        for path, obj in self.live.items():
            entry = self.entries.get(path)
            pinned = [obj.__dict__.get(name) for name in PINNED]
            if entry is not None and entry[2:] != pinned:
                entry[2:] = pinned
                self.dirty = True
        stale = self.entries.keys() - self.used
        for path in stale:
            del self.entries[path]
        if self.dirty or stale:
            self._write()
        self.dirty = False

    def _write(self) -> None:
        """Write the entries atomically (a failure costs reading them again)."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        temporary = f"{self.path}.tmp{os.getpid()}"
        data = {"format": FORMAT, "entries": self.entries}
        try:
            with open(temporary, "wb") as handle:
                pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, self.path)
        except OSError as error:
            log.warning("%s: không lưu được bộ nhớ đệm nội dung: %s", PREFIX, error)
            with contextlib.suppress(OSError):
                os.remove(temporary)


def _nothing() -> None:
    """Do nothing."""
