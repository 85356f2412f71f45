"""images: responsive, metadata-free WebP and JPEG sizes of every item's image.

Each `image` of a model, news item or page is decoded once, turned upright (EXIF
orientation), converted to sRGB RGB, stripped of all metadata (GPS included) and
resized to a few widths, each written as WebP and as a progressive JPEG. Results are
cached by content hash (source bytes + options), so a rebuild with unchanged images
processes none; output names carry that hash, so a changed image gets new names.
One index in the cache folder remembers each source's size, mtime, hash and variant
sizes: a rebuild reads (and hashes) only the sources whose size or mtime changed, or
that changed within seconds of the last index, and publishes with one stat per file.
The images to make are planned from their headers (names and sizes) and made on
threads while the build goes on; the generator's output waits for them. A missing,
unreadable or huge image stops the build, in Vietnamese, before any page is written.
Templates get `article.picture` and `partials/picture.html`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import stat
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import PIL
from pelican import signals
from pelican.generators import Generator
from PIL import Image, features

from portal import finishing, imagecheck, outputs
from portal.files import Stamp, file_sha256, note_sha256, noted_sha256, stamp
from portal.imagecheck import MAX_IMAGE_PIXELS, MISSING, BadImage
from portal.options import check_whole_numbers, merge_options, workers_or_cores
from portal.problems import ContentError, Problem
from portal.stamps import is_racy, vouches
from portal.text import slugify

__all__ = [
    "ImageError",
    "ImagesGenerator",
    "OptionsError",
    "Picture",
    "get_options",
    "plan_widths",
    "prepare",
    "register",
    "start",
]

log = logging.getLogger(__name__)
PREFIX = "images"
SETTING = "IMAGES"
# Bump when the processing changes, so every cached image is made again.
PROCESS_VERSION = 2
WIDTHS = (320, 640, 960, 1280)
WEBP_QUALITY = 78
JPEG_QUALITY = 80
FALLBACK_WIDTH = 960
OUTPUT_DIR = "images"
SOURCE_DIR = "images"  # under the content folder, as FRONTMATTER["images_dir"]
WORKERS = 0  # threads making variants; 0: one per usable core
DEFAULTS: Mapping[str, Any] = {
    "widths": WIDTHS,  # capped at the source width
    "webp_quality": WEBP_QUALITY,
    "jpeg_quality": JPEG_QUALITY,
    "fallback_width": FALLBACK_WIDTH,  # the <img src> JPEG: the widest not above it
    "output_dir": OUTPUT_DIR,  # under the output folder
    "cache_dir": None,  # None: <CACHE_PATH>/images
    "max_pixels": MAX_IMAGE_PIXELS,
    "workers": WORKERS,  # threads (Pillow lets go of the GIL); 0: one per core
    "fail_on_error": True,  # False: report bad images, show items without them
}
SUFFIXES = {"webp": ".webp", "jpeg": ".jpg"}
INDEX_NAME = "index.json"  # in the cache folder: what each source was last time
# Bump when the index's layout changes, so an old index is ignored (not misread).
INDEX_FORMAT = 1
KEY_PATTERN = re.compile(r"[0-9a-f]{64}")


class OptionsError(ContentError):
    """The IMAGES setting is wrong."""


class ImageError(ContentError):
    """An image cannot be processed: the build stops before writing."""


def _positive_int(options: Mapping, key: str, upper: int | None = None) -> None:
    """Check that an option is an int from 1 to `upper`."""
    value = options[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise OptionsError(f"{PREFIX}: {SETTING}['{key}'] must be a positive int")
    if upper is not None and value > upper:
        raise OptionsError(f"{PREFIX}: {SETTING}['{key}'] must be at most {upper}")


def get_options(settings: Mapping) -> dict[str, Any]:
    """Merge the IMAGES setting with the defaults and check it once."""
    options = merge_options(settings, SETTING, DEFAULTS, PREFIX, OptionsError)
    widths = options["widths"]
    if (
        not isinstance(widths, list | tuple)
        or not widths
        or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths)
    ):
        raise OptionsError(
            f"{PREFIX}: {SETTING}['widths'] must be a list of positive ints"
        )
    options["widths"] = tuple(sorted(set(widths)))
    for key in ("webp_quality", "jpeg_quality"):
        _positive_int(options, key, 100)
    for key in ("fallback_width", "max_pixels"):
        _positive_int(options, key)
    check_whole_numbers(options, {"workers": 0}, SETTING, PREFIX, OptionsError)
    if not isinstance(options["fail_on_error"], bool):
        raise OptionsError(
            f"{PREFIX}: {SETTING}['fail_on_error'] must be True or False"
        )
    for key in ("output_dir", "cache_dir"):
        value = options[key]
        if key == "cache_dir" and value is None:
            continue
        if not isinstance(value, str) or not value.strip("/ "):
            raise OptionsError(f"{PREFIX}: {SETTING}['{key}'] must be a folder name")
    if (
        Path(options["output_dir"]).is_absolute()
        or ".." in Path(options["output_dir"]).parts
    ):
        raise OptionsError(
            f"{PREFIX}: {SETTING}['output_dir'] must be relative, inside the output"
        )
    if options["cache_dir"] is None:
        options["cache_dir"] = str(Path(settings["CACHE_PATH"]) / "images")
    if not features.check("webp"):
        raise OptionsError(f"{PREFIX}: this Pillow cannot write WebP")
    return options


@dataclass(frozen=True)
class Variant:
    """One file made from a source image: its format, size and name."""

    kind: str  # "webp" | "jpeg"
    width: int
    height: int
    cached: str  # the file's path in the cache folder
    name: str  # under the output folder's image folder
    nbytes: int | None = None  # the file's size; None: not known, stat the file
    # SHA-256 of the cached file and its stamp then (portal.files.stamp), when
    # this build made it: a copy of it needs no reading for the build's record.
    # Not part of what the variant is (equality).
    digest: tuple[str, Stamp] | None = field(default=None, compare=False)

    @classmethod
    def made(cls, *values: Any) -> Variant:
        """Return a variant of these field values, without the frozen __init__.

        That __init__ sets each of the seven fields through object.__setattr__,
        and a rebuild makes every variant again (13,392 at 5,000 items): filling
        the new object's __dict__ at once costs a third of it.
        """
        variant = _new_object(cls)
        variant.__dict__.update(zip(VARIANT_FIELDS, values, strict=True))
        return variant


VARIANT_FIELDS = tuple(f.name for f in fields(Variant))
_new_object = object.__new__


@dataclass(frozen=True)
class Processed:
    """A source image made into its variants."""

    source: str  # relative to content/images/
    key: str  # sha256 of the source bytes and the options
    variants: tuple[Variant, ...]
    fresh: bool  # made by this build, not taken from the cache

    def of(self, kind: str) -> list[Variant]:
        """Return the variants of one format, narrowest first."""
        return sorted((v for v in self.variants if v.kind == kind), key=_width)


def _width(variant: Variant) -> int:
    return variant.width


@dataclass(frozen=True)
class Picture:
    """What `partials/picture.html` needs to draw an item's image."""

    src: str  # fallback JPEG URL relative to the site root, no leading slash
    width: int
    height: int
    alt: str
    caption: str
    webp: list[tuple[str, int]]  # (url, width) for srcset, narrowest first
    jpeg: list[tuple[str, int]]


def options_key(options: Mapping) -> bytes:
    """Return the options that change the output, as bytes for the hash."""
    used = {
        "widths": list(options["widths"]),
        "webp_quality": options["webp_quality"],
        "jpeg_quality": options["jpeg_quality"],
        "version": PROCESS_VERSION,
        "pillow": PIL.__version__,
    }
    return json.dumps(used, sort_keys=True).encode()


def plan_widths(source_width: int, widths: Iterable[int]) -> list[int]:
    """Return the widths to make: those narrower than the source, and the source's."""
    below = [w for w in widths if w < source_width]
    if source_width <= max(widths) and source_width not in below:
        below.append(source_width)
    return below


def _sizes(width: int, height: int, widths: Iterable[int]) -> list[tuple[int, int]]:
    """Return the (width, height) of each variant of a decoded image, widest first."""
    return [
        (each, max(1, round(height * each / width)))
        for each in sorted(plan_widths(width, widths), reverse=True)
    ]


# EXIF orientations that turn the image a quarter (ImageOps.exif_transpose).
QUARTER_TURNS = frozenset({5, 6, 7, 8})
ORIENTATION = 0x0112


def _planned(path: Path, options: Mapping) -> list[tuple[int, int]]:
    """Return the sizes `render` will make of an image, from its header alone.

    The same steps as `_decode` without decoding: the JPEG draft scale (which
    sets the size at once) and the EXIF orientation (which may swap the sides).
    """
    widest = max(options["widths"])
    with imagecheck.opened(path, options["max_pixels"]) as opened:
        try:
            opened.draft("RGB", (widest, widest))
            width, height = opened.size
            if opened.getexif().get(ORIENTATION, 1) in QUARTER_TURNS:
                width, height = height, width
        except (OSError, SyntaxError, ValueError) as error:
            raise BadImage(
                f"bị hỏng hoặc không đọc hết được ({error})", imagecheck.RESAVE
            ) from None
    return _sizes(width, height, options["widths"])


def _decode(path: Path, max_pixels: int, widest: int) -> Image.Image:
    """Open, check and decode an image, upright, in sRGB RGB, without metadata."""
    # Imported when an image is made (a rebuild seldom makes one): ImageOps and
    # ImageCms are 2-7 ms of every build's start otherwise.
    from PIL import ImageOps

    with imagecheck.opened(path, max_pixels) as opened:
        # A JPEG decodes faster at 1/2, 1/4, 1/8 scale while still >= widest.
        opened.draft("RGB", (widest, widest))
        try:
            image = ImageOps.exif_transpose(opened)
        except (OSError, SyntaxError, ValueError) as error:
            raise BadImage(
                f"bị hỏng hoặc không đọc hết được ({error})", imagecheck.RESAVE
            ) from None
        imagecheck.decode(image)
    return _clean(image, path)


def _clean(image: Image.Image, path: Path) -> Image.Image:
    """Return the image in sRGB RGB on white, with no metadata at all."""
    icc = image.info.get("icc_profile")
    if image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    ):
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, "white")
        image.paste(rgba, mask=rgba.getchannel("A"))
    elif icc and image.mode in ("RGB", "CMYK"):
        from PIL import ImageCms  # see _decode

        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            image = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            log.warning("%s: %s: bỏ qua hồ sơ màu ICC không đọc được", PREFIX, path)
    image = image.convert("RGB")
    image.info.clear()
    return image


def _temporary(path: Path) -> Path:
    """Return a temporary name beside `path`, this process's and thread's own."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def _save(image: Image.Image, kind: str, path: Path, options: Mapping) -> int:
    """Encode one variant into `path` atomically (no metadata); return its size."""
    temporary = _temporary(path)
    if kind == "webp":
        image.save(temporary, "WEBP", quality=options["webp_quality"], method=4)
    else:
        image.save(
            temporary,
            "JPEG",
            quality=options["jpeg_quality"],
            optimize=True,
            progressive=True,
        )
    nbytes = temporary.stat().st_size
    os.replace(temporary, path)
    return nbytes


def _manifest_path(cache: Path, key: str) -> Path:
    return cache / f"{key}.json"


def _variants(
    source: str,
    key: str,
    sizes: list,
    cache: str | Path,
    nbytes: list | None = None,
    digests: list | None = None,
) -> tuple[Variant, ...]:
    """Name the variant files of an image from its manifest sizes (and file sizes)."""
    stem = slugify(os.path.splitext(os.path.basename(source))[0]) or "anh"
    cached = f"{os.path.join(cache, '')}{key}-"  # the folder with its separator
    named = f"{stem}-{key[:8]}-"
    count = len(sizes) * len(SUFFIXES)
    nbytes = [None] * count if nbytes is None else nbytes
    digests = [None] * count if digests is None else digests
    if len(nbytes) != count or len(digests) != count:
        raise ValueError(f"{PREFIX}: {source}: one file size per variant expected")
    variants: list[Variant] = []
    for width, height in sizes:
        for kind, suffix in SUFFIXES.items():
            i = len(variants)
            end = f"{width}{suffix}"
            variants.append(
                Variant.made(
                    kind,
                    width,
                    height,
                    cached + end,
                    named + end,
                    nbytes[i],
                    digests[i],
                )
            )
    return tuple(variants)


def _digest(path: Path) -> tuple[str, Stamp] | None:
    """Return a file's SHA-256 and its stamp while it was read (None if it moved)."""
    try:
        before = os.lstat(path)
        sha = file_sha256(path)
        after = os.lstat(path)
    except OSError:
        return None
    if sha is None or stamp(before) != stamp(after):
        return None
    return sha.hex(), stamp(after)


def _file_size(path: str) -> int | None:
    """Return the size of a regular file, or None if it is not there."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def _cached(source: str, key: str, cache: str | Path) -> Processed | None:
    """Return an image's variants from the cache, if all of them are there."""
    try:
        manifest = _manifest_path(Path(cache), key)
        sizes = json.loads(manifest.read_text("utf-8"))["sizes"]
        variants = _variants(source, key, sizes, cache)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    nbytes = [_file_size(v.cached) for v in variants]
    if None in nbytes:
        return None
    variants = _variants(source, key, sizes, cache, nbytes)
    return Processed(source, key, variants, fresh=False)


def render(source: str, path: Path, key: str, options: Mapping) -> Processed:
    """Decode one image and write its variants and manifest into the cache."""
    cache = Path(options["cache_dir"])
    image = _decode(path, options["max_pixels"], max(options["widths"]))
    sizes = []
    nbytes = []
    digests = []
    resized = image
    # Widest first, each from the previous one: half the work of resizing each
    # from the full image, with no visible difference.
    for width, height in _sizes(image.width, image.height, options["widths"]):
        if width != resized.width:
            resized = resized.resize((width, height), Image.Resampling.LANCZOS)
        sizes.append((width, height))
        for kind, suffix in SUFFIXES.items():
            path = cache / f"{key}-{width}{suffix}"
            nbytes.append(_save(resized, kind, path, options))
            digests.append(_digest(path))  # just written: read from memory
    manifest = _manifest_path(cache, key)
    temporary = _temporary(manifest)
    temporary.write_text(json.dumps({"source": source, "sizes": sizes}), "utf-8")
    os.replace(temporary, manifest)
    variants = _variants(source, key, sizes, cache, nbytes, digests)
    return Processed(source, key, variants, fresh=True)


@contextlib.contextmanager
def _as_bad_image() -> Iterator[None]:
    """Turn a failure to read a source image into a BadImage, in Vietnamese."""
    try:
        yield
    except FileNotFoundError:
        raise BadImage(*MISSING) from None
    except OSError as error:
        raise BadImage(f"không đọc được ({error})", "") from None


def _stat(path: str | Path) -> os.stat_result:
    """Return a source image's status, or say why it cannot be read."""
    with _as_bad_image():
        return os.stat(path)


def _hash(path: Path, salt: bytes) -> str:
    """Read a source image and return the sha256 of the options and its bytes."""
    with _as_bad_image():
        data = path.read_bytes()
    return hashlib.sha256(salt + data).hexdigest()


def _load_index(cache: Path, salt: bytes) -> tuple[int, dict[str, Any]]:
    """Return the index's snapshot time and entries; (0, {}) if unusable."""
    try:
        index = json.loads((cache / INDEX_NAME).read_bytes())
        if (
            index["format"] == INDEX_FORMAT
            and index["options"] == salt.decode()
            and isinstance(index["taken"], int)
            and isinstance(index["sources"], dict)
        ):
            return index["taken"], index["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return 0, {}


def _save_index(
    cache: Path, salt: bytes, taken: int, entries: dict[str, dict], old: tuple
) -> None:
    """Write the index atomically if its entries changed or one was racy."""
    old_taken, old_entries = old
    racy = any(is_racy(e["mtime_ns"], old_taken) for e in entries.values())
    if entries != old_entries or racy:
        _write_index(cache, salt, taken, entries)


def _write_index(cache: Path, salt: bytes, taken: int, entries: dict) -> None:
    """Write the index atomically: a temporary file, then a rename."""
    index = {
        "format": INDEX_FORMAT,
        "options": salt.decode(),
        "taken": taken,
        "sources": entries,
    }
    path = cache / INDEX_NAME
    temporary = _temporary(path)
    try:
        temporary.write_text(json.dumps(index, separators=(",", ":")), "utf-8")
        os.replace(temporary, path)
    except OSError as error:
        log.warning("%s: không ghi được chỉ mục ảnh %s (%s)", PREFIX, path, error)


def _forget(cache: Path, salt: bytes, sources: Iterable[str]) -> None:
    """Drop some sources from the index, so the next build hashes them again."""
    taken, old = _load_index(cache, salt)
    dropped = set(sources)
    entries = {k: v for k, v in old.items() if k not in dropped}
    if entries != old:
        _write_index(cache, salt, taken, entries)


def _entry(status: os.stat_result, processed: Processed) -> dict[str, Any]:
    """Return a source's index entry: its size, mtime, key and variant sizes."""
    variants = processed.variants
    return {
        "size": status.st_size,
        "mtime_ns": status.st_mtime_ns,
        "key": processed.key,
        "sizes": [[v.width, v.height] for v in variants[:: len(SUFFIXES)]],
        "bytes": [v.nbytes for v in variants],
    }


def _unchanged(entry: dict, status: os.stat_result, taken: int) -> bool:
    """Tell whether the index vouches for a source's bytes without reading them."""
    return vouches(entry.get("size"), entry.get("mtime_ns"), status, taken)


def _sound(key: Any, sizes: Any, nbytes: Any) -> bool:
    """Tell whether an index entry's key, sizes and file sizes are well formed."""
    return (
        isinstance(key, str)
        and KEY_PATTERN.fullmatch(key) is not None
        and isinstance(sizes, list)
        and bool(sizes)
        and all(
            isinstance(size, list)
            and len(size) == 2
            and all(type(n) is int and n > 0 for n in size)
            for size in sizes
        )
        and isinstance(nbytes, list)
        and len(nbytes) == len(sizes) * len(SUFFIXES)
        and all(n is None or type(n) is int for n in nbytes)
    )


def _indexed(source: str, entry: dict, cache: str) -> Processed | None:
    """Return an image's variants as its index entry names them, if it is sound."""
    key, sizes, nbytes = entry.get("key"), entry.get("sizes"), entry.get("bytes")
    if not _sound(key, sizes, nbytes):
        return None
    variants = _variants(source, key, sizes, cache, nbytes)
    return Processed(source, key, variants, fresh=False)


def _known(
    source: str, root: Path, options: Mapping, salt: bytes, index: tuple
) -> tuple[os.stat_result, Processed | str]:
    """Return a source's status and its variants from the index or the cache.

    When neither has them, return the key to make them under instead.
    """
    taken, entries = index
    path = os.path.join(root, source)  # no Path per image: 1,443 at 5,000 items
    status = _stat(path)
    cache = options["cache_dir"]
    entry = entries.get(source)
    if not isinstance(entry, dict):
        entry = None
    if entry and _unchanged(entry, status, taken):
        processed = _indexed(source, entry, cache)
        if processed:
            return status, processed
    key = _hash(Path(path), salt)
    processed = (
        entry and entry.get("key") == key and _indexed(source, entry, cache)
    ) or _cached(source, key, cache)
    return status, processed or key


def _threads(options: Mapping) -> int:
    """Return how many threads make variants (0: one per usable core)."""
    return workers_or_cores(options["workers"])


def _work(source: str, path: Path, key: str, options: Mapping) -> Processed | BadImage:
    """Make one image's variants; return its error instead of raising it."""
    try:
        return render(source, path, key, options)
    except BadImage as error:
        return error


def _same_bytes(source: str, made: Processed, cache: str) -> Processed:
    """Return the variants of a source whose bytes another source's were made from."""
    sizes = [[v.width, v.height] for v in made.variants[:: len(SUFFIXES)]]
    nbytes = [v.nbytes for v in made.variants]
    variants = _variants(source, made.key, sizes, cache, nbytes)
    return Processed(source, made.key, variants, fresh=False)


def _sizes_of(processed: Processed) -> list[tuple[int, int]]:
    """Return the (width, height) of each width of an image's variants."""
    return [(v.width, v.height) for v in processed.variants[:: len(SUFFIXES)]]


@dataclass
class Making:
    """The images a build makes on threads while it goes on.

    `done` names every source's variants at once (those being made as planned,
    without their file sizes); `finish` waits for them and returns them whole.
    """

    done: dict[str, Processed]
    failed: dict[str, BadImage]
    waiting: dict[str, str]  # source -> key of the job making its variants
    jobs: dict[str, Future]  # key -> its Processed or BadImage
    pool: ThreadPoolExecutor | None
    statuses: dict[str, os.stat_result]
    index: tuple[int, dict[str, Any]]
    taken: int
    options: Mapping
    started: float
    count: int  # distinct sources asked for
    planned: float = 0.0  # seconds `start` took (the build waited for them)

    def finish(self) -> tuple[dict[str, Processed], dict[str, BadImage]]:
        """Wait for the variants being made; write the index; return all and errors."""
        waiting = time.perf_counter()
        made = {key: job.result() for key, job in self.jobs.items()}
        waited = time.perf_counter() - waiting
        if self.pool is not None:
            self.pool.shutdown()
        cache = self.options["cache_dir"]
        done: dict[str, Processed] = {}
        failed = dict(self.failed)
        entries: dict[str, dict] = {}
        for source, found in self.done.items():
            key = self.waiting.get(source)
            if key is not None:
                result = made[key]
                if isinstance(result, BadImage):
                    failed[source] = result
                    continue
                if _sizes_of(result) != _sizes_of(found):
                    raise RuntimeError(
                        f"{PREFIX}: {source}: made {_sizes_of(result)}, "
                        f"planned {_sizes_of(found)} (_planned differs from render)"
                    )
                if result.source != source:
                    result = _same_bytes(source, result, cache)
                found = result
            done[source] = found
            entries[source] = _entry(self.statuses[source], found)
        salt = options_key(self.options)
        _save_index(Path(cache), salt, self.taken, entries, self.index)
        fresh = sum(p.fresh for p in done.values())
        log.info(
            "%s: %s ảnh: xử lý %s, dùng lại %s từ bộ nhớ đệm, %s lỗi"
            " (%.2f s từ lúc bắt đầu, %.2f s để tra và đo, chờ %.2f s)",
            PREFIX,
            self.count,
            fresh,
            len(done) - fresh,
            len(failed),
            time.perf_counter() - self.started,
            self.planned,
            waited,
        )
        return done, failed


def start(sources: Iterable[str], root: Path, options: Mapping) -> Making:
    """Look every source image up and start making, on threads, those not cached.

    Sources are looked up (index, then hash and cache) one by one; the images
    still to make are planned from their headers (names and sizes, so pages can
    be drawn at once) and made once per content hash, on a thread per core,
    while the build goes on: Pillow lets go of the GIL while it decodes,
    resizes and encodes.
    """
    cache = Path(options["cache_dir"])
    cache.mkdir(parents=True, exist_ok=True)
    salt = options_key(options)
    taken = time.time_ns()  # before any source is looked at
    index = _load_index(cache, salt)
    unique = sorted(set(sources))
    started = time.perf_counter()
    making = Making(
        {}, {}, {}, {}, None, {}, index, taken, options, started, len(unique)
    )
    planned: dict[str, Processed | BadImage] = {}
    for source in unique:
        try:
            status, found = _known(source, root, options, salt, index)
        except BadImage as error:
            making.failed[source] = error
            continue
        making.statuses[source] = status
        if isinstance(found, str):
            key, found = found, planned.get(found)
            if found is None:
                found = planned[key] = _plan(source, root, key, options)
                if not isinstance(found, BadImage):
                    making.waiting[source] = key
            elif not isinstance(found, BadImage):
                making.waiting[source] = key
                found = _same_bytes(source, found, options["cache_dir"])
            if isinstance(found, BadImage):
                making.failed[source] = found
                continue
        making.done[source] = found
    firsts = {}
    for source, key in making.waiting.items():
        firsts.setdefault(key, source)
    making.planned = time.perf_counter() - started
    if firsts:
        threads = min(_threads(options), len(firsts))
        making.pool = ThreadPoolExecutor(threads, thread_name_prefix=PREFIX)
        for key, source in firsts.items():
            job = making.pool.submit(_work, source, root / source, key, options)
            making.jobs[key] = job
    return making


def _plan(source: str, root: Path, key: str, options: Mapping) -> Processed | BadImage:
    """Return an image's variants as `render` will make them (no file sizes yet)."""
    try:
        sizes = _planned(root / source, options)
    except BadImage as error:
        return error
    variants = _variants(source, key, sizes, options["cache_dir"])
    return Processed(source, key, variants, fresh=True)


def prepare(
    sources: Iterable[str], root: Path, options: Mapping
) -> tuple[dict[str, Processed], dict[str, BadImage]]:
    """Process every source image (relative to `root`) not already in the cache."""
    return start(sources, root, options).finish()


def picture(
    content, processed: Processed, options: Mapping, drawn: dict | None = None
) -> Picture:
    """Describe an item's image for the templates.

    `drawn` keeps what an image's pictures share (by source), worked out once
    per image for the items that show it; each picture gets its own lists.
    """
    shared = None if drawn is None else drawn.get(processed.source)
    if shared is None:
        shared = _drawn(processed, options)
        if drawn is not None:
            drawn[processed.source] = shared
    fallback, webp, jpeg = shared
    return Picture(
        src=fallback[0],
        width=fallback[1],
        height=fallback[2],
        alt=getattr(content, "image_alt", "") or "",
        caption=getattr(content, "image_caption", "") or "",
        webp=list(webp),
        jpeg=list(jpeg),
    )


def _drawn(processed: Processed, options: Mapping) -> tuple[tuple, tuple, tuple]:
    """Return an image's fallback JPEG (URL, width, height) and its two srcsets."""
    folder = options["output_dir"].strip("/")
    webp = tuple((f"{folder}/{v.name}", v.width) for v in processed.of("webp"))
    jpegs = processed.of("jpeg")
    fitting = [v for v in jpegs if v.width <= options["fallback_width"]]
    fallback = fitting[-1] if fitting else jpegs[0]
    return (
        (f"{folder}/{fallback.name}", fallback.width, fallback.height),
        webp,
        tuple((f"{folder}/{v.name}", v.width) for v in jpegs),
    )


CONTENT_LISTS = (
    "articles",
    "drafts",
    "hidden_articles",
    "pages",
    "draft_pages",
    "hidden_pages",
)


def _contents(context: Mapping) -> list:
    """Return every article and page the build read, drafts and hidden ones too."""
    return [content for name in CONTENT_LISTS for content in context.get(name, [])]


def _problem(content, settings: Mapping, error: BadImage) -> Problem:
    """Word an image error as a problem of the file that uses the image."""
    source = Path(content.source_path)
    root = Path(settings["PATH"]).resolve().parent
    try:
        display = source.resolve().relative_to(root).as_posix()
    except ValueError:
        display = source.as_posix()
    line = getattr(content, "source_lines", {}).get("image")
    message = f"ảnh “{content.image}” {error.message}"
    return Problem(display, "image", message, error.fix, line)


class ImagesGenerator(Generator):
    """Make every item's image variants, then copy them into the output."""

    def generate_context(self) -> None:
        """Process the images of all items and give each item its `picture`."""
        self.options = get_options(self.settings)
        self.processed: dict[str, Processed] = {}
        self.making: Making | None = None
        contents = _contents(self.context)
        for content in contents:
            content.picture = None
        # Drafts not written (DRAFT_SAVE_AS empty) must not publish their images.
        used = [c for c in contents if getattr(c, "image", None) and c.save_as]
        root = Path(self.settings["PATH"]) / _source_dir(self.settings)
        self.root = root
        self.used = used
        # Made on threads while the other contexts and the pages are made;
        # generate_output waits for them.
        self.making = start((c.image for c in used), root, self.options)
        done = self.making.done
        self._report(self.making.failed, "chưa dựng trang nào")
        self.processed = done
        drawn: dict[str, tuple] = {}
        for content in used:
            if content.image in done:
                content.picture = picture(
                    content, done[content.image], self.options, drawn
                )
        outputs.note_item_fields("picture")  # from the item's image alone
        # Copied into the output once made, on a thread of their own from the
        # moment pages are written (both page-writing processes take pages
        # meanwhile; not before: the content's checks and the incremental
        # plugin's cleaning of the output come first); else by generate_output.
        self.copying = None
        _copies_to_start.add(self)

    def start_copying(self) -> None:
        """Copy the variants into the output on a thread, once they are made."""
        _copies_to_start.discard(self)
        if self.making is None or self.copying is not None:
            return
        self.copier = ThreadPoolExecutor(1, thread_name_prefix=f"{PREFIX}_copy")
        self.copying = self.copier.submit(self._finish_and_copy, self.making)

    def _finish_and_copy(
        self, making: Making
    ) -> tuple[dict[str, Processed], dict[str, BadImage], list[str]]:
        """Wait for the images being made; copy each one's variants into the output.

        Returns the images, their errors and the sources whose cached files were
        missing (made again by generate_output).
        """
        done, failed = making.finish()
        missing = []
        prefix = self._prefix() if done else ""
        for source, processed in done.items():
            try:
                publish(processed, prefix)
            except FileNotFoundError:
                missing.append(source)
        return done, failed, missing

    def _prefix(self) -> str:
        """Make the output folder of the variants; return its real path and separator."""
        folder = Path(self.output_path) / self.options["output_dir"]
        folder.mkdir(parents=True, exist_ok=True)
        # With its separator (names are appended), links resolved as in the record.
        return os.path.join(os.path.realpath(folder), "")

    def _report(self, failed: Mapping[str, BadImage], state: str) -> None:
        """Log each item whose image failed; stop the build if the options say so."""
        problems = [
            _problem(c, self.settings, failed[c.image])
            for c in self.used
            if c.image in failed
        ]
        for problem in sorted(set(problems), key=Problem.order.fget):
            log.error("%s: LỖI %s", PREFIX, problem)
        if problems and self.options["fail_on_error"]:
            raise ImageError(
                f"{PREFIX}: {len(failed)} ảnh lỗi, {state}."
                " Sửa các lỗi ở trên rồi chạy lại."
            )

    def finish(self) -> list[str]:
        """Wait for the images being made and copied; stop the build if one failed.

        Returns the sources whose cached files were missing when copied.
        """
        making, self.making = self.making, None
        if making is None:
            return []
        copying, self.copying = self.copying, None
        if copying is None:  # pages_starting was not sent (no renderpool)
            done, failed, missing = self._finish_and_copy(making)
        else:
            done, failed, missing = copying.result()
            self.copier.shutdown()
        # Only a source changed or damaged since it was planned fails here: its
        # pages already name its variants, so the build stops whatever the options.
        late = {s: e for s, e in failed.items() if s not in making.failed}
        if late:
            self._report(late, "sau khi đã dựng trang")
            raise ImageError(
                f"{PREFIX}: {len(late)} ảnh lỗi khi đang dựng trang."
                " Sửa các lỗi ở trên rồi chạy lại."
            )
        self.processed = done
        return missing

    def output_files(self) -> list[str]:
        """Return the files this generator writes outside Pelican's writer.

        The incremental plugin keeps them in its list of the build's files: a
        missing one means a build, and one no longer made is removed.
        """
        folder = os.path.join(self.output_path, self.options["output_dir"], "")
        return [
            folder + variant.name
            for processed in self.processed.values()
            for variant in processed.variants
        ]

    def generate_output(self, writer) -> None:
        """Wait for the variants copied beside the pages; make again any not cached."""
        missing = self.finish()
        if not missing:
            return
        prefix = self._prefix()
        for source in missing:
            log.warning(
                "%s: %s: thiếu tệp trong bộ nhớ đệm, xử lý lại ảnh", PREFIX, source
            )
            publish(redo(self.processed[source], self.root, self.options), prefix)
        _forget(Path(self.options["cache_dir"]), options_key(self.options), missing)


def publish(processed: Processed, prefix: str) -> None:
    """Put one image's variant files into the output folder (one stat each if there)."""
    for variant in processed.variants:
        target = prefix + variant.name
        try:
            size = os.stat(target).st_size
        except OSError:
            size = None
        if size is not None:
            expected = variant.nbytes
            if expected is None:
                expected = os.stat(variant.cached).st_size
            if size == expected:
                continue  # the name carries the content hash: same file
            os.unlink(target)
        # Copied, never hard-linked: an output file written into in place must
        # not change the cached variant every later build publishes.
        shutil.copy2(variant.cached, target)
        _note_copy(variant, target)


def _note_copy(variant: Variant, target: str) -> None:
    """Hand a copy's SHA-256 to the build's record (it need not read the copy).

    Only while the cached file is still as it was read (same stamp) after the
    copy: then the copy holds the bytes hashed (portal.files.note_sha256).
    """
    digest = variant.digest or _cached_digest(variant.cached)
    if digest is None:
        return
    sha, cached_stamp = digest
    try:
        if stamp(os.lstat(variant.cached)) == cached_stamp:
            note_sha256(target, stamp(os.lstat(target)), sha)
    except OSError:
        return


def _cached_digest(cached: str) -> tuple[str, Stamp] | None:
    """Return a cached variant's SHA-256 and stamp, hashed once while it keeps its stamp.

    A variant this build did not make (taken from the cache) has no digest:
    items sharing a photo publish copies of the same cached files (5,904
    copies of 96 files at 5,000 items, each read again for the record). The
    hash is kept in the build's notes of SHA-256 (portal.files.note_sha256).
    """
    try:
        status = os.lstat(cached)
    except OSError:
        return None
    sha = noted_sha256(cached, status)
    if sha is not None:
        return sha, stamp(status)
    known = _digest(Path(cached))
    if known is not None:
        note_sha256(cached, known[1], known[0])
    return known


def redo(processed: Processed, root: Path, options: Mapping) -> Processed:
    """Make an image's variants again, under the key its pages already name."""
    path = root / processed.source
    try:
        if _hash(path, options_key(options)) != processed.key:
            raise BadImage(
                "vừa thay đổi trong lúc dựng trang", "chạy lại lệnh dựng trang"
            )
        return render(processed.source, path, processed.key, options)
    except BadImage as error:
        hint = f" – {error.fix}" if error.fix else ""
        raise ImageError(
            f"{PREFIX}: ảnh “{processed.source}” {error.message}{hint}."
        ) from None


def _source_dir(settings: Mapping) -> str:
    """Return the folder of source images under the content folder."""
    frontmatter = settings.get("FRONTMATTER") or {}
    return frontmatter.get("images_dir", SOURCE_DIR)


def get_generators(pelican) -> type[ImagesGenerator]:
    """Return the generator that makes and publishes image variants."""
    return ImagesGenerator


def check_options(pelican) -> None:
    """Check the IMAGES setting once, before anything is read."""
    get_options(pelican.settings)


# The generators whose variants are copied once pages start being written.
_copies_to_start: weakref.WeakSet = weakref.WeakSet()


def start_copies(generator) -> None:
    """Start copying the variants of this run beside the pages (pages_starting)."""
    for images in list(_copies_to_start):
        images.start_copying()


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.initialized.connect(check_options)
    signals.get_generators.connect(get_generators)
    finishing.pages_starting.connect(start_copies)
