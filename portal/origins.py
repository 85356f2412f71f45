"""The one check of a web origin (COUNTER_URL): scheme, host, optional port, nothing else.

A value that reaches a page's attributes, a Content-Security-Policy and an nginx
file must not carry quotes, spaces, paths or anything else: it is checked here
once, against a strict pattern, before any of them is written.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["ORIGIN_HELP", "parse_origin"]

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ORIGIN = re.compile(
    rf"(https?)://({_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\])(?::([0-9]{{1,5}}))?/?",
    re.IGNORECASE,
)
ORIGIN_HELP = "http(s)://tên-máy[:cổng], ví dụ https://dem.example.vn"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(url: str) -> str:
    """Return url as a browser's origin "scheme://host[:port]", or raise ValueError.

    Lower case, without the scheme's default port (a browser's Origin header
    never has it), an IP address only when it is a valid one.
    """
    match = _ORIGIN.fullmatch(url.strip())
    if match is None or not _valid_host(match[2]):
        raise ValueError(f"not an http(s) origin: {url!r}")
    scheme, host = match[1].lower(), match[2].lower()
    port = None if match[3] is None else int(match[3])
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"not an http(s) origin: {url!r}")
    shown = port is not None and port != _DEFAULT_PORTS[scheme]
    return f"{scheme}://{host}" + (f":{port}" if shown else "")


def _valid_host(host: str) -> bool:
    """Tell whether a name, an [IPv6] or a dotted IPv4 host is well formed."""
    literal = host[1:-1] if host.startswith("[") else host
    if host.startswith("["):
        kind = ipaddress.IPv6Address
    elif re.fullmatch(r"[0-9.]+", host):
        kind = ipaddress.IPv4Address
    else:
        return True
    try:
        kind(literal)
    except ValueError:
        return False
    return True
