"""One check of a source image, shared by `make check` and the images plugin.

A source image must be a regular file no heavier than 25 MB, of an allowed format
(JPEG, PNG, WebP; SVG and the rest refused), no larger than the pixel limit, and
decode in full (a truncated or corrupt file is caught). Every failure is a
`BadImage` worded in Vietnamese; Pillow's own errors (its DecompressionBombError
included) never escape.

`verify` decodes a file's bytes once per build (a memo by path, size and time)
and, once `keep_verdicts` names a folder, keeps the size of every good image by the
SHA-256 of its bytes, so a later build with that folder does not decode it again.
A bad image is never kept: it is checked again, giving the same error.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import PIL
from PIL import Image

from portal.files import file_sha256, write_atomic

__all__ = [
    "ALLOWED_FORMATS",
    "BadImage",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "keep_verdicts",
    "opened",
    "verify",
]

MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_BYTES = 25 * 1024 * 1024
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
SMALLER = "thu nhỏ ảnh (khoảng 2000 điểm ảnh chiều ngang là đủ)"
RESAVE = "mở ảnh bằng phần mềm xem ảnh, lưu lại dạng JPEG hoặc PNG rồi chạy lại"
MISSING = (
    "không có trong thư mục ảnh",
    "kiểm tra tên tệp ảnh (phân biệt chữ hoa, chữ thường) và thư mục",
)


class BadImage(Exception):
    """One image cannot be used; the message says why, in Vietnamese."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message, self.fix = message, fix


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:g}".replace(".", ",")


@contextlib.contextmanager
def opened(
    path: Path,
    max_pixels: int = MAX_IMAGE_PIXELS,
    max_bytes: int = MAX_IMAGE_BYTES,
) -> Iterator[Image.Image]:
    """Open an image after checking its size, format and pixels (header only)."""
    try:
        nbytes = path.stat().st_size
    except FileNotFoundError:
        raise BadImage(*MISSING) from None
    except OSError as error:
        raise BadImage(f"không đọc được ({error.strerror})", "") from None
    if nbytes > max_bytes:
        megabytes = f"{max_bytes / 1024 / 1024:g}".replace(".", ",")
        raise BadImage(f"nặng hơn {megabytes} MB", SMALLER)
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, over its own limit: ours is checked below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path, formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError:
        raise BadImage(
            f"lớn quá {_megapixels(max_pixels)} megapixel", SMALLER
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise _unreadable(path, error) from None
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise BadImage(
                f"có {width}×{height} điểm ảnh, quá {_megapixels(max_pixels)} megapixel",
                SMALLER,
            )
        yield image


def _unreadable(path: Path, error: Exception) -> BadImage:
    """Word a file Pillow cannot open: SVG, another format, or a broken one."""
    with contextlib.suppress(OSError), path.open("rb") as handle:
        head = handle.read(512).lstrip().lower()
        if path.suffix.lower() == ".svg" or head.startswith((b"<svg", b"<?xml")):
            return BadImage(
                "là ảnh SVG, không được dùng (SVG có thể chứa mã chạy được)",
                "xuất ảnh ra dạng PNG hoặc JPEG",
            )
    return BadImage(
        "không phải ảnh JPEG, PNG hay WebP đọc được (hỏng hoặc sai định dạng)",
        RESAVE,
    )


def decode(image: Image.Image) -> None:
    """Decode every pixel, turning a truncated or corrupt file into a BadImage."""
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise BadImage(f"bị hỏng hoặc không đọc hết được ({error})", RESAVE) from None


def verify(
    path: Path,
    max_pixels: int = MAX_IMAGE_PIXELS,
    max_bytes: int = MAX_IMAGE_BYTES,
) -> tuple[int, int]:
    """Check an image in full as the build will use it; return its size."""
    try:
        stat = path.stat()
    except OSError:
        return _verify(path, max_pixels, max_bytes)  # raises the usual BadImage
    key = (
        str(path),
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ino,
        max_pixels,
        max_bytes,
    )
    verdict = _memo.get(key)
    if verdict is None:
        verdict = _memo[key] = _verdict(path, stat.st_size, max_pixels, max_bytes)
    if isinstance(verdict, BadImage):
        raise BadImage(verdict.message, verdict.fix)
    return verdict


def _verify(path: Path, max_pixels: int, max_bytes: int) -> tuple[int, int]:
    """Open, check and decode an image in full; return its size."""
    with opened(path, max_pixels, max_bytes) as image:
        decode(image)
        return image.size


# Verdicts of this build, by (path, size, mtime, inode, limits): a size or a BadImage.
_memo: dict[tuple, tuple[int, int] | BadImage] = {}
_store: Path | None = None  # good images' sizes by SHA-256, when kept between builds


def keep_verdicts(folder: Path | None) -> None:
    """Start a build: forget the memo and keep good verdicts in folder (None: don't)."""
    global _store
    _memo.clear()
    _store = None if folder is None else folder / f"pillow-{PIL.__version__}"


def _verdict(
    path: Path, nbytes: int, max_pixels: int, max_bytes: int
) -> tuple[int, int] | BadImage:
    """Return an image's size, from the store when it has its bytes, or why it is bad."""
    digest = _digest(path) if _store is not None and nbytes <= max_bytes else None
    if digest is not None:
        size = _stored(digest)
        if size is not None and size[0] * size[1] <= max_pixels:
            return size
    try:
        size = _verify(path, max_pixels, max_bytes)
    except BadImage as error:
        return error
    if digest is not None:
        with contextlib.suppress(OSError):
            write_atomic(_store / digest, f"{size[0]} {size[1]}\n".encode())
    return size


def _digest(path: Path) -> str | None:
    """Return the SHA-256 of a file's bytes in hex, or None when unreadable."""
    found = file_sha256(path)
    return None if found is None else found.hex()


def _stored(digest: str) -> tuple[int, int] | None:
    """Return the size kept for these bytes, or None."""
    try:
        width, height = (_store / digest).read_text().split()
        return int(width), int(height)
    except (OSError, ValueError):
        return None
