"""Feeds and the sitemap need absolute addresses, in `make html` too.

A development build keeps SITEURL empty (links from the site root), so feeds take
their base from `absolute_site_url`: SITEURL when it is absolute, else FEED_DOMAIN,
else the local server's address (`make serve`: http://127.0.0.1:8000).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["LOCAL_SITEURL", "AbsoluteFeeds", "absolute_site_url", "feed_context"]

LOCAL_SITEURL = "http://127.0.0.1:8000"


def _absolute(url: Any) -> str:
    """Return url without its final slash if it is an http(s) URL, else ""."""
    url = str(url or "").rstrip("/")
    return url if url.startswith(("http://", "https://")) else ""


def absolute_site_url(settings: Mapping) -> str:
    """Return the site's absolute base URL: SITEURL, FEED_DOMAIN or the local server's."""
    return (
        _absolute(settings.get("SITEURL"))
        or _absolute(settings.get("FEED_DOMAIN"))
        or LOCAL_SITEURL
    )


def feed_context(context: Mapping, settings: Mapping) -> dict:
    """Return the context a feed is written with: SITEURL made absolute."""
    return {**context, "SITEURL": absolute_site_url(settings)}


class AbsoluteFeeds:
    """A writer whose feeds get absolute links; everything else goes to `writer`."""

    def __init__(self, writer, settings: Mapping) -> None:
        self._writer = writer
        self._settings = settings

    def write_feed(self, elements, context, *args, **kwargs):
        """Write a feed with SITEURL made absolute."""
        return self._writer.write_feed(
            elements, feed_context(context, self._settings), *args, **kwargs
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)
