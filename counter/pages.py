"""Page ids: normalisation, and the list of countable pages that reloads itself."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

log = logging.getLogger(__name__)

MAX_PAGE_LENGTH = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_INDEX_FILES = ("index.html", "index.htm")
# Already normal: segments of URL-safe characters, none starting with a dot.
_INDEX_SUFFIXES = tuple(f"/{name}/" for name in _INDEX_FILES)
_NORMAL = re.compile(r"(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/")


class InvalidPage(ValueError):
    """The value cannot be a page id."""


def normalise_page(raw: object) -> str:
    """Return the page id of a path: "/a/b/index.html?x#y" → "/a/b/"."""
    if not isinstance(raw, str) or not raw:
        raise InvalidPage("page must be a non-empty string")
    if len(raw) > MAX_PAGE_LENGTH:
        raise InvalidPage("page is too long")
    if _NORMAL.fullmatch(raw) and not raw.lower().endswith(_INDEX_SUFFIXES):
        return raw  # the common case, already a page id
    return _normalise_slowly(raw)


def _normalise_slowly(raw: str) -> str:
    """Strip query and fragment, decode %-escapes, drop index.html, add the slash."""
    if len(raw) > MAX_PAGE_LENGTH:
        raise InvalidPage("page is too long")
    if _CONTROL.search(raw):
        raise InvalidPage("page contains control characters")
    path = raw.split("#", 1)[0].split("?", 1)[0]
    if not path.startswith("/"):
        raise InvalidPage("page must be a path starting with /")
    try:
        path = unquote(path, errors="strict")
        path.encode("utf-8")
    except UnicodeError as exc:
        raise InvalidPage("page is not valid UTF-8") from exc
    if _CONTROL.search(path):
        raise InvalidPage("page contains control characters")
    segments = [segment for segment in path.split("/") if segment]
    if any(segment in (".", "..") for segment in segments):
        raise InvalidPage("page must not contain . or .. segments")
    if segments and segments[-1].lower() in _INDEX_FILES:
        segments.pop()
    return "/" + "".join(segment + "/" for segment in segments)


def read_pages_file(path: Path) -> frozenset[str]:
    """Read {"pages": [...]} from path and return the normalised page ids."""
    with path.open("rb") as handle:
        data = json.load(handle)
    if not isinstance(data, dict) or not isinstance(data.get("pages"), list):
        raise ValueError('expected a JSON object {"pages": [...]}')
    pages = set()
    skipped = 0
    for item in data["pages"]:
        try:
            pages.add(normalise_page(item))
        except InvalidPage:
            skipped += 1
    if skipped:
        log.warning("counter: skipped %d invalid page ids in %s", skipped, path)
    return frozenset(pages)


class PageList:
    """The build's countable pages, reloaded when the file changes."""

    def __init__(
        self,
        path: Path,
        check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Remember where the list lives; nothing is read until refresh()."""
        self.path = path
        self.check_interval = check_interval
        self._clock = clock
        self._pages: frozenset[str] = frozenset()
        self._signature: tuple[int, int, int] | None = None
        self._next_check = float("-inf")
        self._missing_logged = False

    def __len__(self) -> int:
        """Return how many pages are countable."""
        return len(self._pages)

    def __contains__(self, page: object) -> bool:
        """Tell whether page is countable, rechecking the file at most once per interval."""
        if self._clock() >= self._next_check:
            self.refresh()
        return page in self._pages

    def refresh(self) -> bool:
        """Reload the file if it changed; return whether the list changed."""
        self._next_check = self._clock() + self.check_interval
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return self._forget_missing()
        except OSError as exc:
            log.error("counter: cannot stat pages file %s: %s", self.path, exc)
            return False
        signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if signature == self._signature:
            return False
        try:
            pages = read_pages_file(self.path)
        except (OSError, ValueError) as exc:  # json errors are ValueErrors
            log.error(
                "counter: cannot read pages file %s (keeping %d pages): %s",
                self.path,
                len(self._pages),
                exc,
            )
            return False
        self._pages, self._signature, self._missing_logged = pages, signature, False
        log.info("counter: loaded %d countable pages from %s", len(pages), self.path)
        return True

    def _forget_missing(self) -> bool:
        """Treat every page as unknown while the file is missing."""
        if not self._missing_logged:
            log.warning(
                "counter: pages file %s is missing; every page is unknown (404) "
                "until it appears",
                self.path,
            )
            self._missing_logged = True
        changed = bool(self._pages)
        self._pages, self._signature = frozenset(), None
        return changed
