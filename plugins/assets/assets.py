"""assets: content-hashed names for theme files, and pre-compressed text files.

The `asset` Jinja filter turns `"css/site.css"` into `theme/css/site.<hash8>.css`
(the first 8 hex digits of the file's SHA-256). After the build, a hashed copy of
every theme file is written next to the unhashed one (the unhashed file stays, for
links from outside the site), so a page always names the exact bytes it was built
with. Then every text file over `min_size` bytes gets a `.gz` (level 9, no time
stamp: byte-identical builds) and a `.br` copy, rewritten only when missing or stale.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pelican import signals

from portal import outputs
from portal.options import merge_options

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
}
COMPRESSED = (".gz", ".br")


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


def install_filter(generator) -> None:
    """Make the templates' `asset` filter return content-hashed names."""
    options = get_options(generator.settings)
    generator.env.filters["asset"] = make_filter(generator.settings, options)


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


def text_files(output: Path, options: Mapping) -> Iterator[Path]:
    """Yield the text files worth compressing, in a stable order."""
    for path in sorted(output.rglob("*")):
        if (
            path.is_file()
            and path.suffix.lower() in options["compressed_suffixes"]
            and path.stat().st_size >= options["min_size"]
        ):
            yield path


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


def compress_file(source: Path, use_brotli: bool) -> bool:
    """Write `.gz` (and `.br`) copies of a file unless current; tell if written."""
    data = source.read_bytes()
    br = source.with_name(source.name + ".br")
    gz = source.with_name(source.name + ".gz")
    if is_current(source, data) and (not use_brotli or br.is_file()):
        return False
    _write_atomic(gz, gzip.compress(data, compresslevel=9, mtime=0))
    if use_brotli:
        _write_atomic(br, brotli.compress(data, quality=11))
    return True


def _write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to a temporary file and rename it into place."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def remove_orphans(output: Path, options: Mapping) -> int:
    """Remove the `.gz`/`.br` copies whose text file is gone; return how many."""
    removed = 0
    for path in sorted(output.rglob("*")):
        source = path.with_suffix("")
        if (
            path.suffix in COMPRESSED
            and source.suffix.lower() in options["compressed_suffixes"]
            and not source.exists()
        ):
            path.unlink()
            removed += 1
    return removed


def compress_tree(output: Path, options: Mapping) -> tuple[int, int]:
    """Pre-compress the text files of a built site; return (written, skipped)."""
    use_brotli = bool(options["brotli"]) and brotli is not None
    if options["brotli"] and brotli is None:
        log.warning("%s: the brotli package is missing; writing .gz only", PREFIX)
    remove_orphans(output, options)
    written = skipped = 0
    for path in text_files(output, options):
        outputs.declare(path.with_name(path.name + ".gz"))
        if use_brotli:
            outputs.declare(path.with_name(path.name + ".br"))
        if compress_file(path, use_brotli):
            written += 1
        else:
            skipped += 1
    return written, skipped


def finish(pelican) -> None:
    """Write the hashed theme files, then pre-compress the site."""
    options = get_options(pelican.settings)
    output = Path(pelican.output_path)
    copies = write_hashed_copies(pelican.settings, output, options)
    log.debug("%s: %s hashed theme files written", PREFIX, copies)
    if options["compress"]:
        written, skipped = compress_tree(output, options)
        log.info("%s: compressed %s files (%s unchanged)", PREFIX, written, skipped)


def check_settings(pelican) -> None:
    """Check the ASSETS setting once, before anything is built."""
    get_options(pelican.settings)


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.initialized.connect(check_settings)
    signals.generator_init.connect(install_filter)
    signals.finalized.connect(finish)
