"""Pelican's content objects kept between builds, keyed by each file's SHA-256.

Pelican builds an Article or a Page from every source file on every run:
it parses the Markdown, then formats the slug, the dates and the URLs. An
object built from the same bytes by the same code with the same settings (all
covered by the global fingerprint) is the same object, so the generators get
it back from here instead: pickled right after Pelican accepted it, with the
settings, the shared context, Pelican's URL wrappers and the vocabularies'
terms kept by reference.
What plugins add later in the build (translations, related items, pictures)
is not in it: the build sets it again. The URL and output path the sections
plugin pins at the end of reading are kept beside the object, so they are not
formatted again either. So is its HTML body (`_content`), as UTF-8 bytes that
are decoded when something first reads it: most rebuilds read a few bodies, and
decoding all of them was half the time of taking 5,000 objects back. What
Pelican asks of every item on every build and the object already knew when
built is answered from there too: its static links, its relative source path,
and whether its formatted fields (the summary) hold a link to format again.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import json
import logging
import os
import pickle
import re
import sqlite3
import types
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pelican.settings import DEFAULT_CONFIG
from pelican.urlwrappers import URLWrapper
from pelican.utils import SafeDatetime

from portal import vocab

from .tracking import SAFE_PROPERTIES

__all__ = ["ContentCache", "links_within_site"]

log = logging.getLogger(__name__)
PREFIX = "incremental"
FORMAT = 6
# Pinned attributes kept beside each object (see the sections plugin).
PINNED = ("override_url", "override_save_as")
_MISSING = object()  # a field deleted since it was built


class _Terms:
    """The terms of the vocabularies, kept by reference in pickles (by name and slug).

    A term equal to the vocabulary's term of its slug is pickled as that
    reference, and an object taken from the cache gets the vocabulary's own
    term back, as one read in this process does, not a copy (the readpool's
    workers send copies; the vocabularies are in the global fingerprint): the
    sections and taxonomy plugins group items by term, and the replay
    memoises reads by object.
    """

    def __init__(self, settings: Mapping) -> None:
        self.terms: dict[tuple, Any] = {}  # ("term", vocabulary, slug) -> the term
        try:
            vocabularies = (
                vocab.from_settings(settings) if settings.get("VOCABULARY_PATH") else {}
            )
        except vocab.VocabularyError:
            vocabularies = {}
        twice = set()
        for name, vocabulary in vocabularies.items():
            for term in vocabulary:
                key = ("term", name, term.slug)
                if key in self.terms or term.vocabulary != name:
                    twice.add(key)
                self.terms[key] = term
        for key in twice:  # a slug used twice: those terms are pickled by value
            del self.terms[key]

    def key(self, obj: Any) -> tuple | None:
        """Return the reference of a term equal to its vocabulary's, or None."""
        if type(obj) is not vocab.Term:
            return None
        key = ("term", obj.vocabulary, obj.slug)
        return key if self.terms.get(key) == obj else None


# Types whose objects persistent_id always pickles by value (never the settings,
# the context, a term, a URL wrapper, a class or a builtin): asked first, they
# spare the other checks for the texts, numbers and dates of 5,000 items (four
# in ten of the content cache's `put` at 5,000 items, before).
_BY_VALUE = frozenset(
    {str, int, float, bool, type(None), bytes, list, tuple, SafeDatetime, datetime}
)


class _Pickler(pickle.Pickler):
    """Pickle a content object, keeping shared objects by reference."""

    def __init__(
        self,
        handle,
        settings: Mapping,
        context: Mapping,
        terms: _Terms,
        names: Callable[[tuple], int],
    ):
        super().__init__(handle, protocol=pickle.HIGHEST_PROTOCOL)
        self.settings, self.context, self.terms = settings, context, terms
        self.names = names  # the id of a tuple of field names (see _Names)

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) in _BY_VALUE:  # most calls: a field's text, number or date
            return None
        if type(obj) is _Names:
            return ("names", self.names(obj))
        if obj is self.settings:
            return ("settings",)
        if obj is self.context:
            return ("context",)
        key = self.terms.key(obj)
        if key is not None:
            return key
        if isinstance(obj, URLWrapper):
            slug = None if obj._slug_from_name else obj.slug
            kind = type(obj)
            return ("urlwrapper", kind.__module__, kind.__qualname__, obj.name, slug)
        if isinstance(obj, type) or type(obj) is types.BuiltinFunctionType:
            return _global_id(obj)
        return None


class _Names(tuple):
    """The field names of a cached object (or of its metadata), pickled by reference.

    Every object of a kind has the same names in the same order: each pickle
    named them all again (32 fields and 19 metadata keys: a quarter of
    unpickling 5,000 items). They are kept once, in the cache's
    table of names, and each pickle holds the values alone (see _packed).
    """


def _packed(kind: type, state: dict, links: Any) -> tuple:
    """Return what is pickled of an object: its fields' values, names by reference.

    Its metadata (a dict by field name) is packed the same way; values shared
    between the fields and the metadata stay shared (one pickle).
    """
    metadata = state.get("metadata")
    inner = None
    if type(metadata) is dict and all(type(key) is str for key in metadata):
        inner = (_Names(metadata), tuple(metadata.values()))
        state = {**state, "metadata": None}
    return kind, _Names(state), tuple(state.values()), inner, links


def _unpacked(names: tuple, values: tuple, inner: tuple | None) -> dict:
    """Return an object's fields from their names and values (see _packed)."""
    state = dict(zip(names, values, strict=True))
    if inner is not None:
        state["metadata"] = dict(zip(*inner, strict=True))
    return state


@functools.lru_cache(maxsize=256)
def _global_id(obj: Any) -> tuple | None:
    """Return the reference of a class or built-in function by its name, or None.

    Pickle names them in every pickle (Article, SafeDatetime, ZoneInfo's
    constructor…), and the unpickler imported each name again for every object:
    a fifth of taking 5,000 objects back. A reference is looked up once per build.
    """
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, type):  # a class's built-in method (ZoneInfo._unpickle)
        module, name = owner.__module__, f"{owner.__qualname__}.{obj.__name__}"
    else:
        module, name = getattr(obj, "__module__", None), obj.__qualname__
    if not isinstance(module, str) or "<" in name:
        return None
    try:
        found = _named(module, name)
    except (ImportError, AttributeError):
        return None
    return ("global", module, name) if found is obj or found == obj else None


def _named(module: str, name: str) -> Any:
    """Return the object a module's dotted name stands for."""
    found = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    return found


class _References(dict):
    """What the pickles of one build refer to, by persistent id.

    The unpickler looks each id up here in C (a Python persistent_load per
    reference was a tenth of taking 5,000 objects back): the settings, the
    context and the vocabularies' terms are entered first; a category, tag or
    author is made on its first use, one object per name in a build, and so is
    a class or built-in function found by its name.
    """

    def __init__(
        self, settings: Mapping, context: Mapping, terms: _Terms, wrappers: dict
    ) -> None:
        super().__init__(terms.terms)
        self[("settings",)] = settings
        self[("context",)] = context
        self.settings, self.wrappers = settings, wrappers

    def __missing__(self, pid: tuple) -> Any:
        if pid[0] == "global":
            try:
                found = self[pid] = _named(pid[1], pid[2])
            except (ImportError, AttributeError):  # gone: the entry is read again
                raise KeyError(pid) from None
            return found
        if pid[0] != "urlwrapper":  # a term no longer there: the entry is read again
            raise KeyError(pid)
        wrapper = self.wrappers.get(pid)
        if wrapper is None:
            wrapper = self.wrappers[pid] = _wrapper(pid, self.settings)
        self[pid] = wrapper
        return wrapper


def _unpickler(handle, references: _References) -> pickle.Unpickler:
    """Return an unpickler of a content object into this build's settings and context."""
    unpickler = pickle.Unpickler(handle)
    unpickler.persistent_load = references.__getitem__
    return unpickler


class _Bodies:
    """The UTF-8 bodies of the cached objects, fetched from the file when first read.

    Fetching all of them with the pickles (22 MB at 5,000 items) cost more than
    the few a rebuild reads, one query each. The row must still hold the bytes
    the object was built from (its hash), or reading it is an error. Each
    process has its own connection (the render pool's workers are forked).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.hashes: dict[str, bytes] = {}  # source path -> the hash of its row
        self.db: sqlite3.Connection | None = None
        self.pid: int | None = None

    def __contains__(self, source: object) -> bool:
        return source in self.hashes

    def __getitem__(self, source: str) -> bytes:
        if self.pid != os.getpid():  # a forked process never uses its parent's
            self.db, self.pid = sqlite3.connect(self.path), os.getpid()
        rows = self.db.execute(
            "SELECT body FROM contents WHERE path = ? AND hash = ?",
            (source, self.hashes[source]),
        ).fetchall()
        if not rows or rows[0][0] is None:
            raise LookupError(f"{PREFIX}: the cached body of {source} is gone")
        return rows[0][0]


class _Body:
    """A cached object's `_content`: its body, decoded from the cache when first read."""

    def __init__(self, bodies: _Bodies, linked: Mapping[str, bool]) -> None:
        self.bodies = bodies  # the UTF-8 bodies of the cached objects, by source path
        self.linked = linked  # whether each holds INTRASITE_LINK_REGEX

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        fields = obj.__dict__
        text = fields.get("_content", _MISSING)
        if text is _MISSING:
            data = self.bodies[fields["source_path"]]
            text = fields["_content"] = data.decode("utf-8", "surrogatepass")
        return text

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__["_content"] = value


def _reducer(kind: type) -> Callable[[Any, int], tuple]:
    """Return __reduce_ex__ for cached objects of a class: as that class, body read."""

    def reduce(self: Any, protocol: int) -> tuple:
        self._content  # noqa: B018 - read into the fields
        return _restore, (kind, dict(self.__dict__))

    return reduce


def _restore(kind: type, fields: dict) -> Any:
    """Return an object of a class with these fields as its own (a dict made for it).

    The dict becomes the object's: no copy of every field of 5,000 objects
    (their fields are made as a dict once, see _unpacked).
    """
    obj = kind.__new__(kind)
    obj.__dict__ = fields
    return obj


def _static_links(links: Mapping[str, frozenset]) -> Callable[[Any], set[str]]:
    """Return get_static_links for cached objects: the links found when it was built."""

    def get_static_links(self: Any) -> set[str]:
        fields = self.__dict__
        if "_content" in fields:  # read (or replaced) since: look again
            return super(type(self), self).get_static_links()
        return set(links[fields["source_path"]])

    return get_static_links


def _relative_paths(relative: Mapping[str, str]) -> Callable[..., str | None]:
    """Return get_relative_source_path for cached objects: the path found when built.

    Pelican asks every item for it on every build (os.path.relpath, a tenth of
    taking 5,000 objects back); the answer depends only on the source path and
    the PATH setting, which the global fingerprint covers.
    """

    def get_relative_source_path(self: Any, source_path: str | None = None) -> Any:
        if not source_path:
            known = relative.get(self.__dict__.get("source_path"))
            if known is not None:
                return known
        return super(type(self), self).get_relative_source_path(source_path)

    return get_relative_source_path


def _split(obj: Any) -> tuple[tuple, bytes | None]:
    """Return what is pickled of a content object, and its body apart (or None).

    With the body apart, the static files it links to (Pelican's
    get_static_links, asked of every item on every build) are kept too, and
    whether it holds a link within the site (see links_within_site).
    """
    fields = obj.__dict__
    body = fields.get("_content")
    settings = getattr(obj, "settings", None)
    if (
        type(body) is not str
        or not hasattr(obj, "get_static_links")
        or not isinstance(settings, Mapping)
        or "INTRASITE_LINK_REGEX" not in settings
    ):
        return (type(obj), fields, None), None
    state = {name: value for name, value in fields.items() if name != "_content"}
    pattern, first = _link_search(settings["INTRASITE_LINK_REGEX"])
    linked = _has_link(body, pattern, first)
    plain = all(
        _plain(_formatted(fields, key), pattern, first)
        for key in _formatted_fields(settings)
    )
    links = (frozenset(obj.get_static_links()), linked, plain)
    return (type(obj), state, links), body.encode("utf-8", "surrogatepass")


def _formatted_fields(settings: Mapping) -> Sequence[str]:
    """Return the fields whose links Pelican formats again before writing."""
    return settings.get("FORMATTED_FIELDS") or ()


def _formatted(fields: Mapping, key: str) -> Any:
    """Return the value of a formatted field Pelican's refresh formats (or _MISSING)."""
    if key == "summary" and "_summary" in fields:
        return fields["_summary"]
    return fields.get("metadata", {}).get(key, _MISSING)


def _plain(value: Any, pattern: re.Pattern, first: str) -> bool:
    """Return whether Pelican's link formatting leaves a value as it is (no link)."""
    return (
        value is _MISSING
        or not value
        or (type(value) is str and not _has_link(value, pattern, first))
    )


def _has_link(text: str, pattern: re.Pattern, first: str) -> bool:
    """Return whether a text holds the link pattern (first: what a match starts with)."""
    if first and not any(char in text for char in first):
        return False
    return pattern.search(text) is not None


def _refresh(plain: Mapping[str, dict[str, Any]]) -> Callable[[Any], None]:
    """Return refresh_metadata_intersite_links for cached objects.

    Pelican formats the links in every item's summary again on every build.
    When each formatted field still holds the very value it was built with, and
    that value held no link, formatting changes nothing: only Pelican's copies
    between the fields and the metadata are made.
    """

    def refresh_metadata_intersite_links(self: Any) -> None:
        fields = self.__dict__
        built = plain.get(fields.get("source_path"))
        for key, value in (built or {}).items():
            if _formatted(fields, key) is not value:
                built = None
                break
        if built is None:
            super(type(self), self).refresh_metadata_intersite_links()
            return
        formatted = _formatted_fields(self.settings)
        metadata = self.metadata
        for key in formatted:
            if key in metadata and key != "summary":
                setattr(self, key.lower(), metadata[key])
        if "summary" in formatted:
            if "_summary" in fields:
                metadata["summary"] = fields["_summary"]
            if "summary" in metadata:
                self._summary = metadata["summary"]

    return refresh_metadata_intersite_links


def links_within_site(item: Any) -> bool:
    """Return whether an item's text may hold a link Pelican resolves ({filename}…).

    Pelican replaces such links (INTRASITE_LINK_REGEX inside a quoted attribute)
    in the content and the formatted fields: without one, what an item shows of
    its own fields does not depend on any other file's URL. The search is wider
    than Pelican's (the bare pattern, anywhere in the content or any metadata).
    A cached body not read yet is not decoded: whether it holds the pattern
    was kept with it.
    """
    pattern, first = _link_search(item.settings["INTRASITE_LINK_REGEX"])
    fields = item.__dict__
    texts = [getattr(item, "_summary", None), *getattr(item, "metadata", {}).values()]
    body = type(item).__dict__.get("_content")
    if isinstance(body, _Body) and "_content" not in fields:
        if body.linked[fields["source_path"]]:
            return True
    else:
        texts.append(getattr(item, "_content", None))
    texts = [text for text in texts if isinstance(text, str)]
    if first:  # one scan of every text for the characters a match starts with
        joined = "\0".join(texts)
        if not any(char in joined for char in first):
            return False
    return any(pattern.search(text) for text in texts)


@functools.lru_cache(maxsize=4)
def _link_search(regex: str) -> tuple[re.Pattern, str]:
    """Return the compiled link pattern and the characters any match starts with.

    Every match of Pelican's own pattern starts with "{" or "|": an item whose
    texts hold neither is passed over without the regular expression (5,000
    items' texts are searched when an addition changes the site's URLs). For
    another pattern the characters are not known ("").
    """
    default = regex == DEFAULT_CONFIG["INTRASITE_LINK_REGEX"]
    return _link_pattern(regex), "{|" if default else ""


@functools.lru_cache(maxsize=4)
def _link_pattern(regex: str) -> re.Pattern:
    """Compile INTRASITE_LINK_REGEX as Pelican does (verbose)."""
    return re.compile(regex, re.X)


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
        self.new: set[str] = set()  # files whose row this build wrote
        # Their rows, written once every page is written (stage) and committed
        # when the build ends: until then no write holds a lock a reader waits
        # for, and every process reads the bodies it needs (see _Bodies).
        self.rows: list[tuple[str, bytes, bytes, bytes | None]] = []
        # What `stage` wrote in the open transaction (see changes), if it ran.
        self.staged: tuple[list, list, list, list] | None = None
        self.used: set[str] = set()
        self.live: dict[str, Any] = {}
        self.read: list[str] = []  # files built from their bytes in this build
        self.wrappers: dict[tuple, URLWrapper] = {}
        self.references: dict[tuple, _References] = {}
        # Each live object's fields as built (names, values), to tell them from
        # fields plugins set later; names are shared, with their positions.
        self.snapshots: dict[str, tuple[dict[str, int], tuple]] = {}
        self.layouts: dict[tuple, dict[str, int]] = {}
        # The pickles, fetched with the index in one query (one query per file
        # cost 0.1 s at 5,000 items); each is dropped once used.
        self.blobs: dict[str, bytes] = {}
        # The bodies of the cached objects (UTF-8), fetched when first read,
        # and the class each cached object gets: its own, reading them.
        self.bodies = _Bodies(os.path.abspath(path))
        self.links: dict[str, frozenset] = {}  # their static links (see _split)
        self.linked: dict[str, bool] = {}  # whether they hold a link (see _split)
        self.relative: dict[str, str] = {}  # their relative source paths, as built
        # Their formatted fields as built, when none held a link (see _refresh).
        self.plain: dict[str, dict[str, Any]] = {}
        self.classes: dict[type, type] = {}
        self.terms: _Terms | None = None
        # The tuples of field names pickles refer to (see _Names), by id and
        # back; those this build added, saved with its rows.
        self.names: dict[tuple, tuple] = {}
        self.name_ids: dict[tuple, int] = {}
        self.new_names: list[tuple[int, str]] = []
        self.index: dict[str, tuple] = self._index()

    def _index(self) -> dict[str, tuple]:
        """Return (hash, url, save_as) of every cached file, by path; take the pickles.

        One query for the index, the pickles and which rows hold a body, one
        for the table of field names (each a JSON list of strings, checked).
        """
        if self.db is None:
            return {}
        index: dict[str, tuple] = {}
        try:
            for ident, text in self.db.execute("SELECT id, names FROM names"):
                loaded = json.loads(text)
                if type(loaded) is not list or set(map(type, loaded)) - {str}:
                    raise ValueError(f"names {ident}: not a list of names")
                names = tuple(loaded)
                self.names[("names", ident)], self.name_ids[names] = names, ident
            for path, digest, url, save_as, data, body in self.db.execute(
                "SELECT path, hash, url, save_as, data, body IS NOT NULL FROM contents"
            ):
                index[path] = (digest, url, save_as)
                self.blobs[path] = data
                if body:
                    self.bodies.hashes[path] = digest
        except (sqlite3.Error, ValueError, TypeError) as error:
            log.debug("%s: content cache not loaded: %r", PREFIX, error)
            self.db.close()
            self.db = _open(self.path, fresh=True)
            self.names, self.name_ids, self.blobs = {}, {}, {}
            self.bodies.hashes.clear()
            return {}
        return index

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
            data = self.blobs.pop(path)
            references = self._references(generator.settings, generator.context)
            packed = _unpickler(io.BytesIO(data), references).load()
            kind, names, values, inner, links = packed
            state = _unpacked(names, values, inner)
            if path in self.bodies and links is not None:
                kind = self._lazy(kind)
                self.links[path], self.linked[path], plain = links
                self._note_relative(generator.settings, state)
                if plain:
                    self.plain[path] = {
                        key: _formatted(state, key)
                        for key in _formatted_fields(generator.settings)
                    }
            obj = _restore(kind, state)
        except Exception as error:  # an entry that no longer loads is read again
            log.debug("%s: cached %s not loaded: %r", PREFIX, path, error)
            return default
        for name, value in zip(PINNED, row[1:], strict=True):
            if value is not None:
                setattr(obj, name, value)
        self.live[path] = obj
        self._snapshot(path, obj)
        return obj

    def _references(self, settings: Mapping, context: Mapping) -> _References:
        """Return what pickles refer to in these settings and context (made once)."""
        key = (id(settings), id(context))
        references = self.references.get(key)
        if (
            references is None
            or references[("settings",)] is not settings
            or references[("context",)] is not context
        ):
            references = self.references[key] = _References(
                settings, context, self._terms(settings), self.wrappers
            )
            references.update(self.names)
        return references

    def _terms(self, settings: Mapping) -> _Terms:
        """Return the vocabularies' terms, found once per build."""
        if self.terms is None:
            self.terms = _Terms(settings)
        return self.terms

    def _name_id(self, names: tuple) -> int:
        """Return the id of a tuple of field names, adding it to the table when new."""
        ident = self.name_ids.get(names)
        if ident is None:
            ident = len(self.name_ids)
            while ("names", ident) in self.names:
                ident += 1
            self.names[("names", ident)], self.name_ids[names] = tuple(names), ident
            self.new_names.append((ident, json.dumps(list(names))))
        return ident

    def _note_relative(self, settings: Mapping, state: Mapping) -> None:
        """Keep the relative source path a cached object was built with."""
        source = state.get("source_path")
        relative = state.get("relative_source_path")
        if (
            isinstance(source, str)
            and isinstance(relative, str)
            and os.path.isabs(source)
            and os.path.isabs(settings["PATH"])
        ):
            self.relative[source] = relative

    def _lazy(self, kind: type) -> type:
        """Return the class of a cached object: its own, with the body read when asked.

        Same name, module and behaviour (Pelican forms a URL setting's name from
        the class name; get_static_links gives the links found when the object
        was built until the body is read); a copy or a pickle of it is an
        object of that class with the body among its fields.
        """
        lazy = self.classes.get(kind)
        if lazy is None:
            lazy = self.classes[kind] = type(
                kind.__name__,
                (kind,),
                {
                    "__module__": kind.__module__,
                    "__qualname__": kind.__qualname__,
                    "__doc__": kind.__doc__,
                    "_content": _Body(self.bodies, self.linked),
                    "get_static_links": _static_links(self.links),
                    "get_relative_source_path": _relative_paths(self.relative),
                    "refresh_metadata_intersite_links": _refresh(self.plain),
                    "__reduce_ex__": _reducer(kind),
                },
            )
        return lazy

    def put(self, generator, path: str, obj: Any) -> None:
        """Keep an object Pelican just built and accepted (committed when the build ends)."""
        self.used.add(path)
        self.read.append(path)
        self._snapshot(path, obj)
        if self.db is None:
            return
        handle = io.BytesIO()
        try:
            pickled, body = _split(obj)
            _Pickler(
                handle,
                generator.settings,
                generator.context,
                self._terms(generator.settings),
                self._name_id,
            ).dump(_packed(*pickled))
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            log.debug("%s: %s not cached: %r", PREFIX, path, error)
            return
        self.rows.append((path, self.hash_of(path), handle.getvalue(), body))
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

    def changes(self) -> tuple[list, list, list, list]:
        """Return the statements' values that save this build: names, rows, pins, stale."""
        pinned = []
        for path, obj in self.live.items():
            urls = [obj.__dict__.get(name) for name in PINNED]
            if path in self.new or list(self.index[path][1:]) != urls:
                pinned.append((*urls, path))
        stale = [(path,) for path in self.index.keys() - self.used]
        return list(self.new_names), list(self.rows), pinned, stale

    def _staged_as(self, changes: tuple[list, list, list, list]) -> bool:
        """Tell whether `stage` wrote these very changes (stale files in any order)."""
        staged = self.staged
        return (
            staged is not None
            and changes[:3] == staged[:3]
            and set(changes[3]) == set(staged[3])
        )

    def _execute(self, changes: tuple[list, list, list, list]) -> None:
        """Run the statements that save this build (in the open transaction)."""
        names, rows, pinned, stale = changes
        self.db.executemany("INSERT INTO names VALUES (?, ?)", names)
        self.db.executemany(
            "INSERT OR REPLACE INTO contents VALUES (?, ?, ?, NULL, NULL, ?)", rows
        )
        self.db.executemany(
            "UPDATE contents SET url = ?, save_as = ? WHERE path = ?", pinned
        )
        self.db.executemany("DELETE FROM contents WHERE path = ?", stale)

    def stage(self) -> None:
        """Write this build's rows now, in a transaction that only `save` commits.

        Done once reading is over (plugins/incremental stages it once every page
        is written, beside the search index and compression): `save` then only
        commits, when nothing it would write changed since (else it writes all
        again), and `discard` (a failed build) leaves the file as it was. While
        a cached object may still read its body from the file (_Bodies), dirty
        pages stay in memory (no cache spill): until the commit, the file holds
        no lock that reader would wait for. Without one (a full build: 37 MB
        of rows and bodies at 5,000 items), they are written to the file now.
        """
        if self.db is None or self.staged is not None:
            return
        changes = self.changes()
        try:
            spill = "OFF" if self.bodies.hashes else "ON"
            self.db.execute(f"PRAGMA cache_spill = {spill}")
            self._execute(changes)
        except sqlite3.Error as error:
            log.debug("%s: content cache not staged: %r", PREFIX, error)
            self.db.rollback()
            return
        self.staged = changes

    def save(self) -> None:
        """Pin URLs that changed, forget deleted files, and commit."""
        self.blobs = {}  # the bodies stay: a cached object reads its own when asked
        if self.db is None:
            return
        changes = self.changes()
        try:
            with self.db:
                if not self._staged_as(changes):
                    if self.staged is not None:
                        self.db.rollback()
                    self._execute(changes)
        except sqlite3.Error as error:
            log.warning("%s: không lưu được bộ nhớ đệm nội dung: %s", PREFIX, error)
        finally:
            self.db.close()
            self.db, self.staged = None, None

    def discard(self) -> None:
        """Close the file without saving this build (a failed build): as it was."""
        if self.db is None:
            return
        try:
            self.db.rollback()
        finally:
            self.db.close()
            self.db, self.staged = None, None


SCHEMA = """
CREATE TABLE IF NOT EXISTS contents (
    path TEXT PRIMARY KEY,  -- absolute path of the source file
    hash BLOB NOT NULL,     -- SHA-256 of its bytes
    data BLOB NOT NULL,     -- the pickled content object
    url TEXT,               -- pinned url and save_as, when the build pinned them
    save_as TEXT,
    body BLOB               -- its `_content` (UTF-8), NULL when kept in data
);
CREATE TABLE IF NOT EXISTS names (
    id INTEGER PRIMARY KEY, -- what pickles refer to (see _Names)
    names TEXT NOT NULL     -- a JSON list of field names
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
                db.execute("DROP TABLE IF EXISTS names")
                db.execute(f"PRAGMA user_version = {FORMAT}")
            db.executescript(SCHEMA)
            return db
        except sqlite3.Error as error:
            log.debug("%s: content cache %s unusable: %r", PREFIX, path, error)
    log.warning("%s: không mở được bộ nhớ đệm nội dung %s", PREFIX, path)
    return None


def _nothing() -> None:
    """Do nothing."""
