"""Who is visiting: client address, visitor hash, bots, prefetches, rate limits.

Nothing here stores an address or a User-Agent: the address and User-Agent only
live in memory while a request is served (and as rate-limit keys for a while).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo

from counter.config import Network, RateLimit

SALT_BYTES = 32
DIGEST_BYTES = 16
_SHA256_BLOCK = 64
_V4_MAPPED = bytes(10) + b"\xff\xff"
_PREFETCH_HEADERS = (b"sec-purpose", b"purpose", b"x-purpose", b"x-moz")
_PREFETCH_VALUES = (b"prefetch", b"prerender", b"preview")


def new_salt() -> bytes:
    """Return a fresh random daily salt."""
    return secrets.token_bytes(SALT_BYTES)


def visitor_digest(
    salt: bytes, address: str, user_agent: str, page: str, secret: bytes = b""
) -> bytes:
    """Return the keyed hash that stands for (address, User-Agent, page) today."""
    return VisitorHasher(secret + salt).digest(address, user_agent, page)


class VisitorHasher:
    """HMAC-SHA256 (RFC 2104) with the pads hashed once per key, not per visit.

    hmac.digest() sets OpenSSL up again on every call, several times slower.
    """

    def __init__(self, key: bytes) -> None:
        """Hash the key's inner and outer pads."""
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))

    def digest(self, address: str, user_agent: str, page: str) -> bytes:
        """Return the truncated HMAC of (address, User-Agent, page)."""
        inner = self._inner.copy()
        inner.update(
            f"{address}\n{user_agent}\n{page}".encode("utf-8", "surrogateescape")
        )
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:DIGEST_BYTES]


class BotDetector:
    """Tell bots from browsers by their User-Agent."""

    def __init__(self, pattern: str, cache_size: int = 4096) -> None:
        """Compile the case-insensitive pattern; an empty one matches no UA."""
        self._lowercase = pattern == pattern.lower()  # then search lowercased UAs
        flags = 0 if self._lowercase else re.IGNORECASE  # (re.I is 4x slower)
        self._regex = re.compile(pattern, flags) if pattern else None
        self._cache: dict[str, bool] = {}
        self._cache_size = cache_size

    def is_bot(self, user_agent: str) -> bool:
        """Tell whether the User-Agent is missing or looks like a bot."""
        verdict = self._cache.get(user_agent)
        if verdict is None:
            verdict = self._judge(user_agent)
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[user_agent] = verdict
        return verdict

    def _judge(self, user_agent: str) -> bool:
        """Match the User-Agent against the pattern."""
        if not user_agent.strip():
            return True
        if self._regex is None:
            return False
        text = user_agent.lower() if self._lowercase else user_agent
        return self._regex.search(text) is not None


def is_prefetch(headers: dict[bytes, bytes]) -> bool:
    """Tell whether the request is a prefetch or prerender, not a visit."""
    for name in _PREFETCH_HEADERS:
        value = headers.get(name)
        if value and any(word in value.lower() for word in _PREFETCH_VALUES):
            return True
    return False


class TrustedProxies:
    """Find the client address, believing X-Forwarded-For only from our proxies."""

    def __init__(self, networks: Iterable[Network]) -> None:
        """Remember the networks of the trusted reverse proxies."""
        self._networks = [
            (net.version, int(net.network_address), int(net.netmask))
            for net in networks
        ]
        self._peer_cache: dict[str, bool] = {}

    def trusts(self, address: str) -> bool:
        """Tell whether address belongs to a trusted proxy."""
        parsed = _parse_ip(address)
        return parsed is not None and self._contains(parsed[1], parsed[2])

    def client_address(self, peer: str, forwarded_for: bytes | None) -> str:
        """Return the visitor's address: the last hop not run by a trusted proxy."""
        if not forwarded_for or not self._trusts_peer(peer):
            return peer
        hops = forwarded_for.decode("latin-1").split(",")
        if len(hops) == 1:  # the common case: no need to ask if that hop is trusted
            parsed = _parse_ip(hops[0].strip())
            return peer if parsed is None else parsed[0]
        address = peer
        for hop in reversed(hops):
            parsed = _parse_ip(hop.strip())
            if parsed is None:
                return address  # garbage from beyond our proxies: stop believing
            address = parsed[0]
            if not self._contains(parsed[1], parsed[2]):
                return address
        return address

    def _trusts_peer(self, peer: str) -> bool:
        """Tell whether the connecting peer is a trusted proxy (cached: few peers)."""
        verdict = self._peer_cache.get(peer)
        if verdict is None:
            if len(self._peer_cache) > 10_000:
                self._peer_cache.clear()
            verdict = self._peer_cache[peer] = bool(self._networks) and self.trusts(
                peer
            )
        return verdict

    def _contains(self, version: int, number: int) -> bool:
        """Tell whether the address (as a number) is in a trusted network."""
        for net_version, network, mask in self._networks:
            if version == net_version and number & mask == network:
                return True
        return False


def _parse_ip(value: str) -> tuple[str, int, int] | None:
    """Return (canonical text, version, number) of an IP, optionally with port."""
    if value.startswith("["):  # [v6]:port
        value = value[1 : value.find("]")]
    elif value.count(":") == 1:  # v4:port
        value = value[: value.index(":")]
    family = socket.AF_INET6 if ":" in value else socket.AF_INET
    try:
        packed = socket.inet_pton(family, value)
    except (OSError, ValueError):
        return None
    if family == socket.AF_INET:
        return value, 4, int.from_bytes(packed, "big")  # inet_pton took it: canonical
    if packed.startswith(_V4_MAPPED):  # ::ffff:a.b.c.d
        return (
            socket.inet_ntop(socket.AF_INET, packed[12:]),
            4,
            int.from_bytes(packed[12:], "big"),
        )
    return socket.inet_ntop(family, packed), 6, int.from_bytes(packed, "big")


def address_key(address: str) -> str | bytes:
    """Return the rate-limit key of an address: itself for IPv4, its /64 for IPv6.

    One IPv6 subscriber usually gets a whole /64, so a key per address would let
    one household rotate through 2**64 keys. An IPv4 address seen as ::ffff:a.b.c.d
    (the service on "::") is keyed as itself, not with every IPv4 in ::ffff:0:0/64.
    """
    if ":" not in address:
        return address
    try:
        packed = socket.inet_pton(socket.AF_INET6, address)
    except (OSError, ValueError):
        return address
    if packed.startswith(_V4_MAPPED):  # a dual-stack socket's IPv4 peer: one address
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return packed[:8]


class NewVisitorCap:
    """Bound the new visitor identities one address may create per page and day.

    A visitor identity is (address, User-Agent): rotating the User-Agent from one
    address would otherwise count once per User-Agent. The User-Agents are kept
    as Python hashes, in memory only, and forgotten when the day changes.
    """

    def __init__(
        self,
        limit: int,
        tz: tzinfo,
        clock: Callable[[], float] = time.time,
        max_keys: int = 500_000,
    ) -> None:
        """Start the day empty."""
        self._limit = limit
        self._tz = tz
        self._clock = clock
        self._max_keys = max_keys
        self._day = ""
        self._next_day_check = 0.0
        self._seen: dict[int, int | set[int]] = {}

    def allow(self, key: object, page: str, user_agent: str) -> bool:
        """Tell whether this identity may count (recording it if it is new)."""
        self._roll_day()
        # Ints, not tuples and sets, for the common case of one User-Agent per
        # (address, page): a million GC-tracked objects would slow every request.
        slot = hash((key, page))
        marker = hash(user_agent)
        agents = self._seen.get(slot)
        if agents is None:
            if len(self._seen) >= self._max_keys:  # a flood of addresses: start over
                self._seen.clear()
            self._seen[slot] = marker
            return True
        if isinstance(agents, int):
            if agents == marker:
                return True
            agents = self._seen[slot] = {agents}
        if marker in agents:
            return True  # a visitor already seen: the dedup decides
        if len(agents) >= self._limit:
            return False
        agents.add(marker)
        return True

    def _roll_day(self) -> None:
        """Forget yesterday's identities when the day changes (checked every second)."""
        now = self._clock()
        if now < self._next_day_check:
            return
        self._next_day_check = now + 1.0
        day = datetime.fromtimestamp(now, self._tz).date().isoformat()
        if day != self._day:
            self._day = day
            self._seen.clear()


class RateLimiter:
    """In-memory token buckets, one per address (IPv6: per /64)."""

    def __init__(
        self,
        limit: RateLimit,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 200_000,
    ) -> None:
        """Start with no buckets; each new key starts full."""
        self._capacity = float(limit.hits)
        self._rate = limit.per_second
        self._window = limit.seconds
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[object, list[float]] = {}
        self._next_prune = clock() + limit.seconds

    def __len__(self) -> int:
        """Return how many identities have a bucket."""
        return len(self._buckets)

    def check(self, key: object) -> float:
        """Take one token for key; return 0 if allowed, else seconds to wait."""
        now = self._clock()
        if now >= self._next_prune or len(self._buckets) >= self._max_keys:
            self._prune(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [self._capacity - 1.0, now]
            return 0.0
        tokens = min(self._capacity, bucket[0] + (now - bucket[1]) * self._rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self._rate

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled (they would start full anyway)."""
        self._next_prune = now + self._window
        full = [
            key
            for key, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self._rate >= self._capacity
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:  # a flood of identities: start over
            self._buckets.clear()
