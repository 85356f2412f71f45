"""incremental: render and write only the output files whose inputs changed.

Every page goes through Pelican's Writer. Our writer records, for each output
file, what its template read (see tracking.py) and keeps it in a manifest
beside the content cache. On the next build a page whose recorded reads replay
to the same values is neither rendered nor written. Files are only rewritten
when their bytes change, files of deleted items are removed, and anything the
records cannot see (Pelican and package versions, our code, the theme, the
settings, declared data files) is hashed as a whole: a change there means a
full build. So does `--ignore-cache` (`make html FULL=1`) and a damaged,
missing or foreign manifest.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import gc
import hashlib
import io
import itertools
import json
import logging
import marshal
import operator
import os
import re
import sys
import time
import types
import urllib.parse
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from blinker import signal as named_signal
from jinja2 import FileSystemBytecodeCache
from jinja2.runtime import Context
from pelican import __version__ as pelican_version
from pelican import signals
from pelican.generators import CachingGenerator
from pelican.log import console
from pelican.utils import (
    get_relative_path,
    path_to_url,
    posixize_path,
    sanitised_join,
)
from pelican.writers import FileOverwriteFailedError, Writer

from portal import finishing, identity, jinja, outputs
from portal.files import (
    Listing,
    Share,
    file_sha256,
    forget_sha256,
    list_tree,
    walk,
    write_atomic,
)
from portal.options import merge_options
from portal.paths import under
from portal.stamps import vouches

from . import pelican_private, record, speedups
from .contentcache import ContentCache, links_within_site
from .tracking import (
    ITEM,
    RESOLVERS,
    Nodes,
    Recorder,
    Replayer,
    Shared,
    TrackingContext,
    partial_once,
    record_input,
    track,
    type_decides,
)

__all__ = [
    "IncrementalWriter",
    "build_date",
    "declare_output",
    "declare_tree",
    "get_options",
    "is_full_build",
    "pages_kept",
    "read_input",
    "register",
    "register_input",
    "remember",
    "remembered",
    "uses_build_date",
]

log = logging.getLogger(__name__)
PREFIX = "incremental"
SETTING = "INCREMENTAL"
FORMAT = 9  # 9: item signatures of 1,024 bits
# The Pelican versions the plugin is tested with; any other means a full build
# from an empty folder with Pelican's own writer (see pelican_private.py).
TESTED_PELICAN = ("4.12",)
# Environment variables the build reads (plugins, settings files): inputs.
# (BUILD_DATE is not one: it counts only when the output depends on the date.)
ENVIRONMENT = ("COUNTER_URL", "SITEURL", "SERVER_FILES_PATH", "TZ")
CONTENT_CACHE = "incremental-contents.sqlite"
# The manifest: this line, then the data in marshal (plain types only; at 5,000
# items 2 × faster to load and 3 × faster to save than JSON was; the record
# 1.5 × faster to load and 3 × faster to save than pickle was, 6/12/2026).
MANIFEST_MAGIC = b"dvk-incremental-manifest marshal crc32\n"
MARSHAL_VERSION = 4  # marshal's own format (Python 3.4 on), named to stay fixed
# The manifest's parts, each in a file of its own (see write_manifest): what
# "nothing changed" needs is in the head (small) and the record (read by the
# output check); the pages and the rest only a build reads, and a build writes
# again only the parts that changed (the record, and the pages after an edit).
# "rest" before "pages": a page's roots are checked against the nodes.
PARTS: Mapping[str, tuple[str, ...]] = {
    "record": ("record", "outside", "folders"),
    "rest": ("nodes", "files", "late"),
    "pages": ("pages", "extra", "urls"),
}
PART_OF = {key: part for part, keys in PARTS.items() for key in keys}
HEAD = ("global", "output", "parts", "counts", "inputs", "snapshot_ns")
HEAD += ("untracked", "record_ns", "date")
# How many processes check the output folder against its record before a
# build, each its share (portal.files.list_tree): 32,500 files at 5,000 items.
CHECKS = 2
# The garbage collector's thresholds during a build. With Python's (700, 10, 10)
# a rebuild at 5,000 items spent 1.2 s of 7.5 in 750 collections, five of them
# walking the whole heap of content objects and records; a build makes few
# reference cycles, so collecting far less often costs little memory (measured
# in docs/BENCHMARKS.md). The heap read before writing is frozen (left out of
# collections) until the run ends, and after it: Python's exit then does not
# walk it again (1 s at 5,000 items); the next run in the same process
# (`pelican -r`) unfreezes it first, so nothing is kept for good.
GC_THRESHOLDS = (100_000, 50, 100)
_collector_paused = False  # see pause_collector
DEFAULTS: Mapping[str, Any] = {
    "enabled": True,
    "manifest": None,  # default: <CACHE_PATH>/incremental.pickle
    "report": None,  # default: <CACHE_PATH>/incremental-report.json
    "global_inputs": [],  # files or folders whose change means a full build
    "environment": list(ENVIRONMENT),  # environment variables that are inputs
}
# Settings that change between runs without changing any page.
# (RENDERPOOL: how many processes write the pages; the pages are the same.)
VOLATILE_SETTINGS = frozenset(
    {"LOAD_CONTENT_CACHE", SETTING, "WRITE_SELECTED", "RENDERPOOL"}
)

# Prefixes of the keys (Build.extra) of a page's signature of the content files
# it read and of an item's metadata digest (see Build.quiet_mask).
DEPS = "deps:"
METADATA = "metadata:"
# Prefixes of the keys (Build.extra) of the named lists a page read (their keys,
# comma-separated), of the digest of its quick reads, and of each named list's
# digest (see Build.keep_listed).
LISTS = "lists:"
QUICK = "quick:"
LIST = "list:"
# Prefix of the keys (Build.extra) of what each feed showed (see feed_key), and
# of its head and items by source path (see feed_shape, Build.listed_feed_key).
FEED_KEY = "feed:"
FEED_SHAPE = "feedshape:"
# Prefix of the keys (Build.extra) of an item's text in feeds (see Build.feed_texts).
FEED_TEXTS = "feedtexts:"
# Sent once a build's pages are written (before the finishing steps), with the
# output folder and `pages`: every page left as it is, relative to it in URL
# form (content_written is sent for the pages written).
pages_kept = named_signal("incremental_pages_kept")


class OptionsError(ValueError):
    """The INCREMENTAL setting is wrong."""


def get_options(settings: Mapping) -> dict[str, Any]:
    """Merge the INCREMENTAL setting with the defaults and check it once."""
    options = merge_options(settings, SETTING, DEFAULTS, PREFIX, OptionsError)
    if not isinstance(options["global_inputs"], list | tuple):
        raise OptionsError(f"{PREFIX}: global_inputs must be a list of paths")
    if not isinstance(options["environment"], list | tuple):
        raise OptionsError(f"{PREFIX}: environment must be a list of names")
    cache = settings.get("CACHE_PATH", "cache")
    options["manifest"] = options["manifest"] or os.path.join(
        cache, "incremental.pickle"
    )
    options["report"] = options["report"] or os.path.join(
        cache, "incremental-report.json"
    )
    return options


# --------------------------------------------------------------------------
# The global fingerprint: everything the per-page records cannot see.


def stable_repr(obj: Any, depth: int = 0) -> str:
    """Return a repr that does not change between runs (no memory addresses)."""
    if depth > 12:
        return "…"
    if isinstance(obj, Mapping):
        items = sorted(
            f"{stable_repr(k, depth + 1)}:{stable_repr(v, depth + 1)}"
            for k, v in obj.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ",".join(stable_repr(v, depth + 1) for v in obj) + "]"
    if isinstance(obj, set | frozenset):
        return "{" + ",".join(sorted(stable_repr(v, depth + 1) for v in obj)) + "}"
    if isinstance(obj, types.FunctionType):
        return code_repr(obj, depth)
    if isinstance(obj, types.ModuleType):
        return f"<module {obj.__name__}>"
    if isinstance(obj, type):
        return f"<class {obj.__module__}.{obj.__qualname__}>"
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(obj))


def code_repr(func: types.FunctionType, depth: int = 0) -> str:
    """Return a description of a function that changes when its code does."""
    parts = [func.__module__ or "", func.__qualname__, _code_text(func.__code__)]
    parts.append(stable_repr(func.__defaults__, depth + 1))
    for cell in func.__closure__ or ():
        try:
            parts.append(stable_repr(cell.cell_contents, depth + 1))
        except ValueError:
            parts.append("<empty cell>")
    return "<function " + "|".join(parts) + ">"


def _code_text(code: types.CodeType) -> str:
    """Return the bytecode, constants and names of a code object as text."""
    consts = [
        _code_text(c) if isinstance(c, types.CodeType) else repr(c)
        for c in code.co_consts
    ]
    return f"{code.co_code.hex()}|{consts}|{code.co_names}"


def _files_under(path: str) -> list[str]:
    """Return every file under a path (itself if it is a file), sorted."""
    if os.path.isfile(path):
        return [path]
    found = []
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found.extend(os.path.join(folder, name) for name in sorted(files))
    return found


def _stats_under(folder: str) -> list[tuple[str, os.stat_result]]:
    """Return (relative path, stat) of every file _files_under lists, in its order.

    One `os.scandir` per folder, read through the folder's descriptor: each stat
    looks up a name in its folder (`fstatat`), not the whole path again (6,500
    content files: 27 -> 19 ms of system calls, no `os.walk` lists, no joins).
    Links are followed as `os.stat` follows them; a link to a folder is neither
    listed nor entered, nor is `__pycache__`, as in `os.walk`.
    """
    found: list[tuple[str, os.stat_result]] = []
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        with contextlib.suppress(OSError):
            if os.path.isfile(folder):
                found.append(("", os.stat(folder)))
        return found
    _stats_in(fd, "", found)
    return found


def _stats_in(fd: int, prefix: str, found: list[tuple[str, os.stat_result]]) -> None:
    """Add the stat of each file in an open folder, then of its sub-folders' files."""
    try:
        with os.scandir(fd) as listing:
            entries = sorted(listing, key=operator.attrgetter("name"))
        folders = []
        for entry in entries:
            try:
                is_folder = entry.is_dir()
            except OSError:
                is_folder = False
            if is_folder:
                if entry.name != "__pycache__" and not entry.is_symlink():
                    folders.append(entry.name)
                continue
            try:
                found.append((prefix + entry.name, entry.stat()))
            except OSError:
                continue
        for name in folders:
            try:
                inner = os.open(
                    name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd
                )
            except OSError:
                continue
            _stats_in(inner, prefix + name + os.sep, found)
    finally:
        os.close(fd)


def _code_files(settings: Mapping) -> list[str]:
    """Return our Python files: plugin folders and modules outside the environment."""
    installed = tuple(
        os.path.realpath(p) + os.sep
        for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}
    )
    files = set()
    for folder in settings.get("PLUGIN_PATHS") or []:
        files.update(
            f for f in _files_under(str(folder)) if f.endswith((".py", ".html"))
        )
    folders: dict[str, str] = {}
    for name, module in list(sys.modules.items()):
        if name == "__main__":  # the command that runs the build, not an input
            continue
        path = getattr(module, "__file__", None)
        if not path or not path.endswith(".py"):
            continue
        real = real_path(path, folders)
        if not real.startswith(installed) and os.path.isfile(real):
            files.add(real)
    return sorted(files)


def real_path(path: str, folders: dict[str, str]) -> str:
    """Return os.path.realpath(path), resolving each folder once (folders: the memo).

    A file's real path is its folder's, joined with its name unless the file
    is a link: one `lstat` per module instead of one per part of its path
    (some 1,000 modules, each checked on every build).
    """
    folder, name = os.path.split(path)
    if not name or name in (os.curdir, os.pardir) or os.path.islink(path):
        return os.path.realpath(path)
    real = folders.get(folder)
    if real is None:
        real = folders[folder] = os.path.realpath(folder or os.curdir)
    return os.path.join(real, name)


def installed_packages(paths: Iterable[str] | None = None) -> list[str]:
    """Return the installed packages as their metadata folders name them, sorted.

    A wheel's `name-version.dist-info` (or an egg's `.egg-info`) folder names
    the version: one listing per folder of `sys.path` instead of reading every
    package's metadata (147 `importlib.metadata` calls, 0.2 s). A set: the same
    package seen twice on sys.path counts once.
    """
    found: set[str] = set()
    for folder in sys.path if paths is None else paths:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        found.update(n for n in names if n.endswith((".dist-info", ".egg-info")))
    return sorted(found)


def global_fingerprint(settings: Mapping, options: Mapping) -> str:
    """Hash what a page's records cannot see: a change means a full build."""
    h = hashlib.blake2b(digest_size=16)

    def add(label: str, data: bytes) -> None:
        h.update(f"{label}\0{len(data)}\0".encode())
        h.update(data)

    add("format", str(FORMAT).encode())
    add("python", sys.version.encode())
    add("pelican", pelican_version.encode())
    add("packages", "\n".join(installed_packages()).encode())
    kept = {k: v for k, v in settings.items() if k not in VOLATILE_SETTINGS}
    add("settings", stable_repr(kept).encode("utf-8", "surrogatepass"))
    add("options", stable_repr(options).encode())
    for name in sorted(set(options["environment"])):
        add("environ:" + name, repr(os.environ.get(name)).encode())
    for path in _code_files(settings):
        add("code:" + path, _read(path))
    theme = settings.get("THEME")
    if theme:
        for path in _files_under(str(theme)):
            add("theme:" + os.path.relpath(path, theme), _read(path))
    for given in options["global_inputs"]:
        for path in _files_under(str(given)):
            add("input:" + path, _read(path))
    return h.hexdigest()


def _read(path: str) -> bytes:
    """Return the bytes of a file, or a marker when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        return f"<unreadable {type(error).__name__}>".encode()


# --------------------------------------------------------------------------
# The state of one build.


def _indices_below(values: Sequence, end: int) -> bool:
    """Return whether every value is an int from 0 to end - 1 (checked in C)."""
    return not values or (
        set(map(type, values)) == {int} and min(values) >= 0 and max(values) < end
    )


def _nodes(data: Any) -> list[tuple[tuple, tuple[int, ...]]]:
    """Return loaded read-tree nodes (step, child ids), each child before its parent.

    Checked in C, a column at a time (7,200 nodes at 5,000 items: a call per
    node was a tenth of loading the manifest's parts).
    """
    if type(data) is not list:
        raise ValueError("bad nodes")
    if not data:
        return []
    if set(map(type, data)) - {list, tuple} or set(map(len, data)) != {2}:
        raise ValueError("bad node")
    steps, kids = zip(*data, strict=True)
    steps, kids = list(map(tuple, steps)), list(map(tuple, kids))
    if not all(steps):
        raise ValueError("bad node")
    if not _indices_below(list(itertools.chain.from_iterable(kids)), len(kids)):
        raise ValueError("bad node index")
    # Each node's children come before it: its highest child id is below its own.
    if not all(map(operator.lt, map(_highest, kids), range(len(kids)))):
        raise ValueError("bad node order")
    return list(zip(steps, kids, strict=True))


# The highest id of a node's children (-1 for none), called in C by map.
_highest = functools.partial(max, default=-1)


def _texts(data: Any) -> dict[str, str]:
    """Return a loaded table of strings ({str: str}), checked in C."""
    if type(data) is not dict or (
        data
        and (set(map(type, data)) != {str} or set(map(type, data.values())) != {str})
    ):
        raise ValueError("bad table of texts")
    return data


class Manifest:
    """What the previous build wrote and read (empty when unusable).

    Loaded a part at a time (see write_manifest): the head (fingerprint,
    content snapshot, counts) and the record decide "nothing changed"; the
    pages and the rest are loaded only for a build (load_parts).
    """

    def __init__(self) -> None:
        self.path = ""
        self.parts: dict[str, str] = {}  # part -> token of its file
        self.raw: dict[str, dict] = {}  # part -> its data as loaded (see saved)
        self.fingerprint = ""
        self.output = ""
        self.nodes: list[tuple[tuple, tuple[int, ...]]] = []
        self.pages: dict[str, list] = {}
        self.files: list[str] = []
        self.extra: dict[str, str] = {}
        self.inputs: dict[str, list] = {}
        self.snapshot_ns = 0
        self.untracked: list[str] = []
        self.urls = ""  # digest of every content and static file's URL
        self.record: dict[str, list] = {}  # every output file: size, time, hash
        self.record_ns = 0
        self.outside: dict[str, list] = {}  # files written outside the output
        self.folders: dict[str, int] = {}  # the output's folders' times, as recorded
        self.date = ""  # the build date, when the output depended on it
        self.late: set[str] = set()  # declared by post-processors (on finalized)
        self.counts = {"pages": 0, "files": 0}

    @classmethod
    def load(
        cls, path: str, parts: Iterable[str] = tuple(PARTS)
    ) -> tuple[Manifest, str | None]:
        """Load a manifest's head and parts; return it with why it is unusable, if so."""
        manifest = cls()
        manifest.path = path
        try:
            data = read_head(path)
        except FileNotFoundError:
            return manifest, "no manifest yet"
        except (OSError, ValueError) as error:
            return manifest, f"unreadable manifest ({type(error).__name__})"
        if data.get("format") != FORMAT:
            return manifest, "manifest of another version"
        reason = manifest._take(data, HEAD) or manifest.load_parts(parts)
        return (cls(), reason) if reason else (manifest, None)

    def load_parts(self, parts: Iterable[str] = tuple(PARTS)) -> str | None:
        """Load parts not loaded yet; return why the manifest is unusable, if so."""
        for part in parts:
            if part in self.raw:
                continue
            try:
                data = read_part(self.path, part, self.parts[part])
            except (OSError, KeyError, ValueError) as error:
                return f"damaged manifest ({part}: {type(error).__name__})"
            reason = self._take(data, PARTS[part])
            if reason:
                return reason
            self.raw[part] = data
        return None

    def _take(self, data: Mapping, keys: Iterable[str]) -> str | None:
        """Check and set the fields of one part; return why it is damaged, if so."""
        try:
            for key in keys:
                setattr(self, *_FIELDS[key](self, data[key]))
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            return f"damaged manifest ({error})"
        return None

    def saved(self, part: str, data: Mapping) -> str | None:
        """Return the token of a part loaded as it is in data (its file kept), if so."""
        loaded = self.raw.get(part)
        if loaded is None or any(data.get(k) != loaded[k] for k in PARTS[part]):
            return None
        return self.parts[part]


def _head_parts(data: Any) -> tuple[str, dict[str, str]]:
    """Return a head's part tokens, checked (one per part, plain names)."""
    if type(data) is not dict or data.keys() != PARTS.keys():
        raise ValueError("bad parts")
    if not all(
        type(t) is str and re.fullmatch(r"[0-9a-f-]+", t) for t in data.values()
    ):
        raise ValueError("bad part token")
    return "parts", data


def _counts(data: Any) -> tuple[str, dict[str, int]]:
    """Return a head's counts of pages and files, checked."""
    if type(data) is not dict or set(map(type, data.values())) - {int}:
        raise ValueError("bad counts")
    return "counts", {"pages": data["pages"], "files": data["files"]}


# How each field of a manifest is checked as it is loaded: field -> (attribute, value).
_FIELDS: dict[str, Callable[[Manifest, Any], tuple[str, Any]]] = {
    "global": lambda m, v: ("fingerprint", str(v)),
    "output": lambda m, v: ("output", str(v)),
    "parts": lambda m, v: _head_parts(v),
    "counts": lambda m, v: _counts(v),
    "inputs": lambda m, v: ("inputs", _entries(v)),
    "snapshot_ns": lambda m, v: ("snapshot_ns", int(v)),
    "untracked": lambda m, v: ("untracked", [str(f) for f in v]),
    "record_ns": lambda m, v: ("record_ns", int(v)),
    "date": lambda m, v: ("date", str(v)),
    "record": lambda m, v: ("record", _entries(v)),
    "outside": lambda m, v: ("outside", _entries(v)),
    "folders": lambda m, v: ("folders", _times(v)),
    "nodes": lambda m, v: ("nodes", _nodes(v)),
    "files": lambda m, v: ("files", _strings(v)),
    "extra": lambda m, v: ("extra", _texts(v)),
    "urls": lambda m, v: ("urls", str(v)),
    "late": lambda m, v: ("late", set(_strings(v))),
    # After "nodes" (PARTS["rest"] is loaded before PARTS["pages"]).
    "pages": lambda m, v: ("pages", _pages(v, len(m.nodes))),
}


def _read_plain(path: str) -> dict:
    """Return the data of one manifest file (ValueError when it is not one).

    marshal reads plain data only (dicts, lists, strings, numbers) and runs
    nothing; a code object it could make is refused by each field's check.
    """
    with open(path, "rb") as handle:
        raw = handle.read()
    if not raw.startswith(MANIFEST_MAGIC):
        raise ValueError("not a manifest")
    body = memoryview(raw)[len(MANIFEST_MAGIC) + 4 :]
    if raw[len(MANIFEST_MAGIC) : len(MANIFEST_MAGIC) + 4] != _crc(body):
        # Damaged bytes are refused before marshal reads them: a damaged length
        # can make marshal allocate and free gigabytes, and a damaged number
        # or index could pass every field's check.
        raise ValueError("damaged manifest: checksum")
    try:
        data = marshal.loads(body)
    except (EOFError, TypeError, OverflowError, MemoryError) as error:
        # What damaged bytes make marshal raise besides ValueError (found by
        # mutating a manifest): data cut short, a huge length.
        raise ValueError(f"damaged manifest: {error!r}") from None
    if not isinstance(data, dict):
        raise ValueError("not a manifest")
    return data


def part_path(path: str, part: str, token: str) -> str:
    """Return the file of one part of the manifest at path."""
    return f"{path}.{part}.{token}"


def read_head(path: str) -> dict:
    """Return the head of a manifest (ValueError when it is not one)."""
    return _read_plain(path)


def read_part(path: str, part: str, token: str) -> dict:
    """Return one part of a manifest (ValueError when it is not the one named)."""
    data = _read_plain(part_path(path, part, token))
    if data.get("part") != part or data.get("token") != token:
        raise ValueError(f"not the manifest's {part}")
    return data


def read_manifest(path: str) -> dict:
    """Return the whole data of a manifest, its parts merged into its head."""
    data = read_head(path)
    for part, token in data.pop("parts", {}).items():
        found = read_part(path, part, token)
        data.update((k, found[k]) for k in PARTS[part] if k in found)
    return data


def write_manifest(
    path: str, data: Mapping, kept: Mapping[str, str] | None = None
) -> None:
    """Write a manifest: each part in a file of its own, then the head naming them.

    The head is replaced last (atomically): until then the last manifest stands
    whole; a part's file is named by a token the head holds, and holds it too,
    so a head is never read with another build's part. A part in `kept` (part
    -> token, Manifest.saved) is as the last build wrote it: its file stays.
    Part files no head names any more are removed.
    """
    kept = kept or {}
    token = part_token()
    head = {k: v for k, v in data.items() if k not in PART_OF}
    head["counts"] = {k: len(data.get(k, ())) for k in ("pages", "files")}
    head["parts"] = {}
    for part in PARTS:
        if part in kept:
            head["parts"][part] = kept[part]
            continue
        write_part(path, part, data, token)
        head["parts"][part] = token
    _write_plain(path, head)
    _drop_parts(path, {part_path(path, *named) for named in head["parts"].items()})


def part_token() -> str:
    """Return a new token naming part files (time and process: never another's)."""
    return f"{time.time_ns():x}-{os.getpid():x}"


def write_part(path: str, part: str, data: Mapping, token: str) -> None:
    """Write one part of the manifest at path into its own file, named by token.

    Until a head names it, the file is no part of any manifest (write_manifest
    drops it with the other part files no head names).
    """
    body = {k: data[k] for k in PARTS[part] if k in data}
    body.update(part=part, token=token)
    _write_plain(part_path(path, part, token), body)


def _write_plain(path: str, data: Mapping) -> None:
    """Write one manifest file atomically (magic line, CRC-32, plain data in marshal)."""
    body = marshal.dumps(dict(data), MARSHAL_VERSION)
    write_atomic(path, MANIFEST_MAGIC + _crc(body) + body)


def _crc(body: bytes | memoryview) -> bytes:
    """Return the CRC-32 of a manifest file's data, as its four stored bytes."""
    return zlib.crc32(body).to_bytes(4, "big")


def _drop_parts(path: str, named: set[str]) -> None:
    """Remove the part files of the manifest at path that are not in named."""
    folder, name = os.path.split(path)
    pattern = re.compile(re.escape(name) + r"\.(" + "|".join(PARTS) + r")\.[0-9a-f-]+")
    for entry in os.scandir(folder or "."):
        if pattern.fullmatch(entry.name) and entry.path not in named:
            with contextlib.suppress(FileNotFoundError):
                os.remove(entry.path)


def _columns(data: Any, width: int, what: str) -> tuple[tuple, ...]:
    """Check a loaded table {str: list of `width` values}; return its columns.

    Checked in C, a column at a time, not an entry at a time (32,500 record
    entries and 6,580 pages at 5,000 items). An empty table has no columns.
    """
    if type(data) is not dict:
        raise ValueError(f"bad {what}")
    values = list(data.values())
    if values and (
        set(map(type, data)) != {str}
        or set(map(type, values)) != {list}
        or set(map(len, values)) != {width}
    ):
        raise ValueError(f"bad {what} entry")
    return tuple(zip(*values, strict=True))


def _entries(data: Any) -> dict[str, list]:
    """Return loaded record entries {path: [size, mtime_ns, sha]}, checked in C."""
    columns = _columns(data, 3, "record")
    if columns:
        sizes, mtimes, shas = columns
        if (
            set(map(type, sizes)) != {int}
            or set(map(type, mtimes)) != {int}
            or set(map(type, shas)) != {str}
        ):
            raise ValueError("bad record entry")
    return data


def _times(data: Any) -> dict[str, int]:
    """Return a table of folder times ({str: int}), checked."""
    if type(data) is not dict or not all(type(k) is str for k in data):
        raise ValueError("bad folder times")
    if set(map(type, data.values())) - {int}:
        raise ValueError("bad folder times")
    return data


def _strings(data: Any) -> list[str]:
    """Return a loaded list of strings, checked in C."""
    if type(data) is not list or (data and set(map(type, data)) != {str}):
        raise ValueError("bad list of names")
    return data


def _pages(data: Any, count: int) -> dict[str, list]:
    """Return loaded page entries {path: [template, roots, digest, own seal]}.

    Checked in C: every root a node index below `count`.
    """
    columns = _columns(data, 4, "page")
    if columns:
        templates, roots, digests, seals = columns
        if (
            set(map(type, templates)) != {str}
            or set(map(type, digests)) != {str}
            or not set(map(type, seals)) <= {str, type(None)}
            or set(map(type, roots)) != {list}
        ):
            raise ValueError("bad page entry")
        if not _indices_below(list(itertools.chain.from_iterable(roots)), count):
            raise ValueError("bad node index")
    return data


def build_date(settings: Mapping) -> str:
    """Return the build date (portal.identity.build_date: BUILD_DATE, else today)."""
    return identity.build_date().isoformat()


def depends_on_date(settings: Mapping) -> bool:
    """Return whether the settings alone make the output depend on the date."""
    return not settings.get("WITH_FUTURE_DATES", True)


def pelican_unsupported() -> str | None:
    """Return why this Pelican cannot be trusted for incremental builds, if so."""
    if not any(
        pelican_version == v or pelican_version.startswith(v + ".")
        for v in TESTED_PELICAN
    ):
        return (
            f"Pelican {pelican_version} is outside the tested range "
            f"({', '.join(v + '.x' for v in TESTED_PELICAN)})"
        )
    missing = pelican_private.missing()
    if missing:
        return "Pelican lacks " + ", ".join(missing)
    return None


def snapshot_inputs(folder: str, old: Manifest) -> tuple[dict[str, list], int]:
    """Return [size, mtime, SHA-256] of every file under the content folder.

    The hash is the key; size and time only spare hashing a file again when
    both match the last build's snapshot and the file is not newer than it.
    """
    started = time.time_ns()
    found: dict[str, list] = {}
    for rel, stat in _stats_under(folder):
        before = old.inputs.get(rel)
        if before is not None and vouches(before[0], before[1], stat, old.snapshot_ns):
            found[rel] = before
        else:
            path = os.path.join(folder, rel) if rel else folder
            found[rel] = [stat.st_size, stat.st_mtime_ns, _file_hash(path).hex()]
    return found, started


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the garbage collector while plain data is loaded (it makes no cycles).

    Loading the manifest creates some 100,000 lists and tuples: with Python's
    thresholds the collector ran over them many times (half of the load's time).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class State:
    """What decides how a build runs: full, incremental, or nothing to do."""

    def __init__(self, settings: Mapping, output_path: str, options: Mapping) -> None:
        with collector_paused():
            self._look(settings, output_path, options)
            # What was loaded is plain data, kept to the end of the run: out of
            # the young generations, or the collector walks it as the run goes
            # on (0.05 s at 5,000 items, "nothing changed" included). The run
            # unfreezes it (see wrap_run).
            gc.freeze()

    def _look(self, settings: Mapping, output_path: str, options: Mapping) -> None:
        """Load the last manifest, snapshot the content, check the output folder."""
        self.output_path = os.path.realpath(output_path)
        self.content = os.path.abspath(settings["PATH"])
        # The manifest's head and record only: "nothing changed" needs no more.
        self.old, reason = Manifest.load(options["manifest"], ("record",))
        if reason is None and self.old.output != self.output_path:
            reason = "manifest of another output folder"
        # The record vouches for the output folder only when it is this folder's.
        self.trusted = reason is None
        # The output is compared with its record by two forked processes, each
        # walking its share of the folder, while this one takes the fingerprint
        # and the content's snapshot (and, for a build, loads the rest of the
        # manifest and reads the content).
        self.pending: list[record.BackgroundCheck] = []
        if self.trusted:
            self.pending = [
                record.BackgroundCheck(
                    functools.partial(
                        check_share,
                        self.output_path,
                        self.old.record,
                        self.old.outside,
                        self.old.record_ns,
                        (index, CHECKS),
                        self.old.folders,
                    )
                )
                for index in range(CHECKS)
            ]
        self.check: record.Check | None = None
        self.fingerprint = global_fingerprint(settings, options)
        self.today = build_date(settings)
        self.unsupported = pelican_unsupported()
        if self.unsupported:
            log.warning(
                "%s: %s: full build from an empty folder", PREFIX, self.unsupported
            )
            reason = reason or self.unsupported
            self.trusted = False
        if reason is None and self.old.fingerprint != self.fingerprint:
            reason = "settings, environment, code, theme or data changed"
        if reason is None and self.old.date and self.old.date != self.today:
            reason = f"the build date changed ({self.old.date} → {self.today})"
        if reason is None and not settings.get("LOAD_CONTENT_CACHE", True):
            reason = "full build asked for (--ignore-cache / FULL=1)"
        if reason is None and settings.get("DELETE_OUTPUT_DIRECTORY"):
            reason = "DELETE_OUTPUT_DIRECTORY is on"
        self.full_reason = reason
        self.inputs, self.snapshot_ns = snapshot_inputs(self.content, self.old)
        if not self.trusted:
            self.old = Manifest()  # nothing of it is used
        elif not self.inputs_unchanged():
            self.load_rest()
        # "Nothing changed" waits for the check now; otherwise the content is
        # read meanwhile (clean_output waits for it). An untrusted folder is
        # emptied unchecked.
        if not self.trusted:
            self.close()
        elif self.inputs_unchanged():
            self.output_check()

    def load_rest(self) -> None:
        """Load the manifest's parts a build needs (a damaged one: a full build)."""
        if not self.trusted:
            return
        reason = self.old.load_parts()
        if reason is not None:
            self.old, self.trusted = Manifest(), False
            self.full_reason = self.full_reason or reason
            self.close()

    def inputs_unchanged(self) -> bool:
        """Return whether everything but the output folder is as at the last build.

        Same code, settings, environment and theme, the same bytes in every
        content file, and no page the records could not follow.
        """
        return (
            self.full_reason is None
            and self.inputs.keys() == self.old.inputs.keys()
            and all(self.inputs[k][2] == v[2] for k, v in self.old.inputs.items())
            and not self.old.untracked
        )

    def nothing_changed(self) -> bool:
        """Return whether the last build's output is exactly what a build would write.

        The inputs are unchanged and the output folder is exactly as the last
        build left it.
        """
        if self.inputs_unchanged() and self.output_check().clean:
            return True
        self.load_rest()
        return False

    def output_check(self) -> record.Check:
        """Return how the output folder differs from the record (waiting for it).

        The forked processes' answers count only when every share answered
        about the record this build loaded (the same `record_ns`); else the
        check runs here.
        """
        if self.check is None:
            answers = [check.result() for check in self.pending]
            if (
                self.trusted
                and answers
                and all(
                    isinstance(a, tuple) and a[0] == self.old.record_ns for a in answers
                )
            ):
                self.check = answers[0][1]
                for answer in answers[1:]:
                    self.check.merge(answer[1])
            else:
                self.close()
                self.check = record.check_output(*self.arguments())
        return self.check

    def arguments(self) -> tuple:
        """Return check_output's arguments for this folder and record."""
        return (
            self.output_path,
            self.old.record if self.trusted else {},
            self.old.outside if self.trusted else {},
            self.old.record_ns,
            None,
            self.old.folders if self.trusted else None,
        )

    def listing(self) -> Listing | None:
        """Return the walk the output check made (None when the folder was emptied)."""
        if self.check is None:
            return None
        if self.pending:
            pending, self.pending = self.pending, []
            shares = [check.rest() for check in pending]
            if all(isinstance(share, Listing) for share in shares):
                for share in shares[1:]:
                    shares[0].merge(share)
                self.check.listing = shares[0]
        return self.check.listing

    def close(self) -> None:
        """Stop the checks still running (the build ended without asking for them)."""
        for check in self.pending:
            check.stop()  # all at once: each process's end takes a few ms
        for check in self.pending:
            check.cancel()
        self.pending = []

    def clean_output(self, settings: Mapping) -> int:
        """Remove what the record does not vouch for; return how many files."""
        if not self.trusted:
            protected = [self.content, settings.get("THEME") or ""]
            protected += [str(p) for p in settings.get("PLUGIN_PATHS") or []]
            return record.wipe(self.output_path, [p for p in protected if p])
        check = self.output_check()
        stale = check.unknown + check.changed
        record.remove(self.output_path, stale)
        return len(stale)


def check_share(
    output_path: str,
    files: Mapping[str, list],
    outside: Mapping[str, list],
    taken_ns: int,
    share: Share,
    folders: dict[str, int] | None = None,
) -> tuple[tuple[int, record.Check], Listing | None]:
    """Compare one share of the output folder with its record (in a forked process).

    Returns the record's time (which tells one manifest from another) with the
    answer, then the walk of the folder: the build asks for the walk only when
    it goes on (a build with nothing changed does not wait for it).
    """
    check = record.check_output(output_path, files, outside, taken_ns, share, folders)
    listing, check.listing = check.listing, None
    return (taken_ns, check), listing


# States checked before Pelican's run, handed to the build (by settings id).
_checked: dict[int, State] = {}


class EarlyPages(NamedTuple):
    """The manifest's part of the pages as saved once every page was written.

    With what it was made from, to tell at the end whether it still holds:
    the page entries (each replaced, never changed in place), the node
    table's length (it only grows), the named lists and extra values.
    """

    nodes: list
    pages: dict[str, list]
    entries: dict[str, list]
    table: int
    named: frozenset[str]
    extra: dict[str, str]
    urls: str | None
    token: str
    written: bool  # its file written now (else the last build's, kept)


class Build:
    """Records of one run of Pelican: what was rendered, skipped and produced."""

    def __init__(self, settings: dict, output_path: str, options: Mapping) -> None:
        self.settings = settings
        self.output_path = os.path.realpath(output_path)
        self.options = options
        forget_sha256()  # what an earlier run in this process noted
        state = _checked.pop(id(settings), None) or State(
            settings, output_path, options
        )
        state.load_rest()
        self.fingerprint, self.old = state.fingerprint, state.old
        self.full_reason = state.full_reason
        self.today = state.today
        # Outside the tested Pelican: Pelican's own writer, no content cache.
        self.plain = state.unsupported is not None
        self.trusted = state.trusted
        self.inputs, self.snapshot_ns = state.inputs, state.snapshot_ns
        self.content_path = state.content
        self.content_prefix = os.path.join(state.content, "")  # see input_hash
        # The record of the last build is kept until this one succeeds; what it
        # does not vouch for goes once every file was read and checked, before
        # anything is written (clean_output): a build stopped by an editor's
        # error leaves the output folder as it was.
        self.state, self.cleaned = state, 0
        self.shared = Shared()
        self.nodes = Nodes(() if self.full_reason else self.old.nodes)
        self.replayer = Replayer(self.shared, self.nodes)
        self.pages: dict[str, list] = {}
        self.produced: set[str] = set()
        self.outside: set[str] = set()  # files written outside the output folder
        self.late: set[str] = set()  # declared after Pelican's writing (finalized)
        # Files generators write themselves (output_files): replaced, never
        # written into in place.
        self.replaced: set[str | None] = set()
        # The walk of the output made by the check before the build (once the
        # folder was cleaned), then the one a post-processor handed over
        # (portal.outputs.scanned), and what was declared since that one.
        self.listing: Listing | None = None
        self.scan: Listing | None = None
        self.since_scan: set[str] = set()
        self.finished = False
        # The recorded files the output check found missing or changed (removed
        # by clean_output): every other recorded file is in the output as the
        # last build wrote it (see on_disk). None until then, or untrusted.
        self.gone: set[str] | None = None
        self.date_used = depends_on_date(settings)
        self.rendered: list[str] = []
        self.feeds: list[str] = []  # feeds generated (not kept) by this build
        self.written: list[str] = []
        self.untracked: dict[str, str] = {}
        self.skipped = 0
        self.kept: list[str] = []  # the pages kept (see pages_kept)
        self.reused = 0  # pages kept without reading their item's own fields
        self.extra: dict[str, str] = {}
        self.feed_items: dict[tuple[int, str], tuple[Any, bytes]] = {}  # feed_key's
        self.restore_cache: Any = None
        self.content_cache: ContentCache | None = None
        self.urls: str | None = None  # see url_map_digest, taken when pages are written
        self.quiet: list[int] | None | bool = False  # quiet_mask, once decided
        self.quick = 0  # pages kept without replaying their reads (quiet_mask)
        self.quiet_read: set[str] = set()  # the items read anew (quiet_mask)
        # The named lists (portal.outputs.note_lists): key -> the list, or None
        # when two lists took one name; their digests and whether each is the
        # last build's, once asked; the changed items' signatures (listed_items).
        self.named: dict[str, Any] = {}
        self.list_digests: dict[str, str | None] = {}
        self.item_tokens: dict[int, bytes] = {}  # see list_digest
        self.lists_same: dict[str, bool] = {}
        self.listed: list[int] | None | bool = False
        self.listed_paths: set[str] = set()  # the changed items (listed_items)
        # Fields plugins set on items from each item alone (note_item_fields).
        self.item_fields: set[str] = set()
        self.owns: dict[int, tuple[Any, Callable | None]] = {}  # see own_of
        self.early: EarlyPages | None = None  # see prepare_seal

    def input_hash(self, path: str) -> bytes:
        """Return the SHA-256 of a content file, from the snapshot when it has it.

        The snapshot's entry of `path` is the one of the path after the content
        folder's prefix (the snapshot's paths are joined onto that folder): no
        table of every file's absolute path made first (7 ms at 6,500 files).
        """
        entry = None
        if path.startswith(self.content_prefix):
            entry = self.inputs.get(path[len(self.content_prefix) :])
        return (entry and bytes.fromhex(entry[2])) or _file_hash(path)

    @property
    def full(self) -> bool:
        """Return whether this build renders every page."""
        return self.full_reason is not None

    def relative(self, path: str) -> str | None:
        """Return an output file's path relative to the output folder."""
        return under(path, self.output_path)

    def last_entry(self, rel: str, template: Any) -> list | None:
        """Return the last build's entry of a page made by the same template, if any."""
        entry = None if self.full else self.old.pages.get(rel)
        if entry is None or entry[0] != getattr(template, "name", None):
            return None
        return entry

    def try_skip(
        self,
        rel: str,
        template: Any,
        context: Mapping,
        localcontext: Mapping,
        memo: bool,
    ) -> bool:
        """Keep a page whose recorded reads are unchanged; return whether kept."""
        entry = self.last_entry(rel, template)
        if entry is None or not self.on_disk(rel):
            return False
        deps = self.old.extra.get(DEPS + rel)
        self.replayer.reset(context)
        if self.keep_listed(rel, entry, deps, context, localcontext, memo):
            return True
        item = localcontext.get(ITEM)
        own = self.own_fields(item)
        # The item's own fields are the objects built from the same bytes as
        # last time (and every URL its content links to is the same): the
        # digest of what the page read from them is the last build's.
        known = entry[3] if own and self.unchanged(item, context) else None
        page_digest, own_seal = self.replayer.page_digest(
            entry[1], localcontext, memo, own, known
        )
        if page_digest != entry[2]:
            return False
        self.keep_page(rel, entry, own_seal, deps)
        self.reused += known is not None
        return True

    def keep_quiet(self, rel: str, template: Any, context: Mapping) -> bool:
        """Keep a page that read no item read anew when only bodies changed.

        See quiet_mask; asked before the page's context is made (try_skip
        replays the pages it does not keep).
        """
        entry = self.last_entry(rel, template)
        deps = self.old.extra.get(DEPS + rel)
        if entry is None or deps is None:
            return False
        changed = self.quiet_mask(context)
        if changed is None or may_read(int(deps, 16), changed):
            return False
        if not self.on_disk(rel):
            return False
        self.keep_quick(rel, entry, deps)
        return True

    def on_disk(self, rel: str) -> bool:
        """Return whether a file of the last build is in the output as it wrote it.

        From the output check's answer (gone) once the folder is cleaned: no
        stat per kept page; else asked of the file system.
        """
        if self.gone is None:
            return os.path.isfile(os.path.join(self.output_path, rel))
        return rel in self.old.record and rel not in self.gone

    def keep_listed(
        self,
        rel: str,
        entry: list,
        deps: str | None,
        context: Mapping,
        localcontext: Mapping,
        memo: bool,
    ) -> bool:
        """Keep a page that read no changed item or named list and whose quick reads are the same.

        See listed_items. The quick reads (tracking.Recorder.quick_reads) are
        what the page read besides its items' own fields and the shape of its
        named lists: values generators derive (a term's count or URL, the
        statistics), replayed through the memo, most of them shared by every page.
        """
        extra = self.old.extra
        keys, quick = extra.get(LISTS + rel), extra.get(QUICK + rel)
        if deps is None or keys is None or quick is None:
            return False
        changed = self.listed_items(context)
        if changed is None or may_read(int(deps, 16), changed):
            return False
        if keys and not all(map(self.list_same, keys.split(","))):
            return False
        if self.replayer.quick_digest(entry[1], localcontext, memo) != quick:
            return False
        self.keep_quick(rel, entry, deps)
        return True

    def listed_items(self, context: Mapping) -> list[int] | None:
        """Return the signatures of the items changed if nothing else did (else None).

        Nothing else: every content file that changed, came or went is a
        Markdown file read as an item (or gone). The changed items are those,
        and, when any content or static file's URL changed, every item whose
        text may link to one (its content would change). An item not changed
        was built from the same bytes with the same settings and code: its own
        fields, URL and output path are the last build's.
        """
        if self.listed is False:
            self.listed = self._listed_items(context)
        return self.listed  # type: ignore[return-value]

    def _listed_items(self, context: Mapping) -> list[int] | None:
        """Decide listed_items (see there)."""
        cache, old = self.content_cache, self.old
        if self.full or cache is None:
            return None
        read = set(cache.read)
        changed = set()
        for rel in old.inputs.keys() | self.inputs.keys():
            was, now = old.inputs.get(rel), self.inputs.get(rel)
            if was is not None and now is not None and was[2] == now[2]:
                continue
            path = os.path.join(self.content_path, rel)
            if not rel.endswith(".md") or (now is not None and path not in read):
                return None  # another file changed, or one not read as an item
            changed.add(path)
        if self.urls is None:
            self.urls = url_map_digest(context)
        if self.urls != old.urls:  # a file came or went, or an item's URL changed
            names = link_names(changed)
            changed.update(
                path
                for path, item in cache.live.items()
                if path not in changed
                and links_within_site(item)
                and mentions(item, names)
            )
        self.listed_paths = changed
        return [item_signature([path]) for path in sorted(changed)]

    def note_lists(self, prefix: str, lists: Mapping[str, Sequence]) -> None:
        """Take named lists (portal.outputs.note_lists) for this build's records."""
        named, by_id = self.named, self.shared.named_ids
        for name, items in lists.items():
            key = list_key(prefix + name)
            if named.setdefault(key, items) is not items:
                named[key] = None  # one name, two lists: never the same
            by_id[id(items)] = (items, key)

    def digest_lists(self, context: Mapping) -> None:
        """Digest every named list now, when a rebuild will compare them (listed_items).

        Called before the pages are written in several processes (renderpool):
        each process then has every digest without computing it again, and the
        manifest keeps them (note_list_digests). Lists named while pages are
        written (paginated pages) are digested when asked, as before.
        """
        if self.quiet_mask(context) is not None or self.listed_items(context) is None:
            return  # only bodies changed (the last digests are kept), or a full build
        for key in self.named:
            self.list_digest(key)

    def list_same(self, key: str) -> bool:
        """Return whether a named list holds the same items in the same order as last time."""
        same = self.lists_same.get(key)
        if same is None:
            digest = self.list_digest(key)
            same = self.lists_same[key] = (
                digest is not None and self.old.extra.get(LIST + key) == digest
            )
        return same

    def list_digest(self, key: str) -> str | None:
        """Return the digest of a named list's items (their source paths), or None."""
        if key in self.list_digests:
            return self.list_digests[key]
        items = self.named.get(key)
        digest = None if items is None else list_digest(items, self.item_tokens)
        self.list_digests[key] = digest
        return digest

    def keep_quick(self, rel: str, entry: list, deps: str) -> None:
        """Note a page kept without replaying all its reads (keep_quiet, keep_listed)."""
        self.keep_page(rel, entry, entry[3], deps)
        self.quick += 1
        self.reused += entry[3] is not None  # its own fields not read either

    def keep_page(
        self, rel: str, entry: list, own_seal: str | None, deps: str | None
    ) -> None:
        """Note a page kept as the last build wrote it, with its records."""
        self.pages[rel] = [entry[0], entry[1], entry[2], own_seal]
        if deps is not None:  # the same reads: the same objects (read_items)
            self.extra[DEPS + rel] = deps
            for prefix in (LISTS, QUICK):
                value = self.old.extra.get(prefix + rel)
                if value is not None:
                    self.extra[prefix + rel] = value
        self.produced.add(rel)
        self.kept.append(rel)
        self.skipped += 1

    def quiet_mask(self, context: Mapping) -> list[int] | None:
        """Return the signatures of the items read anew if nothing else changed.

        Nothing else: the same content files but items whose metadata is the
        last build's (only their bodies changed), and every URL the same. Then
        every list, term and field a generator derives from the items is the
        same, and a page that read none of those items (`may_read`: its DEPS
        signature holds no item's bits) is the last build's: kept without
        replaying its reads. None: replay every page.
        """
        if self.quiet is False:
            self.quiet = self._quiet_mask(context)
        return self.quiet  # type: ignore[return-value]

    def _quiet_mask(self, context: Mapping) -> list[int] | None:
        """Decide quiet_mask (see there)."""
        cache, old = self.content_cache, self.old
        if self.full or cache is None or old.inputs.keys() != self.inputs.keys():
            return None
        if self.urls is None:
            self.urls = url_map_digest(context)
        if self.urls != old.urls:
            return None
        read = self.quiet_read = set(cache.read)
        for rel, entry in self.inputs.items():
            if old.inputs[rel][2] != entry[2] and (
                not rel.endswith(".md")
                or os.path.join(self.content_path, rel) not in read
            ):
                return None  # another file changed, or one not read as an item
        for path in read:
            item = cache.live.get(path)
            digest = None if item is None else metadata_digest(item)
            if digest is None or old.extra.get(METADATA + path) != digest:
                return None
        return [item_signature([path]) for path in sorted(read)]

    def note_metadata(self) -> None:
        """Keep every item's metadata digest for the next build's quiet_mask.

        In a quiet or listed build, also the feed texts (Build.feed_texts) of
        the items not read anew (not changed) that a feed kept by
        quiet_feed_key or listed_feed_key did not ask for: the same bytes and
        URLs as when they were taken.
        """
        cache = self.content_cache
        if cache is None:
            return
        read = set(cache.read)
        changed = self.quiet_read if isinstance(self.quiet, list) else None
        if changed is None and isinstance(self.listed, list):
            changed = self.listed_paths
        if changed is not None:
            for key, value in self.old.extra.items():
                if (
                    key.startswith(FEED_TEXTS)
                    and key not in self.extra
                    and key[len(FEED_TEXTS) :].split("\x1f", 1)[0] not in changed
                ):
                    self.extra[key] = value
        for path, item in cache.live.items():
            known = None
            if not self.full and path not in read:  # the same bytes as then
                known = self.old.extra.get(METADATA + path)
            digest = known or metadata_digest(item)
            if digest is not None:
                self.extra[METADATA + path] = digest

    def note_list_digests(self) -> None:
        """Keep each named list's digest for the next build's keep_listed.

        When only bodies changed (quiet_mask decided so), every list is the last
        build's: its digest is taken from the last build instead of hashed again.
        """
        quiet = isinstance(self.quiet, list)
        for key in self.named:
            same = quiet and self.named[key] is not None
            digest = self.old.extra.get(LIST + key) if same else None
            if digest is None:
                digest = self.list_digest(key)
            if digest is not None:
                self.extra[LIST + key] = digest

    def unnamed(self) -> int:
        """Return how many pages a rebuild can keep only by replaying all their reads."""
        return sum(LISTS + rel not in self.extra for rel in self.pages)

    def quiet_feed_key(
        self, rel: str, elements: Sequence, context: Mapping
    ) -> str | None:
        """Return a feed's key from the last build when only other items' bodies changed.

        The feed lists the same items (quiet_mask: every list is the same) and
        none of those it shows was read anew: feed_key would give the same.
        """
        old = self.old.extra.get(FEED_KEY + rel)
        if old is None or self.quiet_mask(context) is None:
            return None
        for item in elements[: self.settings["FEED_MAX_ITEMS"]]:
            path = getattr(item, "source_path", None)
            if not isinstance(path, str) or path in self.quiet_read:
                return None
        return old

    def listed_feed_key(
        self, rel: str, shown: Sequence, shape: str | None, context: Mapping
    ) -> str | None:
        """Return a feed's key from the last build when it shows no changed item.

        When only items changed, came or went (listed_items), a feed whose head
        and items shown (by source path: feed_shape) are the last build's, none
        of them a changed item, shows the same fields: feed_key would give the
        same.
        """
        old = self.old.extra.get(FEED_KEY + rel)
        if (
            old is None
            or shape is None
            or self.old.extra.get(FEED_SHAPE + rel) != shape
            or self.listed_items(context) is None
        ):
            return None
        changed = self.listed_paths
        if any(item.source_path in changed for item in shown):
            return None
        return old

    def keep_feed(self, rel: str, key: str, shape: str | None = None) -> bool:
        """Note a feed's key and shape; return whether the last build wrote it from the same key."""
        self.extra[FEED_KEY + rel] = key
        if shape is not None:
            self.extra[FEED_SHAPE + rel] = shape
        if (
            self.full
            or self.old.extra.get(FEED_KEY + rel) != key
            or not self.on_disk(rel)
        ):
            self.feeds.append(rel)
            return False
        return True

    def feed_texts(self, item: Any, site_url: str, context: Mapping) -> bytes:
        """Return an item's feed_texts: the last build's when its text is as then.

        As then: built from the same bytes (taken from the content cache) and
        every URL its content may link to unchanged, the condition of an item
        page's own fields; the summary and content are made of nothing else.
        """
        path = getattr(item, "source_path", None)
        if not isinstance(path, str):
            return feed_texts(item, site_url)
        key = f"{FEED_TEXTS}{path}\x1f{site_url}"
        known = None if self.full else self.old.extra.get(key, "")
        if (
            len(known or "") == 32
            and self.content_cache is not None
            and self.unchanged(item, context)
        ):
            digest = bytes.fromhex(known)
        else:
            digest = feed_texts(item, site_url)
        self.extra[key] = digest.hex()
        return digest

    def own_fields(self, item: Any) -> Callable | None:
        """Return which reads on a page's item read its fields as built, or None."""
        if item is None or self.content_cache is None:
            return None
        return self.content_cache.own_fields(item)

    def unchanged(self, item: Any, context: Mapping) -> bool:
        """Return whether an item and every URL its content may link to are as last time."""
        if self.urls is None:
            self.urls = url_map_digest(context)
        return self.content_cache.unchanged(item) and (
            self.urls == self.old.urls or not links_within_site(item)
        )

    def record_render(
        self, rel: str, template: Any, recorder: Recorder, context: Mapping
    ) -> None:
        """Keep the reads of a page just rendered."""
        self.rendered.append(rel)
        self.produced.add(rel)
        name = getattr(template, "name", None)
        if recorder.untracked or not name:
            self.untracked[rel] = recorder.untracked or "template without a name"
            self.pages.pop(rel, None)
            return
        if self.urls is None:
            self.urls = url_map_digest(context)
        own = self.own_fields(recorder.root.get(ITEM))
        self.nodes.seen = {} if recorder.unnamed is None else None
        roots, page_digest, own_seal = self.nodes.record(recorder.reads, own)
        self.pages[rel] = [name, roots, page_digest, own_seal]
        deps = page_items(recorder)
        if deps is not None:
            self.extra[DEPS + rel] = format(item_signature(deps), "x")
            quick = recorder.quick_reads(self.own_of)
            if quick is not None:
                self.extra[QUICK + rel] = self.nodes.record_quick(roots, quick)
                self.extra[LISTS + rel] = ",".join(sorted(recorder.lists))
        self.nodes.seen = None

    def own_of(self, item: Any) -> Callable | None:
        """Return which reads of an item its bytes decide (see Recorder.quick_reads).

        Its own fields (ContentCache.own_fields), the fields plugins set from
        the item alone (portal.outputs.note_item_fields) and what its type
        decides (tracking.type_decides); once per item and step in a build.
        """
        hit = self.owns.get(id(item))
        if hit is not None and hit[0] is item:
            return hit[1]
        own = self.content_cache.own_fields(item) if self.content_cache else None
        if own is not None:
            own = functools.partial(_own_step, own, self.item_fields, type(item), {})
        self.owns[id(item)] = (item, own)
        return own

    def start_part(self) -> None:
        """Forget what was noted so far: this process writes only its part of the pages.

        Used by a page-writing process of plugins/renderpool after its fork; `part`
        then returns what it added, for the build process to `absorb`.
        """
        self.pages, self.rendered, self.written, self.feeds = {}, [], [], []
        self.untracked, self.extra, self.kept = {}, {}, []
        self.produced, self.outside = set(), set()
        self.skipped = self.reused = self.quick = 0
        self.date_used = False

    def compacted_pages(self) -> tuple[list, dict[str, list]]:
        """Return the read nodes the pages use, renumbered, and the pages with them."""
        nodes, renumber = self.nodes.compact(entry[1] for entry in self.pages.values())
        pages = {
            rel: [template, [renumber[i] for i in roots], page_digest, own_seal]
            for rel, (template, roots, page_digest, own_seal) in self.pages.items()
        }
        return nodes, pages

    def saved_pages(self) -> tuple[list, dict[str, list]]:
        """Return the read nodes and pages to save, compacted when nodes may be unused.

        A build that added no node and dropped no page saves the table it loaded
        as it is: the table grows only in a build that compacts it, so the nodes
        no page uses any more stay fewer than those the last compaction kept
        (compacting 6,580 pages' trees cost 0.1 s of a one-page rebuild).
        """
        if (
            not self.full
            and len(self.nodes.table) == len(self.old.nodes)
            and self.old.pages.keys() <= self.pages.keys()
        ):
            return self.nodes.table, self.pages
        return self.compacted_pages()

    def part(self) -> dict[str, Any]:
        """Return what this process noted since start_part (its records renumbered)."""
        nodes, pages = self.compacted_pages()
        return {
            "nodes": nodes,
            "pages": pages,
            "produced": self.produced,
            "outside": self.outside,
            "rendered": self.rendered,
            "written": self.written,
            "feeds": self.feeds,
            "untracked": self.untracked,
            "extra": self.extra,
            "skipped": self.skipped,
            "kept": self.kept,
            "reused": self.reused,
            "quick": self.quick,
            "date_used": self.date_used,
            "urls": self.urls,
        }

    def absorb(self, part: Mapping[str, Any]) -> None:
        """Take another process's part of the pages into this build (see part)."""
        ids = self.nodes.absorb(part["nodes"])
        for rel, (template, roots, page_digest, own_seal) in part["pages"].items():
            self.pages[rel] = [template, [ids[i] for i in roots], page_digest, own_seal]
        for rel in part["untracked"]:
            self.pages.pop(rel, None)
        self.untracked.update(part["untracked"])
        self.produced |= part["produced"]
        self.outside |= part["outside"]
        self.rendered += part["rendered"]
        self.written += part["written"]
        self.feeds += part["feeds"]
        self.extra.update(part["extra"])
        self.skipped += part["skipped"]
        self.kept += part["kept"]
        self.reused += part["reused"]
        self.quick += part["quick"]
        self.date_used = self.date_used or part["date_used"]
        self.urls = self.urls or part["urls"]

    def clean_output(self) -> None:
        """Remove what the last build's record does not vouch for (once)."""
        if self.state is None:
            return
        state, self.state = self.state, None
        self.cleaned = state.clean_output(self.settings)
        if state.trusted and state.check is not None:
            self.gone = {*state.check.missing, *state.check.changed}
        self.listing = state.listing()
        if self.cleaned:
            log.info(
                "%s: %s file(s) in the output folder were not the last build's: "
                "removed",
                PREFIX,
                self.cleaned,
            )

    def add_produced(self, path: str) -> str | None:
        """Note a file of this build (written, kept or declared); return it relative."""
        rel = self.relative(path)
        if rel is not None:
            if self.finished and rel not in self.produced:
                self.late.add(rel)
            self.produced.add(rel)
            if self.scan is not None:
                self.since_scan.add(rel)
        else:
            self.outside.add(os.path.abspath(path))
        return rel

    def finish(self) -> None:
        """Remove the previous build's files this one did not produce."""
        # With Pelican's own writer nothing is noted, but the folder began empty.
        self.deleted = [] if self.plain else self.remove_stale()
        self.finished = True

    def take_scan(self, listing: Listing) -> None:
        """Keep a walk of the whole output folder a post-processor just made."""
        self.scan, self.since_scan = listing, set()

    def current_listing(self) -> Listing | None:
        """Return the walk of the check before the build, brought up to date (once).

        Its folders' times show every file added, removed or replaced since (a
        stray included); the files this build may have written in place are
        looked at again: those written, and every file produced or declared but
        the pages kept as they were and the files generators list as theirs
        (`output_files`: replaced, never written into, such as the images
        plugin's variants; Listing.refresh). None without that walk.
        """
        listing, self.listing = self.listing, None
        if listing is not None:
            started = time.time_ns()
            kept = self.pages.keys() | self.untracked.keys()
            touched = set(self.written).union(self.produced - kept - self.replaced)
            # The stats racy when the check took them are taken again too: the
            # listing is then dated now (a post-processor compares times with it).
            listing.refresh(self.output_path, touched | listing.racy())
            listing.taken_ns = started
        return listing

    def found_files(self) -> tuple[dict[str, os.stat_result], dict[str, int], int]:
        """Return every file (stat) and folder (time) now in the output, and when taken.

        From the last walk a post-processor handed over (take_scan) when there
        is one, brought up to date (Listing.refresh: a folder whose time changed
        is read again, so a stray is swept; the files declared since are looked
        at again). Someone else's change to a listed file in place after that
        walk leaves its old time in the record: the check before the next build
        finds it changed.
        """
        listing, self.scan = self.scan, None
        if listing is not None:
            listing.refresh(self.output_path, self.since_scan)
        else:
            listing = self.current_listing() or list_tree(self.output_path)
        return dict(listing.files), dict(listing.folders), listing.taken_ns

    def prepare_seal(self) -> None:
        """Save now what the post-processors leave as it is: cache rows, pages' part.

        Run once every page is written (the prune step), while the search index
        and compression run in other processes: the content cache's rows are
        written in a transaction only `seal` commits, the manifest's part of the
        pages into a file only seal's head names. Seal takes them when nothing
        they hold changed since (else it makes them again); a failed build
        drops them (abort): the last cache and manifest stay as they were.
        """
        if self.content_cache is not None:
            self.content_cache.stage()
        nodes, pages = self.saved_pages()
        self.note_metadata()
        self.note_list_digests()
        data = {"pages": pages, "extra": dict(self.extra), "urls": self.urls or ""}
        token = self.old.saved("pages", data)
        written = token is None
        if token is None:
            token = part_token()
            write_part(self.options["manifest"], "pages", data, token)
        self.early = EarlyPages(
            nodes,
            pages,
            dict(self.pages),
            len(self.nodes.table),
            frozenset(self.named),
            data["extra"],
            self.urls,
            token,
            written,
        )

    def take_early(self) -> EarlyPages | None:
        """Return the pages' part prepare_seal saved if it still holds, else drop it."""
        early = self.early
        if early is None:
            return None
        entries = self.pages
        if (
            len(entries) == len(early.entries)
            and all(entries.get(rel) is entry for rel, entry in early.entries.items())
            and len(self.nodes.table) == early.table
            and self.named.keys() == early.named
            and self.extra == early.extra
            and self.urls == early.urls
        ):
            return early
        log.debug("%s: the pages changed after they were written: saved again", PREFIX)
        self.drop_early()
        return None

    def drop_early(self) -> None:
        """Remove the pages' part file prepare_seal wrote, if no head names it."""
        early, self.early = self.early, None
        if early is not None and early.written:
            path = part_path(self.options["manifest"], "pages", early.token)
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)

    def seal(self) -> None:
        """Record the finished output, save the manifest and the report, log it."""
        # One walk of the output (often a post-processor's) serves the sweep and
        # the record.
        found, folders, taken_ns = self.found_files()
        swept = [] if self.plain else self.sweep(found)
        if self.content_cache is not None:
            self.content_cache.save()
        self.save_manifest(found, folders, taken_ns)
        forget_sha256()
        deleted = sorted(getattr(self, "deleted", []) + swept)
        write_report(
            self.options,
            full=self.full,
            reason=self.full_reason,
            read=self.files_read(),
            rendered=sorted(self.rendered),
            written=sorted(self.written),
            skipped=self.skipped,
            reused=self.reused,
            deleted=deleted,
            untracked=dict(sorted(self.untracked.items())),
            cleaned=self.cleaned,
            feeds=sorted(self.feeds),
            quick=self.quick,
            unnamed=self.unnamed(),
        )
        log.info(
            "%s: %s page(s) rendered, %s file(s) written, %s unchanged page(s) "
            "skipped, %s stale file(s) removed%s",
            PREFIX,
            len(self.rendered),
            len(self.written),
            self.skipped,
            len(deleted),
            f" (full build: {self.full_reason})" if self.full else "",
        )

    def sweep(self, found: dict[str, os.stat_result]) -> list[str]:
        """Remove files in the output that no part of this build produced or declared.

        `found` is every file now in the output; the strays leave it too.
        """
        strays = sorted(rel for rel in found if rel not in self.produced)
        for rel in strays:
            del found[rel]
        if strays:
            log.warning(
                "%s: removed %s file(s) no plugin produced or declared "
                "(declare_output): %s",
                PREFIX,
                len(strays),
                ", ".join(strays[:5]),
            )
            record.remove(self.output_path, strays)
        return strays

    def abort(self) -> None:
        """After a failed run: keep the last record, remove what it does not vouch for."""
        self.drop_early()
        if self.content_cache is not None:
            self.content_cache.discard()
        if self.full:
            self.settings["LOAD_CONTENT_CACHE"] = self.restore_cache
        if self.state is not None:
            self.state.close()
            return  # stopped before writing (an editor's error): output/ untouched
        old = self.old.record if self.trusted else {}
        check = record.check_output(self.output_path, old, {}, self.old.record_ns)
        record.remove(self.output_path, check.unknown + check.changed)
        log.info(
            "%s: build failed: %s file(s) the last build did not write removed; "
            "its record is kept",
            PREFIX,
            len(check.unknown) + len(check.changed),
        )

    def files_read(self) -> list[str]:
        """Return the content files built from their bytes (not from the cache)."""
        if self.content_cache is None:
            return []
        content = os.path.abspath(self.settings["PATH"])
        return sorted(
            os.path.relpath(path, content).replace(os.sep, "/")
            for path in self.content_cache.read
        )

    def remove_stale(self) -> list[str]:
        """Delete files of the previous build that this build did not produce."""
        if self.old.output != self.output_path:
            return []
        deleted = []
        # Files the post-processors write after this are theirs to renew (the
        # sweep removes those they no longer declare).
        for rel in sorted(set(self.old.files) - self.old.late - self.produced):
            path = os.path.join(self.output_path, rel)
            if self.relative(path) is None or not os.path.isfile(path):
                continue
            os.remove(path)
            deleted.append(rel)
            record.prune_empty(os.path.dirname(path), self.output_path)
        return deleted

    def save_manifest(
        self,
        found: Mapping[str, os.stat_result],
        folders: dict[str, int],
        taken_ns: int,
    ) -> None:
        """Write the manifest atomically, with the record of the files found.

        The folders' times go with it: the next check reads again only the
        folders whose time changed (portal.files.layout).
        """
        old = self.old.record if self.trusted else {}
        files = record.record_files(self.output_path, found, old, self.old.record_ns)
        early = self.take_early()
        if early is not None:
            nodes, pages = early.nodes, early.pages
        else:
            nodes, pages = self.saved_pages()
            self.note_metadata()
            self.note_list_digests()
        data = {
            "format": FORMAT,
            "global": self.fingerprint,
            "output": self.output_path,
            "nodes": nodes,
            "pages": pages,
            "files": sorted(self.produced),
            "extra": self.extra,
            "inputs": self.inputs,
            "snapshot_ns": self.snapshot_ns,
            "untracked": sorted(self.untracked),
            "urls": self.urls or "",
            "record": files,
            "record_ns": taken_ns,
            "folders": folders,
            "outside": record.record_outside(
                self.outside, self.old.outside, self.old.record_ns
            ),
            "date": self.today if self.date_used else "",
            "late": sorted(self.late),
        }
        # A part as the last build saved it keeps its file (the pages and the
        # rest after a rebuild that changed no page's reads, no file's list).
        kept = {
            part: early.token
            if early and part == "pages"
            else self.old.saved(part, data)
            for part in PARTS
        }
        kept = {part: token for part, token in kept.items() if token}
        write_manifest(self.options["manifest"], data, kept)
        self.early = None  # its file is the manifest's now


def item_signature(paths: Iterable[str]) -> int:
    """Return a 1,024-bit signature of source paths (three bits each, as a Bloom filter).

    A page that read an item holds its three bits (`may_read`); holding them by
    chance only means replaying the page. A page reads about 12 items: with 256
    bits and two bits each, 0.8 % of the pages held an item's bits by chance
    (about 100 item pages replayed in full after an addition, 0.5-1 s of CPU at
    5,000 items); with 1,024 bits and three, about one page in 25,000.
    """
    signature = 0
    for path in paths:
        value = int.from_bytes(
            hashlib.blake2b(
                path.encode("utf-8", "surrogatepass"), digest_size=4
            ).digest()
        )
        signature |= (
            (1 << (value & 1023))
            | (1 << (value >> 10 & 1023))
            | (1 << (value >> 20 & 1023))
        )
    return signature


def _own_step(
    own: Callable, declared: set[str], kind: type, memo: dict, step: tuple
) -> bool:
    """Tell whether a read of an item its bytes decide (Build.own_of), memoised."""
    found = memo.get(step)
    if found is None:
        found = memo[step] = (
            (step[0] == "a" and step[1] in declared)
            or type_decides(kind, step)
            or own(step)
        )
    return found


def link_names(paths: Iterable[str]) -> tuple[str, ...]:
    """Return how a link to any of these files must name it: its file name, maybe quoted."""
    names = set()
    for path in paths:
        name = os.path.basename(path)
        names.update((name, urllib.parse.quote(name)))
    return tuple(names)


def mentions(item: Any, names: Sequence[str]) -> bool:
    """Return whether an item's text (body, summary, metadata) holds one of some names.

    A `{filename}` or `{attach}` link names the file it points to; an item that
    names none of the files that changed, came or went links to none of them:
    its content is the same as in the last build.
    """
    texts = [getattr(item, "_content", None), getattr(item, "_summary", None)]
    texts += list(getattr(item, "metadata", {}).values())
    return any(
        isinstance(text, str) and any(name in text for name in names) for text in texts
    )


def list_key(name: str) -> str:
    """Return the short key a list's name is kept by (12 hex digits)."""
    return hashlib.blake2b(
        name.encode("utf-8", "surrogatepass"), digest_size=6
    ).hexdigest()


def list_digest(items: Sequence, tokens: dict[int, bytes]) -> str | None:
    """Return the digest of a list's items by source path, or None if one has none.

    `tokens` keeps each item's token (a digest of its source path) by id for
    the build: a named list keeps its items alive, and 15,000 lists at 5,000
    items hold 120,000 of them.
    """
    try:
        joined = b"".join(map(tokens.__getitem__, map(id, items)))
    except KeyError:  # an item not seen yet in this build
        for item in items:
            if id(item) not in tokens:
                path = getattr(item, "source_path", None)
                if type(path) is not str:  # an object without a source file
                    return None
                data = path.encode("utf-8", "surrogatepass")
                tokens[id(item)] = hashlib.blake2b(data, digest_size=8).digest()
        joined = b"".join(map(tokens.__getitem__, map(id, items)))
    return hashlib.blake2b(joined, digest_size=12).hexdigest()


def may_read(signature: int, items: Iterable[int]) -> bool:
    """Return whether a page's signature may hold one of some items' signatures."""
    return any(signature & item == item for item in items)


def metadata_digest(item: Any) -> str | None:
    """Return the digest of an item's metadata, or None when it has no stable text."""
    metadata = getattr(item, "metadata", None)
    if not isinstance(metadata, dict):
        return None
    text = repr(sorted(metadata.items(), key=lambda pair: str(pair[0])))
    if " at 0x" in text:
        return None
    return hashlib.blake2b(
        text.encode("utf-8", "surrogatepass"), digest_size=16
    ).hexdigest()


def page_items(recorder: Recorder) -> set[str] | None:
    """Return the source paths of the items a render read, or None to replay it always.

    The page's own item (or Pelican page) counts even when the template read
    only values a generator copied from it; a read of a declared input (an
    image's size...) means replaying the page in every build.
    """
    paths = recorder.read_items()
    if paths is None or any(step[0] == "x" for step in recorder.reads):
        return None
    for name in (ITEM, "page"):
        path = getattr(recorder.root.get(name), "source_path", None)
        if isinstance(path, str):
            paths.add(path)
    return paths


def url_map_digest(context: Mapping) -> str:
    """Return the digest of every content and static file's URL.

    An item's content (its HTML with `{filename}` and `{static}` links made
    into URLs) depends on nothing else besides its own bytes and the settings.
    """
    parts = []
    for name in ("generated_content", "static_content"):
        for path, content in sorted((context.get(name) or {}).items()):
            parts.append(f"{name}\x1f{path}\x1f{getattr(content, 'url', None)}")
    data = "\x1e".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def write_report(
    options: Mapping,
    *,
    full: bool = False,
    reason: str | None = None,
    read: Sequence[str] = (),
    rendered: Sequence[str] = (),
    written: Sequence[str] = (),
    skipped: int = 0,
    reused: int = 0,
    deleted: Sequence[str] = (),
    untracked: Mapping[str, str] | None = None,
    **extra: Any,
) -> None:
    """Write incremental-report.json: what a run did (the same keys every run)."""
    report = {
        "full": full,
        "reason": reason,
        **extra,
        "read": list(read),
        "rendered": list(rendered),
        "written": list(written),
        "skipped": skipped,
        "reused": reused,
        "deleted": list(deleted),
        "untracked": dict(untracked or {}),
    }
    _write_json(options["report"], report)


def _write_json(path: str, data: Any) -> None:
    """Write JSON to a file atomically."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    write_atomic(path, text.encode("utf-8"))


_build: Build | None = None


# --------------------------------------------------------------------------
# Reading: content objects kept between builds (see contentcache.py).


def _file_hash(filename: str) -> bytes:
    """Return the SHA-256 of a file's bytes (empty when unreadable)."""
    return file_sha256(filename) or b""


def attach_caches(generator) -> None:
    """Give a generator our content cache and a cache of compiled templates."""
    if _build is None:
        return
    env = getattr(generator, "env", None)
    if env is not None and env.bytecode_cache is None:
        folder = os.path.join(_build.settings["CACHE_PATH"], "jinja")
        os.makedirs(folder, exist_ok=True)
        env.bytecode_cache = FileSystemBytecodeCache(folder)
    if env is not None and env.globals.get("partial") is jinja.partial:
        env.globals["partial"] = partial_once  # once per item, its reads re-rooted
    if isinstance(generator, CachingGenerator) and not _build.plain:
        attach_content_cache(generator)


def attach_content_cache(generator) -> None:
    """Give Pelican's article and page generators our hash-keyed content cache."""
    if _build.content_cache is None:
        _build.content_cache = ContentCache(
            os.path.join(_build.settings["CACHE_PATH"], CONTENT_CACHE),
            _build.input_hash,
            load=not _build.full,
        )
    _build.content_cache.attach(generator)


# --------------------------------------------------------------------------
# The writer.


class _CompareFile(io.StringIO):
    """A file opened for writing that leaves the disk alone if nothing changed."""

    def __init__(self, path: str, encoding: str, build: Build | None, writer) -> None:
        super().__init__()
        self.path, self.encoding_name, self.build = path, encoding, build
        self.writer = writer

    def close(self) -> None:
        if not self.closed:
            data = self.getvalue().encode(self.encoding_name)
            self.writer._save(self.path, data)
        super().close()


class IncrementalWriter(Writer):
    """Pelican's Writer that skips pages whose recorded inputs did not change."""

    def __init__(self, output_path, settings=None) -> None:
        super().__init__(output_path, settings=settings)
        self.build = _build
        # Which output files this process writes, by their path relative to the
        # output folder (plugins/renderpool); None: all.
        self.owns: Callable[[str], bool] | None = None
        self.base = posixize_path(os.path.abspath(self.output_path))

    def output_file(self, name: str) -> str:
        """Return an output file's absolute path, as Pelican's sanitised_join does.

        A clean relative name (no ".", "..", "//" or leading "/") is joined
        without resolving anything: every page asks, in every process.
        """
        if _clean(name):
            return f"{self.base}/{name}"
        return sanitised_join(self.output_path, name)

    def located(self, name: str) -> tuple[str, str | None]:
        """Return a page's absolute path and its path relative to the output folder.

        A clean name joined to the output folder (when that is its real path, as
        Build.relative uses) is that relative path itself: nothing to compute
        for each page in each process. None: no build, or outside the folder.
        """
        path, build = self.output_file(name), self.build
        if build is None:
            return path, None
        if self.base == build.output_path and _clean(name):
            return path, name
        return path, build.relative(path)

    def elsewhere(self, rel: str | None) -> bool:
        """Return whether another page-writing process writes this output file.

        `rel` is its path relative to the output folder (None: outside it, as
        every process writes it).
        """
        return self.owns is not None and rel is not None and not self.owns(rel)

    def part_claims(self) -> tuple[set[str], set[str]]:
        """Return the files this process wrote or kept, and those it overrode."""
        return set(self._written_files), set(self._overridden_files)

    def absorb_claims(self, written: set[str], overridden: set[str]) -> None:
        """Take another page-writing process's claims (Pelican's rule on writing twice)."""
        self._written_files |= written
        self._overridden_files |= overridden

    def _open_w(self, filename, encoding, override=False):
        """Check overwrites as Pelican does; write only if the bytes change."""
        filename = self._claim(filename, override)
        if filename == os.devnull:
            return open(os.devnull, "w", encoding=encoding)
        return _CompareFile(filename, encoding, self.build, self)

    def _claim(self, filename: str, override: bool) -> str:
        """Apply Pelican's rules on writing a file twice; return where to write."""
        if filename in self._overridden_files:
            if override:
                raise FileOverwriteFailedError(
                    f'Failed to overwrite "{filename}" a second time '
                    "(was previously overwritten)"
                )
            log.info('Skipping "%s", not overwriting', filename)
            return os.devnull
        if filename in self._written_files:
            if not override:
                raise FileOverwriteFailedError(
                    f'Failed to overwrite "{filename}" as Pelican has already '
                    "written to it previously (set `override=True` if intended)"
                )
            log.info('Overwriting "%s"', filename)
        if override:
            self._overridden_files.add(filename)
        self._written_files.add(filename)
        return filename

    def _save(self, path: str, data: bytes) -> None:
        """Write bytes to a file unless it already holds exactly them."""
        build = self.build
        if build is not None:
            build.add_produced(path)
        try:
            with open(path, "rb") as handle:
                if handle.read() == data:
                    return
        except OSError:
            pass
        with open(path, "wb") as handle:
            handle.write(data)
        if build is not None:
            rel = build.relative(path)
            if rel is not None:
                build.written.append(rel)

    def write_feed(
        self,
        elements,
        context,
        path=None,
        url=None,
        feed_type="atom",
        override_output=False,
        feed_title=None,
    ):
        """Write a feed, or keep it (returning None) when what it shows is unchanged."""
        build = self.build
        complete, rel = self.located(path) if path else (None, None)
        if self.elsewhere(rel):
            return None
        if rel is not None:
            args = (path, url, feed_type, feed_title)
            shown = elements[: self.settings["FEED_MAX_ITEMS"]]
            shape = feed_shape(shown, context, args, build.item_tokens)
            key = (
                build.quiet_feed_key(rel, elements, context)
                or build.listed_feed_key(rel, shown, shape, context)
                or feed_key(
                    self.settings,
                    elements,
                    context,
                    args,
                    build.feed_items,
                    functools.partial(build.feed_texts, context=context),
                )
            )
            if build.keep_feed(rel, key, shape):
                self._claim(complete, override_output)
                build.add_produced(complete)
                return None
        return super().write_feed(
            elements, context, path, url, feed_type, override_output, feed_title
        )

    def write_file(
        self,
        name,
        template,
        context,
        relative_urls=False,
        paginated=None,
        template_name=None,
        override_output=False,
        url=None,
        **kwargs,
    ):
        """Render and write a page, or keep it when its reads are unchanged."""
        build = self.build
        if not name:
            return None
        path, rel = self.located(name)
        if self.elsewhere(rel):
            return None
        if paginated is None:
            paginated = {k: v for k, v in kwargs.items() if k in {"articles", "dates"}}
        env = getattr(template, "environment", None)
        if (
            build is None
            or env is None
            or (paginated and template_name in self.settings["PAGINATED_TEMPLATES"])
            or not _use_tracking_context(env)
        ):
            before = set(self._written_files)
            super().write_file(
                name,
                template,
                context,
                relative_urls,
                paginated,
                template_name,
                override_output,
                url,
                **kwargs,
            )
            if build is not None:
                for path in sorted(self._written_files - before):
                    rel = build.relative(path)
                    if rel is not None:
                        build.rendered.append(rel)
                        build.untracked[rel] = "paginated by Pelican's writer"
            return None
        if rel is not None and build.keep_quiet(rel, template, context):
            self._claim(path, override_output)
            return None
        localcontext = context.copy()
        localcontext["localsiteurl"] = localcontext.get("localsiteurl", None)
        if relative_urls:
            relative_url = path_to_url(get_relative_path(name))
            localcontext["SITEURL"] = relative_url
            localcontext["localsiteurl"] = relative_url
        localcontext["output_file"] = name
        localcontext.update(kwargs)
        if localcontext["localsiteurl"]:
            context["localsiteurl"] = localcontext["localsiteurl"]
        if rel is not None and build.try_skip(
            rel, template, context, localcontext, memo=not relative_urls
        ):
            self._claim(path, override_output)
            return None
        recorder = Recorder(localcontext, build.shared)
        try:
            with track(recorder):
                output = template.render(localcontext)
        except Exception as error:  # a proxy the code did not expect: no records
            log.debug("%s: %s rendered without records: %r", PREFIX, name, error)
            output = template.render(localcontext)
            recorder.give_up(f"render failed with records: {error!r}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with self._open_w(path, "utf-8", override=override_output) as handle:
            handle.write(output)
        log.info('Writing "%s"', path)
        signals.content_written.send(path, context=localcontext)
        if rel is not None:
            build.record_render(rel, template, recorder, context)
        return None


def _clean(name: str) -> bool:
    """Return whether an output name is relative with no ".", ".." or "//" part."""
    return (
        name not in ("", ".")
        and not name.startswith(("/", ".."))
        and os.path.normpath(name) == name
    )


def feed_key(
    settings: Mapping,
    elements: Sequence,
    context: Mapping,
    args: tuple[str, str | None, str, str | None],
    memo: dict[tuple[int, str], tuple[Any, bytes]],
    texts: Callable[[Any, str], bytes] | None = None,
) -> str:
    """Return the digest of everything Pelican's `Writer.write_feed` puts in a feed.

    The context values and arguments (path, url, feed type, title) it reads,
    then for each item it lists (up to FEED_MAX_ITEMS) the fields
    `_add_item_to_the_feed` reads; settings and library versions are in the
    global fingerprint. An item's fields are taken once per build and site URL
    (`memo`: objects do not change while pages are written, and an item is in
    several feeds). `texts` gives the digest of an item's summary and content
    (default: feed_texts).
    """
    site_url = feed_site_url(context, args[0])
    digest = hashlib.blake2b(feed_head(context, args), digest_size=16)
    for item in elements[: settings["FEED_MAX_ITEMS"]]:
        hit = memo.get((id(item), site_url))
        if hit is None or hit[0] is not item:
            body = (texts or feed_texts)(item, site_url)
            hit = memo[id(item), site_url] = (item, feed_fields(item, site_url, body))
        digest.update(hit[1])
    return digest.hexdigest()


def feed_site_url(context: Mapping, path: str) -> str:
    """Return the site URL Pelican's `Writer.write_feed` gives a feed's items."""
    return context.get("SITEURL", path_to_url(get_relative_path(path)))


def feed_head(context: Mapping, args: tuple) -> bytes:
    """Return what a feed shows besides its items: arguments and context values."""
    head = (*args, feed_site_url(context, args[0]))
    head += tuple(
        str(context.get(name)) for name in ("FEED_DOMAIN", "SITENAME", "SITESUBTITLE")
    )
    return repr(head).encode("utf-8", "surrogatepass")


def feed_shape(
    shown: Sequence, context: Mapping, args: tuple, tokens: dict[int, bytes]
) -> str | None:
    """Return the digest of a feed's head and of the items it shows by source path.

    None when an item has no source file (see list_digest; `tokens` is its memo).
    """
    items = list_digest(shown, tokens)
    if items is None:
        return None
    data = feed_head(context, args) + items.encode("ascii")
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def feed_texts(item: Any, site_url: str) -> bytes:
    """Return the digest of an item's summary and content as a feed shows them."""
    texts = (str(item.summary), str(item.get_content(site_url)))
    return hashlib.blake2b(marshal.dumps(texts, 0), digest_size=16).digest()


def feed_fields(item: Any, site_url: str, texts: bytes) -> bytes:
    """Return the digest of the fields of an item that a feed shows.

    `texts` is the digest of its summary and content (feed_texts).
    """
    fields = (
        str(item.title),
        str(item.url),
        repr(item.date),
        repr(getattr(item, "modified", FEED_KEY)),
        texts,
        str(getattr(item, "category", FEED_KEY)),
        tuple(str(tag) for tag in getattr(item, "tags", None) or ()),
        hasattr(item, "tags"),
        str(getattr(item, "author", "")),
    )
    # marshal (version 0: the same values, the same bytes) is ten times faster
    # than repr on a page body, which repr scans for characters to escape; the
    # key hashes the digest of an item's fields, not its body again for every
    # feed it is in (an item is in five to eight feeds).
    return hashlib.blake2b(marshal.dumps(fields, 0), digest_size=16).digest()


def _use_tracking_context(env) -> bool:
    """Make Jinja create recording contexts; False if another class is in use."""
    if env.context_class is TrackingContext:
        return True
    if env.context_class is Context:
        env.context_class = TrackingContext
        return True
    return False


# --------------------------------------------------------------------------
# Hooks for other plugins.


def is_full_build() -> bool:
    """Return whether the current build renders everything (True outside builds)."""
    return _build is None or _build.full


def declare_output(path: str) -> None:
    """Declare a file written outside Pelican's writer as part of this build.

    A file declared by the previous build and not by this one is removed.
    """
    if _build is not None:
        _build.add_produced(
            path if os.path.isabs(path) else os.path.join(_build.output_path, path)
        )


def declare_tree(folder: str) -> None:
    """Declare every file now under a folder (e.g. Pagefind's) as part of this build."""
    if _build is not None:
        top = (
            folder
            if os.path.isabs(folder)
            else os.path.join(_build.output_path, folder)
        )
        for rel, _ in walk(top):
            _build.add_produced(os.path.join(top, rel))


def _declared(_sender: None, paths: Sequence[str]) -> None:
    """Receive portal.outputs.declare."""
    for path in paths:
        declare_output(path)


def _tree_declared(folder: str) -> None:
    """Receive portal.outputs.declare_tree."""
    declare_tree(folder)


def _scanned(folder: str, listing: Listing) -> None:
    """Receive portal.outputs.scanned: a walk of this build's output folder."""
    if _build is not None and os.path.realpath(folder) == _build.output_path:
        _build.take_scan(listing)


def _listed(folder: str) -> Listing | None:
    """Answer portal.outputs.listing: the output as the build knows it, if it does."""
    if _build is not None and os.path.realpath(folder) == _build.output_path:
        return _build.current_listing()
    return None


def uses_build_date() -> None:
    """Tell the build that its output depends on today's date (see build_date).

    The next build on another day is then a full build, never "nothing changed".
    """
    if _build is not None:
        _build.date_used = True


def remember(key: str, value: str) -> None:
    """Store a value for the next build (e.g. the hash of an image's source)."""
    if _build is not None:
        _build.extra[key] = str(value)


def remembered(key: str) -> str | None:
    """Return the value stored by the previous build, or None on a full build."""
    if _build is None or _build.full:
        return None
    return _build.old.extra.get(key)


def register_input(namespace: str, resolver: Callable[[str], str]) -> None:
    """Declare a kind of input read outside the context (key -> current digest)."""
    RESOLVERS[namespace] = resolver


def read_input(namespace: str, key: str) -> None:
    """Record, during a render, that the page depends on an input (see register_input)."""
    record_input(namespace, key)


# --------------------------------------------------------------------------
# Signals.


def start_build(pelican) -> list:
    """Open the records of a run (sent at the start of every run)."""
    global _build
    _build = None
    options = get_options(pelican.settings)
    if not options["enabled"]:
        return []
    _build = Build(pelican.settings, pelican.output_path, options)
    if _build.full:
        log.info("%s: full build: %s", PREFIX, _build.full_reason)
        _build.restore_cache = pelican.settings.get("LOAD_CONTENT_CACHE")
        pelican.settings["LOAD_CONTENT_CACHE"] = False
    else:
        pause_collector()
    return []


def pause_collector() -> None:
    """Stop the garbage collector until the contexts are built (see note_generators).

    A rebuild takes 5,000 objects back from the content cache and makes few
    reference cycles: the collections during the contexts only walked what
    they made (0.07–0.11 s at 5,000 items), all of which is frozen afterwards.
    A full build parses every file and keeps the collector running.
    """
    global _collector_paused
    if gc.isenabled() and not _collector_paused:
        gc.disable()
        _collector_paused = True


def resume_collector() -> None:
    """Start the garbage collector again if pause_collector stopped it."""
    global _collector_paused
    if _collector_paused:
        gc.enable()
        _collector_paused = False


def wrap_run(pelican) -> None:
    """Make Pelican's run return at once when nothing changed since the last build.

    The record of the output is saved only after the whole run succeeded (the
    post-processors on `finalized` included); a failed run keeps the last one.
    """
    if get_options(pelican.settings)["enabled"] and not pelican_unsupported():
        speedups.install()
    run = pelican.run

    def run_unless_unchanged() -> None:
        global _build
        options = get_options(pelican.settings)
        state = None
        if options["enabled"]:
            state = State(pelican.settings, pelican.output_path, options)
            if state.nothing_changed():
                state.close()
                report_unchanged(state, options)
                return
            _checked[id(pelican.settings)] = state
        thresholds = gc.get_threshold()
        gc.unfreeze()  # what the last run left (see note_generators)
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            run()
            if _build is not None:
                _build.seal()
        except BaseException:
            if _build is not None:
                _build.abort()
            raise
        finally:
            _build = None
            resume_collector()
            gc.set_threshold(*thresholds)
            _checked.pop(id(pelican.settings), None)
            if state is not None:
                state.close()
            gc.freeze()

    pelican.run = run_unless_unchanged


def report_unchanged(state: State, options: Mapping) -> None:
    """Write the report of a run that found nothing to do, and log it."""
    write_report(options, skipped=state.old.counts["pages"], nothing_changed=True)
    log.info("%s: nothing changed since the last build", PREFIX)
    console.print(
        f"Done: nothing changed since the last build; {state.old.counts['files']} "
        "files kept as they are."
    )


def note_generators(generators) -> None:
    """Record the files generators write themselves; freeze what was read.

    A generator with an `output_files()` method (the images plugin's) lists
    the files it writes outside Pelican's writer. What was read is left out of
    the garbage collector's work while pages are written (see GC_THRESHOLDS).
    """
    if _build is None:
        return
    for generator in generators:
        for path in getattr(generator, "output_files", list)():
            _build.replaced.add(_build.add_produced(path))
    gc.freeze()
    resume_collector()


# Pelican's lists of content objects on its generators (and in the context).
PELICAN_LISTS = (*outputs.PELICAN_LISTS, "dates")


def note_pelican_lists(generator) -> None:
    """Name Pelican's lists of content objects once a generator's context is made.

    Its lists (articles, dates, pages…), each category's, tag's and author's
    list, and each item's translations (when it has any).
    """
    if _build is None:
        return
    lists: dict[str, Sequence] = {}
    for name in PELICAN_LISTS:
        value = getattr(generator, name, None)
        if isinstance(value, list):
            lists[name] = value
            for item in value:
                translations = getattr(item, "translations", None)
                path = getattr(item, "source_path", None)
                if translations and isinstance(path, str):
                    lists[f"translations:{path}"] = translations
    for group in ("categories", "tags", "authors"):
        value = getattr(generator, group, None) or ()
        for term, items in value.items() if isinstance(value, Mapping) else value:
            lists[f"{group}:{term}"] = items
    _build.note_lists(f"pelican:{type(generator).__name__}:", lists)


def _lists_noted(prefix: str, lists: Mapping[str, Sequence]) -> None:
    """Receive portal.outputs.note_lists."""
    if _build is not None:
        _build.note_lists(prefix, lists)


def _item_fields_noted(_sender: None, names: Sequence[str]) -> None:
    """Receive portal.outputs.note_item_fields."""
    if _build is not None:
        _build.item_fields.update(names)


def get_writer(pelican) -> type[Writer] | None:
    """Clean the output folder before anything is written; return our writer."""
    if _build is None:
        return None
    _build.clean_output()
    return None if _build.plain else IncrementalWriter


def note_static(generator) -> None:
    """Record the static files and theme files the static generator copies."""
    if _build is None:
        return
    output = generator.output_path
    for static in generator.staticfiles:
        _build.add_produced(os.path.join(output, static.save_as))
    for rel in theme_static_files(generator.settings, generator.theme):
        _build.add_produced(os.path.join(output, rel))


def theme_static_files(settings: Mapping, theme: str) -> Iterable[str]:
    """Yield the output paths of the theme's static files."""
    ignore = settings.get("IGNORE_FILES") or []
    target = settings["THEME_STATIC_DIR"]
    for given in settings["THEME_STATIC_PATHS"]:
        source = os.path.join(theme, given)
        if os.path.isfile(source):
            yield os.path.join(target, os.path.basename(given))
            continue
        for path in _files_under(source):
            parts = os.path.relpath(path, source).split(os.sep)
            if any(fnmatch.fnmatch(p, pattern) for p in parts for pattern in ignore):
                continue
            yield os.path.join(target, *parts)


def finish_build(pelican) -> None:
    """Remove the stale files of the run, before the post-processors see the output.

    Then save, beside them, the records they leave as they are (prepare_seal).
    """
    if _build is None:
        return
    if _build.full:
        pelican.settings["LOAD_CONTENT_CACHE"] = _build.restore_cache
    pages_kept.send(_build.output_path, pages=_build.kept)
    _build.finish()
    _build.prepare_seal()


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.initialized.connect(wrap_run)
    signals.get_generators.connect(start_build)
    signals.get_writer.connect(get_writer)
    signals.generator_init.connect(attach_caches)
    signals.static_generator_finalized.connect(note_static)
    signals.all_generators_finalized.connect(note_generators)
    signals.article_generator_finalized.connect(note_pelican_lists)
    signals.page_generator_finalized.connect(note_pelican_lists)
    finishing.connect("prune", finish_build)
    outputs.output_declared.connect(_declared)
    outputs.tree_declared.connect(_tree_declared)
    outputs.output_scanned.connect(_scanned)
    outputs.output_listing.connect(_listed)
    outputs.lists_noted.connect(_lists_noted)
    outputs.item_fields_noted.connect(_item_fields_noted)
