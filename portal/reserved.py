"""Every top-level path the site or its server uses: no slug or page may take one.

One registry for the checker, the sections and pages, and a test that every
top-level folder of a built site is listed here. Add a path here when a feature
starts using it.
"""

from __future__ import annotations

__all__ = ["RESERVED_PATHS", "WINDOWS_DEVICE_NAMES", "is_reserved"]

# Top-level folders and files the site, its plugins or the server use.
RESERVED_PATHS = frozenset(
    {
        # sections and indexes
        "mo-hinh",
        "tin-tuc",
        "linh-vuc",
        "dia-ban",
        "nam",
        "tim-kiem",
        "thong-ke",
        # theme, images, search, feeds
        "theme",
        "images",
        "files",
        "feeds",
        "drafts",
        "pagefind",
        "static",
        # the server: counter API and health check, web editor, previews
        "api",
        "healthz",
        "quan-tri",
        "xem-truoc",
        # legacy portal paths kept alive by redirects
        "legacy",
        "portal",
        "tin-tuc-su-kien",
        # the 404 page's script redirecting legacy URLs (plugins/redirects)
        "chuyen-huong.js",
    }
)
# Names Windows cannot use for a file or folder (with or without an extension).
WINDOWS_DEVICE_NAMES = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{n}" for n in range(1, 10)}
    | {f"lpt{n}" for n in range(1, 10)}
)


def is_reserved(slug: str) -> bool:
    """Tell whether a slug or top-level path segment is taken by the site or Windows."""
    name = slug.strip("/").split("/", 1)[0].lower()
    return name in RESERVED_PATHS or name.split(".", 1)[0] in WINDOWS_DEVICE_NAMES
