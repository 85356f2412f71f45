"""The HTTP handlers: /api/hit, /api/count and /healthz (raw ASGI, no framework)."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from counter.config import Config
from counter.identity import (
    BotDetector,
    NewVisitorCap,
    RateLimiter,
    TrustedProxies,
    address_key,
    is_prefetch,
)
from counter.pages import InvalidPage, PageList, normalise_page
from counter.storage import Counts, GroupCommitWriter, StorageBusy, StorageError

log = logging.getLogger(__name__)

MAX_BODY = 2048
JSON_TYPES = (b"application/json", b"text/plain")
_SIMPLE_BODY = re.compile(rb'\s*\{\s*"page"\s*:\s*"([^"\\\x00-\x1f]*)"\s*\}\s*')
BASE_HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


class Reply(NamedTuple):
    """A status, a JSON body and extra headers."""

    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]


class BodyTooLarge(Exception):
    """The request body is over MAX_BODY."""


class BadBody(ValueError):
    """The request body is not a JSON object with a page."""


class ClientGone(Exception):
    """The client disconnected before sending its whole body."""


@dataclass
class Context:
    """What the handlers share: configuration, storage, pages and helpers."""

    config: Config
    storage: GroupCommitWriter
    pages: PageList
    bots: BotDetector
    proxies: TrustedProxies
    limiter: RateLimiter | None
    new_visitors: NewVisitorCap | None = None


class Request:
    """The parts of an ASGI HTTP request the handlers use."""

    __slots__ = ("scope", "receive", "headers")

    def __init__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict]]):
        """Index the headers by lower-case name (repeats joined with commas)."""
        self.scope = scope
        self.receive = receive
        headers: dict[bytes, bytes] = {}
        repeated: dict[bytes, list[bytes]] = {}
        for name, value in scope["headers"]:
            if name not in headers:
                headers[name] = value
            elif name in repeated:
                repeated[name].append(value)
            else:
                repeated[name] = [headers[name], value]
        for name, values in repeated.items():  # one join each: linear, not quadratic
            headers[name] = b", ".join(values)
        self.headers = headers

    @property
    def method(self) -> str:
        """Return the HTTP method."""
        return self.scope["method"]

    async def body(self, limit: int = MAX_BODY) -> bytes:
        """Read the whole body, raising BodyTooLarge past limit bytes."""
        declared = self.headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def identity(self, proxies: TrustedProxies) -> tuple[str, str]:
        """Return the visitor's (address, User-Agent)."""
        client = self.scope.get("client")
        peer = client[0] if client else ""
        address = proxies.client_address(peer, self.headers.get(b"x-forwarded-for"))
        return address, self.headers.get(b"user-agent", b"").decode("latin-1")


def parse_page(body: bytes) -> object:
    """Return the "page" of a JSON object body, raising BadBody otherwise."""
    try:
        match = _SIMPLE_BODY.fullmatch(body)
        if match:  # {"page":"/a/b/"} without escapes: skip the JSON parser
            return match[1].decode("utf-8")
        payload = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # also UnicodeDecodeError
        raise BadBody("body must be JSON") from exc
    if not isinstance(payload, dict) or "page" not in payload:
        raise BadBody('body must be a JSON object with a "page"')
    return payload["page"]


def error(status: int, message: str, headers: list | None = None) -> Reply:
    """Return {"error": message} with status."""
    body = json.dumps({"error": message}).encode()
    return Reply(status, body, headers or [])


def counts_reply(counts: Counts) -> Reply:
    """Return the counts as the API's JSON answer."""
    body = b'{"page":%d,"site":%d,"counted":%s}' % (
        counts.page,
        counts.site,
        b"true" if counts.counted else b"false",
    )
    return Reply(200, body, [])


async def hit(ctx: Context, request: Request) -> Reply:
    """Count a visit: POST {"page": "/path/"} as application/json or text/plain."""
    address, user_agent = request.identity(ctx.proxies)
    key = address_key(address)
    limited = _rate_limited(ctx, key)
    if limited is not None:
        ctx.storage.reject("rate_limited")
        return limited
    if not _origin_allowed(ctx, request):
        ctx.storage.reject("origin")
        return error(403, "origin not allowed")
    media_type = request.headers.get(b"content-type", b"").split(b";", 1)[0]
    if media_type.strip().lower() not in JSON_TYPES:
        return error(415, "content type must be application/json or text/plain")
    try:
        page = normalise_page(parse_page(await request.body()))
    except BodyTooLarge:
        return error(413, f"body must be at most {MAX_BODY} bytes")
    except (InvalidPage, BadBody) as exc:
        return error(400, str(exc))
    if page not in ctx.pages:
        ctx.storage.reject("unknown_page")
        return error(404, "unknown page")
    if ctx.bots.is_bot(user_agent):
        return await _answer(ctx, ctx.storage.read, page, "bot")
    if is_prefetch(request.headers):
        return await _answer(ctx, ctx.storage.read, page, "prefetch")
    if ctx.new_visitors is not None and not ctx.new_visitors.allow(
        key, page, user_agent
    ):
        return await _answer(ctx, ctx.storage.read, page, "new_visitor_cap")
    return await _answer(ctx, ctx.storage.hit, page, address, user_agent)


async def count(ctx: Context, request: Request) -> Reply:
    """Answer the counts of ?page=/path/ without counting."""
    address, _user_agent = request.identity(ctx.proxies)
    limited = _rate_limited(ctx, address_key(address))
    if limited is not None:
        return limited
    try:
        query = dict(
            parse_qsl(request.scope["query_string"].decode("latin-1"), errors="strict")
        )
        page = normalise_page(query.get("page"))
    except UnicodeError:
        return error(400, "query string is not valid UTF-8")
    except InvalidPage as exc:
        return error(400, str(exc))
    if page not in ctx.pages:
        return error(404, "unknown page")
    return await _answer(ctx, ctx.storage.read, page)


async def healthz(ctx: Context, request: Request) -> Reply:
    """Tell whether the writer is running and how many pages are countable."""
    healthy = ctx.storage.alive
    body = b'{"status":"%s","storage":"%s","pages":%d}' % (
        b"ok" if healthy else b"unavailable",
        ctx.storage.name.encode(),
        len(ctx.pages),
    )
    return Reply(200 if healthy else 503, body, [])


def _origin_allowed(ctx: Context, request: Request) -> bool:
    """Tell whether a hit comes from one of the site's origins (when configured)."""
    origins = ctx.config.allowed_origins
    if not origins:
        return True
    if request.headers.get(b"sec-fetch-site", b"").lower() == b"cross-site":
        return False
    origin = request.headers.get(b"origin")
    return origin is not None and origin.decode("latin-1").lower() in origins


def _rate_limited(ctx: Context, key: object) -> Reply | None:
    """Return a 429 reply if this address (an IPv6 /64) is over the rate limit."""
    if ctx.limiter is None:
        return None
    wait = ctx.limiter.check(key)
    if not wait:
        return None
    retry = str(max(1, math.ceil(wait))).encode()
    return error(429, "too many requests", [(b"retry-after", retry)])


async def _answer(
    ctx: Context, submit: Callable[..., asyncio.Future[Counts]], *args: Any
) -> Reply:
    """Submit to storage, await the commit and reply (503 if storage fails)."""
    try:
        counts = await submit(*args)  # Storage.watch() fails it after a timeout
    except StorageBusy:
        return error(503, "busy, try again", [(b"retry-after", b"1")])
    except StorageError:
        return error(503, "storage unavailable", [(b"retry-after", b"5")])
    return counts_reply(counts)


class Route(NamedTuple):
    """A handler, the methods it takes, and whether it answers CORS."""

    handler: Callable[[Context, Request], Awaitable[Reply]]
    methods: frozenset[str]
    cors: bool


ROUTES: dict[str, Route] = {
    "/api/hit": Route(hit, frozenset({"POST"}), True),
    "/api/count": Route(count, frozenset({"GET"}), True),
    "/healthz": Route(healthz, frozenset({"GET", "HEAD"}), False),
}
