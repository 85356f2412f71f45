"""One check of a source image, shared by `make check` and the images plugin.

A source image must be a regular file no heavier than 25 MB, of an allowed format
(JPEG, PNG, WebP; SVG and the rest refused), no larger than the pixel limit, and
decode in full (a truncated or corrupt file is caught). Every failure is a
`BadImage` worded in Vietnamese; Pillow's own errors (its DecompressionBombError
included) never escape.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

__all__ = [
    "ALLOWED_FORMATS",
    "BadImage",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
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
    with opened(path, max_pixels, max_bytes) as image:
        decode(image)
        return image.size
