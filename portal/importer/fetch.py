"""Reading legacy files and URLs: one session, local paths and http(s) alike."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

TIMEOUT = 20
MAX_BYTES = 50 * 1024 * 1024
USER_AGENT = "dvk-portal-importer/1.0"


class FetchError(OSError):
    """A legacy file or URL could not be read."""


def is_url(location: str) -> bool:
    """Tell whether a location is an http(s) URL."""
    return urlsplit(location).scheme in ("http", "https")


def resolve(base: str, reference: str) -> str:
    """Return reference resolved against base (a URL or a file path)."""
    if is_url(reference) or not base:
        return reference
    if is_url(base):
        return urljoin(base, reference)
    if reference.startswith("/"):
        return reference
    return str((Path(base).parent / reference.split("?", 1)[0]).resolve())


class Fetcher:
    """Fetch bytes from URLs (one keep-alive session) or local files."""

    def __init__(self) -> None:
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def get(self, location: str) -> tuple[bytes, str]:
        """Return the bytes at a location and their content type ("" for files)."""
        if not is_url(location):
            try:
                return Path(location).read_bytes(), ""
            except OSError as error:
                raise FetchError(f"không đọc được “{location}”: {error}") from None
        try:
            with self.session.get(location, timeout=TIMEOUT, stream=True) as response:
                response.raise_for_status()
                data = response.raw.read(MAX_BYTES + 1, decode_content=True)
                content_type = response.headers.get("Content-Type", "")
        except (
            requests.RequestException,
            urllib3.exceptions.HTTPError,
            OSError,
        ) as error:
            raise FetchError(f"không tải được “{location}”: {error}") from None
        if len(data) > MAX_BYTES:
            raise FetchError(f"“{location}” lớn hơn {MAX_BYTES // 2**20} MB")
        return data, content_type
