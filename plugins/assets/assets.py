"""assets: content-hashed names for theme files, and pre-compressed text files.

The `asset` Jinja filter turns `"css/site.css"` into `theme/css/site.<hash8>.css`
(the first 8 hex digits of the file's SHA-256). After the build, a hashed copy of
every theme file is written next to the unhashed one (the unhashed file stays, for
links from outside the site), so a page always names the exact bytes it was built
with. Then every text file over `min_size` bytes gets a `.gz` (no time stamp:
byte-identical builds) and a `.br` copy, rewritten only when missing or stale.
The compressed bytes are kept in a content-addressed store under CACHE_PATH
(`compressed/<codec>/<sha256 of the file>.gz|.br`), so an unchanged file is
copied from there, not compressed again, even into an empty output folder; the
work is spread over every core. Either way the bytes are those of one process
without a store (tests/test_assets.py compares).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import os
import platform
import resource
import shutil
import stat
import time
from collections.abc import Container, Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from pelican import signals
from zlib_ng import gzip_ng, zlib_ng

from portal import finishing, outputs
from portal.files import (
    file_names,
    file_stat,
    list_tree,
    note_sha256,
    stamp,
    walk,
    write_atomic,
)
from portal.options import merge_options, workers_or_cores
from portal.paths import under
from portal.stamps import is_racy, load_notes, save_notes, vouches

try:
    import brotli
except ImportError:  # pragma: no cover - brotli is pinned; a missing one only logs
    brotli = None

__all__ = [
    "AssetsError",
    "compress_tree",
    "get_options",
    "hashed_name",
    "register",
]

log = logging.getLogger(__name__)
PREFIX = "assets"
SETTING = "ASSETS"
DEFAULTS: Mapping[str, Any] = {
    "hash_length": 8,
    "hashed_suffixes": (
        ".css",
        ".js",
        ".mjs",
        ".svg",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".webp",
        ".avif",
        ".ico",
        ".woff2",
    ),
    "compressed_suffixes": (
        ".html",
        ".css",
        ".js",
        ".mjs",
        ".xml",
        ".json",
        ".txt",
        ".svg",
        ".webmanifest",
    ),
    "min_size": 1024,
    "compress": True,
    "brotli": True,
    "gzip_level": 6,  # 1..9; docs/BENCHMARKS.md, "Compression levels"
    "brotli_quality": 8,  # 0..11; same section
    "workers": 0,  # processes that compress; 0: every usable core
    "cache": True,  # keep compressed bytes under CACHE_PATH/compressed/
    "early": True,  # compress the pages once every page is written (EarlyPass)
}
COMPRESSED = (".gz", ".br")
CACHE_SUBDIR = "compressed"
# One store entry per file holds all its copies (pack); the format names the
# codec's folder, so a store of another format is never read, only pruned.
STORE_FORMAT = "pack1"
STORE_SUFFIX = ".pack"
INDEX = "index.json"  # in the codec's store: what the last build noted
INDEX_FORMAT = 1
# A look "taken" this far ahead makes no time racy (portal.stamps.is_racy):
# for the early pass's notes on this build's own copies (early_digest).
NEVER_RACY = 1 << 62
PARALLEL_MIN = 64  # fewer files than this: one process (starting workers costs more)
CHUNK_MAX = 64  # files per task sent to a worker
# Brotli's window (lgwin): the smallest that holds the whole file, at most the
# library's default (22: 4 MB). docs/BENCHMARKS.md, "Publish": a page's copy is
# made in 13 % less CPU, a few bytes smaller, and tells the browser to keep a
# window of its size instead of 4 MB.
BROTLI_WINDOWS = range(10, 23)


class AssetsError(ValueError):
    """The ASSETS setting is wrong, or a template names a missing theme file."""


def get_options(settings: Mapping) -> dict[str, Any]:
    """Merge the ASSETS setting with the defaults and check it once."""
    options = merge_options(settings, SETTING, DEFAULTS, PREFIX, AssetsError)
    if not isinstance(options["hash_length"], int) or not (
        6 <= options["hash_length"] <= 64
    ):
        raise AssetsError(f"{PREFIX}: hash_length must be an int from 6 to 64")
    if not isinstance(options["min_size"], int) or options["min_size"] < 0:
        raise AssetsError(f"{PREFIX}: min_size must be a non-negative int")
    for key, low, high in (
        ("gzip_level", 1, 9),
        ("brotli_quality", 0, 11),
        ("workers", 0, 256),
    ):
        value = options[key]
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not low <= value <= high
        ):
            raise AssetsError(f"{PREFIX}: {key} must be an int from {low} to {high}")
    for key in ("hashed_suffixes", "compressed_suffixes"):
        options[key] = tuple(str(s).lower() for s in options[key])
    return options


def file_hash(path: Path, length: int) -> str:
    """Return the first `length` hex digits of a file's SHA-256."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:length]


def hashed_name(relative: str, digest: str) -> str:
    """Insert the digest before the suffix: `css/site.css` -> `css/site.<digest>.css`."""
    stem, dot, suffix = relative.rpartition(".")
    return f"{stem}.{digest}.{suffix}" if dot and "/" not in suffix else relative


def theme_static_dirs(settings: Mapping) -> list[Path]:
    """List the theme's static folders, as Pelican copies them."""
    theme = Path(settings["THEME"])
    return [theme / folder for folder in settings.get("THEME_STATIC_PATHS", [])]


def find_theme_file(settings: Mapping, relative: str) -> Path:
    """Return the theme file a template names, or raise a clear error."""
    for folder in theme_static_dirs(settings):
        candidate = folder / relative
        if candidate.is_file():
            return candidate
    raise AssetsError(
        f"{PREFIX}: giao diện không có tệp “{relative}” (tìm trong "
        f"{', '.join(str(d) for d in theme_static_dirs(settings))})"
    )


def make_filter(settings: Mapping, options: Mapping) -> Any:
    """Return the `asset` filter: theme path -> hashed URL relative to the site root."""
    static_dir = settings.get("THEME_STATIC_DIR", "theme").strip("/")
    cache: dict[tuple[str, int, int], str] = {}

    def asset(relative: str) -> str:
        relative = relative.lstrip("/")
        source = find_theme_file(settings, relative)
        if not relative.lower().endswith(options["hashed_suffixes"]):
            return f"{static_dir}/{relative}"
        stat = source.stat()
        key = (str(source), stat.st_mtime_ns, stat.st_size)
        if key not in cache:
            cache[key] = hashed_name(
                relative, file_hash(source, options["hash_length"])
            )
        return f"{static_dir}/{cache[key]}"

    return asset


# The `asset` filter of the last settings: (settings, options, filter).
_filter: tuple[Mapping, dict, Any] | None = None


def install_filter(generator) -> None:
    """Make the templates' `asset` filter return content-hashed names.

    Every generator of a run gets the same filter (its settings and options
    are the same): a card rendered once serves every generator's pages only
    where their environments' filters are the same (plugins/incremental).
    """
    global _filter
    options = get_options(generator.settings)
    if _filter is None or _filter[0] is not generator.settings or _filter[1] != options:
        _filter = (
            generator.settings,
            options,
            make_filter(generator.settings, options),
        )
    generator.env.filters["asset"] = _filter[2]


def write_hashed_copies(settings: Mapping, output: Path, options: Mapping) -> int:
    """Write a content-hashed copy of every theme file; return how many were new."""
    static_dir = output / settings.get("THEME_STATIC_DIR", "theme").strip("/")
    written = 0
    for folder in theme_static_dirs(settings):
        for source in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = source.relative_to(folder).as_posix()
            if not relative.lower().endswith(options["hashed_suffixes"]):
                continue
            digest = file_hash(source, options["hash_length"])
            target = static_dir / hashed_name(relative, digest)
            outputs.declare(target)
            if target.is_file() and target.stat().st_size == source.stat().st_size:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            written += 1
    return written


def is_text(rel: str, status: os.stat_result, options: Mapping) -> bool:
    """Tell whether a file is worth compressing (its suffix and size)."""
    suffixes = options["compressed_suffixes"]
    # What follows the last dot: splitext's suffix when it has one, so a file
    # without a wanted one is passed over at once (the output has 30,000 files).
    return (
        rel[rel.rfind(".") :].lower() in suffixes
        and os.path.splitext(rel)[1].lower() in suffixes
        and status.st_size >= options["min_size"]
        and stat.S_ISREG(status.st_mode)
    )


def text_files(output: Path, options: Mapping) -> list[Path]:
    """List the text files worth compressing, in a stable order."""
    files = dict(walk(output))
    return [
        output / rel
        for rel, status in sorted(files.items())
        if is_text(rel, status, options)
    ]


@dataclass(frozen=True)
class Codec:
    """How the compressed copies are made: gzip level, brotli quality or none."""

    gzip_level: int
    brotli_quality: int | None

    @property
    def suffixes(self) -> tuple[str, ...]:
        """Return the suffixes of the copies this codec writes."""
        return COMPRESSED if self.brotli_quality is not None else COMPRESSED[:1]

    def tag(self) -> str:
        """Name what the bytes depend on: levels, library versions and machine."""
        # zlib-ng's bytes may differ between architectures (not its format).
        tag = f"gz{self.gzip_level}-zlibng{zlib_ng.ZLIBNG_VERSION}-{platform.machine()}"
        if self.brotli_quality is not None:
            tag += f"-br{self.brotli_quality}-fitted-brotli{brotli.__version__}"
        return f"{tag}-{STORE_FORMAT}"

    def compress(self, suffix: str, data: bytes) -> bytes:
        """Return the `.gz` or `.br` bytes of a file's bytes."""
        if suffix == ".gz":
            return gzip_ng.compress(data, compresslevel=self.gzip_level, mtime=0)
        window = brotli_window(len(data))
        return brotli.compress(data, quality=self.brotli_quality, lgwin=window)


def brotli_window(size: int) -> int:
    """Return the smallest brotli window (lgwin) holding `size` bytes, 22 at most."""
    for window in BROTLI_WINDOWS:
        if (1 << window) - 16 >= size:  # brotli's window: 2**lgwin - 16 bytes
            return window
    return BROTLI_WINDOWS[-1]


def get_codec(options: Mapping) -> Codec:
    """Return the codec the options ask for (gzip only without the brotli package)."""
    use_brotli = bool(options["brotli"]) and brotli is not None
    if options["brotli"] and brotli is None:
        log.warning("%s: the brotli package is missing; writing .gz only", PREFIX)
    return Codec(
        options["gzip_level"], options["brotli_quality"] if use_brotli else None
    )


def is_current(source: Path, data: bytes) -> bool:
    """Tell whether the `.gz` beside a file holds exactly its bytes."""
    # By content, not by time: Pelican rewrites unchanged pages.
    gz = source.with_name(source.name + ".gz")
    if not gz.is_file():
        return False
    try:
        return gzip.decompress(gz.read_bytes()) == data
    except (OSError, EOFError):
        return False


def holds(path: Path, data: bytes) -> bool:
    """Tell whether a file exists with exactly these bytes."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def store_entry(store: Path, digest: str) -> Path:
    """Return where the store keeps the copies of the file with this SHA-256."""
    return store / digest[:2] / f"{digest}{STORE_SUFFIX}"


def pack(blobs: Iterable[bytes]) -> bytes:
    """Return a file's copies as one store entry: each one's length, then its bytes."""
    return b"".join(len(blob).to_bytes(8, "big") + blob for blob in blobs)


def unpack(entry: bytes, count: int) -> list[bytes] | None:
    """Return the copies of a store entry, None when it does not hold `count` whole."""
    blobs, at = [], 0
    for _ in range(count):
        size = int.from_bytes(entry[at : at + 8], "big")
        at += 8
        if len(entry) < at + size:
            return None
        blobs.append(entry[at : at + size])
        at += size
    return blobs if at == len(entry) else None


def packed_copies(
    data: bytes, digest: str, codec: Codec, store: Path | None
) -> dict[str, bytes]:
    """Return a file's compressed copies, from the store when it has them.

    `digest` is the SHA-256 of `data` (hex), which names its store entry. Both
    copies are one store entry (one file to create instead of two: a publish
    from nothing makes 6,758 of them at 5,000 items).
    """
    if store is None:
        return {suffix: codec.compress(suffix, data) for suffix in codec.suffixes}
    entry = store_entry(store, digest)
    try:
        blobs = unpack(entry.read_bytes(), len(codec.suffixes))
    except FileNotFoundError:
        blobs = None
    if blobs is None:
        blobs = [codec.compress(suffix, data) for suffix in codec.suffixes]
        write_atomic(entry, pack(blobs))
    return dict(zip(codec.suffixes, blobs, strict=True))


def compress_file(
    source: Path,
    codec: Codec,
    store: Path | None = None,
    copies: dict[str, tuple] | None = None,
) -> str:
    """Write a file's `.gz` (and `.br`) copies unless current; return its digest.

    The digest (SHA-256 of the file's bytes) names its entry in the store; it is
    prefixed with "+" when a copy was written. With `copies`, each copy's stat
    (after writing it, or the same before and after reading it) and SHA-256 are
    put there by path (portal.files.note_sha256: the build's record of the
    output takes them instead of reading the copies again).
    """
    data = source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if (
        store is None
        and is_current(source, data)
        and all(source.with_name(source.name + s).is_file() for s in codec.suffixes)
    ):
        return digest
    written, entry = False, None
    for suffix, blob in packed_copies(data, digest, codec, store).items():
        target = source.with_name(source.name + suffix)
        before = _status(target)
        if not holds(target, blob):
            write_atomic(target, blob, mode=0o644)
            written = True
            if store is not None:
                # The store entry's time, as caches are copied: a copy of bytes
                # stored earlier is not racy, so the next build does not read it
                # again (an edit of the copy still changes its time).
                entry = entry or os.stat(store_entry(store, digest))
                os.utime(target, ns=(entry.st_atime_ns, entry.st_mtime_ns))
            before = None  # written now: its stamp is the one after
        after = _status(target)
        if (
            copies is not None
            and after is not None
            and (before is None or stamp(before) == stamp(after))
        ):
            copies[str(target)] = (after, hashlib.sha256(blob).hexdigest())
    return f"+{digest}" if written else digest


def _status(path: Path) -> os.stat_result | None:
    """Return a file's stat as the output's walk takes it, None when it is missing."""
    try:
        return os.lstat(path)
    except OSError:
        return None


def _compress_chunk(
    job: tuple[list[str], Codec, str | None],
) -> tuple[list[str], dict[str, tuple]]:
    """Compress a chunk of files in a worker process; return digests and copies."""
    paths, codec, store = job
    folder = Path(store) if store else None
    copies: dict[str, tuple] = {}
    digests = [compress_file(Path(path), codec, folder, copies) for path in paths]
    return digests, copies


def compress_files(
    paths: list[Path],
    codec: Codec,
    store: Path | None,
    workers: int,
    copies: dict[str, tuple] | None = None,
) -> list[str]:
    """Compress files, in `workers` processes when there are enough of them.

    Each copy's stamp and SHA-256 go into `copies` (see compress_file).
    """
    copies = {} if copies is None else copies
    if workers <= 1 or len(paths) < PARALLEL_MIN:
        return [compress_file(path, codec, store, copies) for path in paths]
    size = max(1, min(CHUNK_MAX, len(paths) // (workers * 4)))
    chunks = [
        ([str(p) for p in paths[i : i + size]], codec, str(store) if store else None)
        for i in range(0, len(paths), size)
    ]
    digests: list[str] = []
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        for done, made in pool.map(_compress_chunk, chunks):
            digests += done
            copies.update(made)
    return digests


def prune_store(root: Path, current: Path, digests: set[str]) -> int:
    """Remove the store's entries this build did not use; return how many."""
    removed = 0
    if not root.is_dir():
        return removed
    for folder in root.iterdir():
        if folder != current:
            shutil.rmtree(folder, ignore_errors=True)
    for rel in file_names(current):
        name = rel.rpartition("/")[2]
        if "/" in rel and name.split(".", 1)[0] not in digests:
            os.remove(current / rel)
            removed += 1
    return removed


def remove_orphans(
    output: Path,
    files: dict[str, os.stat_result],
    folders: Container[str],
    options: Mapping,
) -> int:
    """Remove the `.gz`/`.br` copies whose text file is gone; return how many."""
    removed = 0
    # Those whose text file is there are passed over first, without splitext
    # (20,000 copies at 5,000 items): a copy's text file is its name less the suffix.
    for rel in [
        rel
        for rel in files
        if rel.endswith(COMPRESSED) and rel[: rel.rfind(".")] not in files
    ]:
        source, suffix = os.path.splitext(rel)
        if (
            source not in files  # the common case first: its text file is there
            and source not in folders
            and suffix in COMPRESSED
            and os.path.splitext(source)[1].lower() in options["compressed_suffixes"]
        ):
            (output / rel).unlink()
            del files[rel]
            removed += 1
    return removed


def load_index(store: Path, output: Path) -> tuple[dict[str, list], int]:
    """Return the copies noted by the last build into this output folder, and when."""
    return load_notes(store / INDEX, output, INDEX_FORMAT)


def noted_digest(
    entry: list | None,
    rel: str,
    files: Mapping[str, os.stat_result],
    suffixes: tuple[str, ...],
    taken_ns: int,
) -> str | None:
    """Return a file's noted digest when it and its copies are as noted, else None.

    An entry is [size, time, digest, then size and time of each copy].
    """
    if not entry or len(entry) != 3 + 2 * len(suffixes):
        return None
    status = files.get(rel)
    if status is None or not vouches(entry[0], entry[1], status, taken_ns):
        return None
    for n, suffix in enumerate(suffixes, 1):  # a copy's size and time: 2n+1, 2n+2
        status = files.get(rel + suffix)
        if status is None or not vouches(
            entry[2 * n + 1], entry[2 * n + 2], status, taken_ns
        ):
            return None
    return entry[2]


def save_index(
    store: Path,
    output: Path,
    kept: Mapping[str, list],
    digests: Mapping[str, str],
    files: Mapping[str, os.stat_result],
    suffixes: tuple[str, ...],
    scanned_ns: int,
    seen: Mapping[str, tuple[int, int]] | None = None,
) -> None:
    """Note each text file's size, time and digest with its copies' sizes and times.

    `kept` holds the entries that still stand; `digests` the files read again,
    whose copies are looked at now, unless `seen` has their size and time (by
    relative path: as the worker that wrote or read them saw them, or as the
    scan found those of the early pass). The index is dated now, when the copies are
    looked at: copies written by this pass more than the racy window ago are not
    read again next time (after a build from an empty folder, every copy was).
    A file modified within the racy window of the scan (`scanned_ns`, when its
    size and time were taken) is left out: it is read again next time.
    """
    noted = dict(kept)
    looked_ns = time.time_ns()
    for rel, digest in digests.items():
        source = files[rel]
        if is_racy(source.st_mtime_ns, scanned_ns):
            continue
        entry = [source.st_size, source.st_mtime_ns, digest]
        for suffix in suffixes:
            copy = (seen or {}).get(rel + suffix) or _size_and_time(
                output / rel, suffix
            )
            if copy is None:
                break
            entry += copy
        else:
            noted[rel] = entry
    save_notes(store / INDEX, output, INDEX_FORMAT, noted, looked_ns)


def _size_and_time(source: Path, suffix: str) -> tuple[int, int] | None:
    """Return the size and time of a file's copy, None when it is missing."""
    try:
        copy = os.stat(source.with_name(source.name + suffix))
    except OSError:
        return None
    return copy.st_size, copy.st_mtime_ns


def early_digest(
    early: Mapping[str, list] | None,
    rel: str,
    files: Mapping[str, os.stat_result],
    suffixes: tuple[str, ...],
) -> str | None:
    """Return a file's digest when it and its copies are as this build's early pass left them.

    Within one build no racy window applies: the early pass noted the page's size
    and time before and after reading it, and its copies' after writing them;
    pages are final once `finishing.pages_written` is sent and the copies are
    only ever replaced (a new file, a new time), never written into.
    """
    if not early:
        return None
    return noted_digest(early.get(rel), rel, files, suffixes, NEVER_RACY)


def has_declared_copy(
    name: str, suffixes: tuple[str, ...], copies: frozenset[str]
) -> bool:
    """Tell whether another plugin wrote and declared a compressed copy of a file."""
    return any(name + suffix in copies for suffix in suffixes)


def copies_under(output: str | Path, copies: Mapping[str, tuple]) -> dict[str, tuple]:
    """Return the workers' (stat, SHA-256) of copies by path relative to the output."""
    top = os.path.realpath(output)
    found = ((under(path, top), made) for path, made in copies.items())
    return {rel: made for rel, made in found if rel is not None}


def note_digests(
    output: str | Path,
    files: Mapping[str, os.stat_result],
    digests: Mapping[str, str],
    made: Mapping[str, tuple],
) -> None:
    """Hand the SHA-256 of the files read or written to the build's record.

    A text file's digest holds for the stamp the scan took before it was read
    (or, for one not read again, as noted: its time and size vouched for it);
    a copy's (`made`, see copies_under), for the stat its worker took after
    writing or reading it.
    """
    top = os.path.realpath(output)
    for rel, digest in digests.items():
        note_sha256(os.path.join(top, rel), stamp(files[rel]), digest)
    for rel, (status, sha256) in made.items():
        note_sha256(os.path.join(top, rel), stamp(status), sha256)


def copies_seen(
    files: Mapping[str, os.stat_result],
    ours: Mapping[str, str],
    made: Mapping[str, tuple],
    suffixes: tuple[str, ...],
) -> dict[str, tuple[int, int]]:
    """Return the size and time of the copies this pass knows, by relative path.

    Those of the early pass's pages as the scan found them (early_digest checked
    them against its notes), those written or read now as their worker saw them.
    """
    seen = {
        rel + suffix: (files[rel + suffix].st_size, files[rel + suffix].st_mtime_ns)
        for rel in ours
        for suffix in suffixes
    }
    for rel, (status, _sha256) in made.items():
        seen[rel] = (status.st_size, status.st_mtime_ns)
    return seen


def worker_count(options: Mapping) -> int:
    """Return how many processes compress: the option, or every usable core."""
    return workers_or_cores(options["workers"])


def compress_tree(
    output: Path,
    options: Mapping,
    cache: Path | None = None,
    precompressed: frozenset[str] = frozenset(),
    early: Mapping[str, list] | None = None,
) -> tuple[int, int]:
    """Pre-compress the text files of a built site; return (written, skipped).

    With a `cache` folder, compressed bytes are kept there by the SHA-256 of the
    file's bytes (and the codec), so an unchanged file is copied, not compressed
    again, even into an empty output folder; entries this build did not use are
    removed. The store's index notes each file's size and time with its copies'
    (portal.stamps): a file noted so, with its copies as noted, is not read again.
    A text file with a copy in `precompressed` (relative paths of the copies another
    plugin wrote and declared this run, e.g. the web editor's bundle) is left to it.
    `early` holds the entries this build's early pass noted (EarlyPass): a file
    and its copies still as noted there are not read again either.
    """
    codec = get_codec(options)
    store = cache / codec.tag() if cache is not None else None
    # The output as the build knows it (its walk before the build, brought up
    # to date), else walked now.
    listing = outputs.listing(output) or list_tree(output)
    files, taken_ns = listing.files, listing.taken_ns
    remove_orphans(output, files, listing.folders, options)
    texts = sorted(
        rel
        for rel, status in files.items()
        if is_text(rel, status, options)
        and not (
            precompressed and has_declared_copy(rel, codec.suffixes, precompressed)
        )
    )
    top = str(output)
    # Declared here: the copies are written by worker processes.
    outputs.declare(
        *(f"{top}/{rel}{suffix}" for rel in texts for suffix in codec.suffixes)
    )
    noted, noted_ns = load_index(store, output) if store is not None else ({}, 0)
    digests: dict[str, str] = {}
    ours: dict[str, str] = {}  # made by this build's early pass
    stale = []
    for rel in texts:
        digest = noted_digest(noted.get(rel), rel, files, codec.suffixes, noted_ns)
        if digest is not None:
            digests[rel] = digest
        elif (found := early_digest(early, rel, files, codec.suffixes)) is not None:
            ours[rel] = found
        else:
            stale.append(rel)
    kept = {rel: noted[rel] for rel in digests}
    copies: dict[str, tuple] = {}
    done = compress_files(
        [output / rel for rel in stale], codec, store, worker_count(options), copies
    )
    written = sum(digest.startswith("+") for digest in done)
    read = dict(zip(stale, (digest.lstrip("+") for digest in done), strict=True))
    read.update(ours)  # noted for the next build as if read now (racy ones left out)
    digests.update(read)
    made = copies_under(output, copies)
    note_digests(output, files, digests, made)
    if store is not None:
        prune_store(cache, store, set(digests.values()))
        seen = copies_seen(files, ours, made, codec.suffixes)
        save_index(store, output, kept, read, files, codec.suffixes, taken_ns, seen)
    # The whole folder as this pass leaves it: the build records it from this.
    files.update((rel, file_stat(status)) for rel, (status, _sha256) in made.items())
    outputs.scanned(output, listing)
    log.debug("%s: %s of %s files read again", PREFIX, len(stale), len(texts))
    return written, len(texts) - written


# Compressing the pages once every page is written, beside the search index.


def _compress_pages(
    job: tuple[str, list[str], Codec, str | None, Mapping],
) -> tuple[dict[str, list], dict[str, tuple]]:
    """Write the copies of a chunk of pages in a worker process; return their notes.

    A note is an entry of the store's index (save_index): the page's size, time
    and digest, then each copy's size and time, by the page's path under the
    output. A page whose size or time changed while it was read is not noted.
    The copies' stamps and SHA-256 come second (see compress_file).
    """
    output, paths, codec, store, options = job
    folder = Path(store) if store else None
    notes = {}
    copies: dict[str, tuple] = {}
    for path in paths:
        with contextlib.suppress(OSError):  # gone or replaced: compress_tree decides
            before = os.stat(path)
            if not is_text(path, before, options):
                continue
            digest = compress_file(Path(path), codec, folder, copies).lstrip("+")
            after = os.stat(path)
            if (after.st_size, after.st_mtime_ns) != (
                before.st_size,
                before.st_mtime_ns,
            ):
                continue
            note = [before.st_size, before.st_mtime_ns, digest]
            for suffix in codec.suffixes:
                seen = copies.get(path + suffix)  # compress_file's stat of it
                copy = seen[0] if seen else os.stat(path + suffix)
                note += [copy.st_size, copy.st_mtime_ns]
            notes[under(path, output)] = note
    return notes, copies


class EarlyPass:
    """Compress the pages this build wrote as soon as every page is written.

    The pages are known from `content_written` (every process's, sent again in
    the build process by renderpool), the files plugins write themselves (the web
    editor, the sitemap) from `portal.outputs.declare`; when
    `finishing.pages_written` is sent, `start` sends those written by then in
    chunks to the worker processes, so the copies are made beside Pagefind and
    the rest of the build instead of after the search index. compress_tree runs
    after it as ever and checks what is not as noted: this pass can only save time.

    The workers are forked when the pass is made, before the pages are written:
    forked later, beside the search index's thread, a worker could inherit the
    pipe a `subprocess.Popen` of Pagefind waits on until its child runs, and
    that Popen would wait for the worker, which waits for the build (it did).
    """

    def __init__(
        self,
        output: Path,
        codec: Codec,
        store: Path | None,
        options: Mapping,
        workers: int,
    ) -> None:
        self.output = os.path.realpath(output)  # as portal.paths.under wants it
        self.codec, self.options, self.workers = codec, options, workers
        self.store = str(store) if store is not None else None
        self.pages: list[str] = []
        self.futures: list[Future] = []
        self.copies: dict[str, tuple] = {}  # see compress_file
        self.started = self.finished = 0.0  # time.perf_counter() of the pass
        self.pool = ProcessPoolExecutor(workers, mp_context=get_context("fork"))
        self.pool.submit(int)  # forks every worker now (a "fork" pool forks at once)

    def add(self, path: str) -> None:
        """Note a page (or another file of the output) written by this build."""
        if path.lower().endswith(self.options["compressed_suffixes"]) and under(
            path, self.output
        ):
            self.pages.append(path)

    def start(self, precompressed: frozenset[str] = frozenset()) -> None:
        """Send the pages noted so far to the worker processes, in chunks.

        A file with a copy in `precompressed` (absolute paths of copies another
        plugin wrote and declared) is left to that plugin, as compress_tree does.
        """
        suffixes = self.codec.suffixes
        pages = sorted(
            page
            for page in set(self.pages)
            if not has_declared_copy(page, suffixes, precompressed)
        )
        self.pages = []
        if len(pages) < PARALLEL_MIN:
            return  # compress_tree does a few pages faster than starting workers
        size = max(1, min(CHUNK_MAX, len(pages) // (self.workers * 4)))
        self.started = time.perf_counter()
        for i in range(0, len(pages), size):
            job = (
                self.output,
                pages[i : i + size],
                self.codec,
                self.store,
                self.options,
            )
            self.futures.append(self.pool.submit(_compress_pages, job))
            self.futures[-1].add_done_callback(self._done)

    def _done(self, _future: Future) -> None:
        """Note when a chunk ended (the last one: when the pass ended)."""
        self.finished = time.perf_counter()

    def stop(self, cancel: bool = False) -> dict[str, list]:
        """Wait for every chunk (or only the running ones); return the pages' notes."""
        notes: dict[str, list] = {}
        self.pool.shutdown(wait=True, cancel_futures=cancel)
        for future in self.futures:
            if not future.cancelled():
                done, copies = future.result()
                notes.update(done)
                self.copies.update(copies)
        return notes


_early: EarlyPass | None = None
# The compressed copies other plugins wrote and declared this run (absolute paths).
_precompressed: set[str] = set()


def cache_folder(settings: Mapping, options: Mapping) -> Path | None:
    """Return the compressed-bytes store's folder (None when it is not used)."""
    if options["cache"] and settings.get("CACHE_PATH"):
        return Path(settings["CACHE_PATH"]) / CACHE_SUBDIR
    return None


def note_precompressed(_sender: None, paths: list[str]) -> None:
    """Note the compressed copies a plugin wrote itself: it made them, not us."""
    _precompressed.update(path for path in paths if path.endswith(COMPRESSED))


def precompressed_in(output: Path) -> frozenset[str]:
    """Return the noted copies in the output folder, relative to it."""
    top = os.path.realpath(output)
    found = (under(path, top) for path in _precompressed)
    return frozenset(rel for rel in found if rel is not None)


def note_pages(generators) -> None:
    """Start noting the pages this build writes, when it compresses them."""
    global _early
    stop_early(cancel=True)  # a build that failed after its pages (dev server)
    _precompressed.clear()  # a new run: its plugins declare their copies again
    settings = generators[0].settings
    options = get_options(settings)
    items = len(generators[0].context.get("generated_content") or {})
    # Below PARALLEL_MIN items the workers would cost more than they save.
    if options["compress"] and options["early"] and items >= PARALLEL_MIN:
        codec = get_codec(options)
        cache = cache_folder(settings, options)
        store = cache / codec.tag() if cache is not None else None
        output = Path(settings["OUTPUT_PATH"])
        workers = worker_count(options)
        _early = EarlyPass(output, codec, store, options, workers)


def note_page(path: str, **_kwargs: Any) -> None:
    """Note a page or feed Pelican just wrote (`content_written`, `feed_written`)."""
    if _early is not None:
        _early.add(path)


def note_declared(_sender: None, paths: list[str]) -> None:
    """Note the files plugins write themselves (portal.outputs.declare), e.g. the editor."""
    note_precompressed(_sender, paths)
    for path in paths:
        note_page(path)


def compress_pages_early(_generator) -> None:
    """Compress the pages written so far on every core (`finishing.pages_written`)."""
    if _early is not None:
        _early.start(frozenset(_precompressed))


def stop_early(cancel: bool = False) -> dict[str, list]:
    """Wait for the early pass, if one was started; return its notes on the pages."""
    global _early
    early, _early = _early, None
    if early is None:
        return {}
    waited = time.perf_counter()
    notes = early.stop(cancel)
    note_digests(early.output, {}, {}, copies_under(early.output, early.copies))
    log.info(
        "%s: %s pages compressed in %.1f s once every page was written (waited "
        "%.1f s for them)",
        PREFIX,
        len(notes),
        early.finished - early.started,
        time.perf_counter() - waited,
    )
    return notes


def finish(pelican) -> None:
    """Write the hashed theme files, then pre-compress the site."""
    started = time.perf_counter()
    early = stop_early()
    options = get_options(pelican.settings)
    output = Path(pelican.output_path)
    copies = write_hashed_copies(pelican.settings, output, options)
    log.debug("%s: %s hashed theme files written", PREFIX, copies)
    if options["compress"]:
        cache = cache_folder(pelican.settings, options)
        written, skipped = compress_tree(
            output, options, cache, precompressed_in(output), early
        )
        # The bench (bench/run.py) reads the build's own peak memory from this line.
        log.info(
            "%s: compressed %s files (%s unchanged; %s pages once every page was "
            "written) in %.1f s; build peak memory %.0f MB",
            PREFIX,
            written + len(early),
            max(0, skipped - len(early)),
            len(early),
            time.perf_counter() - started,
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )


def check_settings(pelican) -> None:
    """Check the ASSETS setting once, before anything is built."""
    get_options(pelican.settings)


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.initialized.connect(check_settings)
    signals.generator_init.connect(install_filter)
    signals.all_generators_finalized.connect(note_pages)
    signals.content_written.connect(note_page)
    signals.feed_written.connect(note_page)
    outputs.output_declared.connect(note_declared)
    finishing.pages_written.connect(compress_pages_early)
    finishing.connect("compress", finish)
