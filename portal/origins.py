"""The one check of a web origin (COUNTER_URL): scheme, host, optional port, nothing else.

A value that reaches a page's attributes, a Content-Security-Policy and an nginx
file must not carry quotes, spaces, paths or anything else: it is checked here
once, against a strict pattern, before any of them is written.
"""

from __future__ import annotations

import re

__all__ = ["ORIGIN_HELP", "parse_origin"]

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ORIGIN = re.compile(
    rf"(https?)://({_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\])(?::([0-9]{{1,5}}))?/?",
    re.IGNORECASE,
)
ORIGIN_HELP = "http(s)://tên-máy[:cổng], ví dụ https://dem.example.vn"


def parse_origin(url: str) -> str:
    """Return url as an origin "scheme://host[:port]" (lower case), or raise ValueError."""
    match = _ORIGIN.fullmatch(url.strip())
    if match is None or (match[3] is not None and not 0 < int(match[3]) < 65536):
        raise ValueError(f"not an http(s) origin: {url!r}")
    scheme, host, port = match[1].lower(), match[2].lower(), match[3]
    return f"{scheme}://{host}" + (f":{int(port)}" if port else "")
