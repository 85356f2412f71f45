"""The ASGI application: routing, CORS, lifespan; handlers live in routes.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from counter import routes
from counter.config import Config
from counter.identity import BotDetector, NewVisitorCap, RateLimiter, TrustedProxies
from counter.pages import PageList
from counter.routes import Context, Reply, Request, error
from counter.storage import GroupCommitWriter

log = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
_CORS_METHODS = b"GET, POST, OPTIONS"
_PREFLIGHT_MAX_AGE = b"86400"


class CounterApp:
    """A raw ASGI app: small and fast enough for thousands of hits per second."""

    def __init__(self, context: Context) -> None:
        """Keep the shared context."""
        self.context = context
        self._origins = {origin.encode() for origin in context.config.allowed_origins}

    async def __call__(
        self, scope: dict[str, Any], receive: Receive, send: Send
    ) -> None:
        """Dispatch an ASGI connection."""
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """Route one HTTP request and send its reply."""
        request = Request(scope, receive)
        route = routes.ROUTES.get(scope["path"])
        if route is None:
            reply = error(404, "not found")
        elif request.method == "OPTIONS" and route.cors:
            reply = self._preflight(request)
        elif request.method not in route.methods:
            allow = ", ".join(
                sorted(route.methods | ({"OPTIONS"} if route.cors else set()))
            )
            reply = error(405, "method not allowed", [(b"allow", allow.encode())])
        else:
            reply = await self._handle(route, request)
        headers = routes.BASE_HEADERS + reply.headers
        if route is not None and route.cors:
            headers = headers + self._cors_headers(request)
        body = b"" if request.method == "HEAD" else reply.body
        headers.append((b"content-length", str(len(reply.body)).encode()))
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, route: routes.Route, request: Request) -> Reply:
        """Run the handler, turning surprises into a 500 without details."""
        try:
            return await route.handler(self.context, request)
        except routes.ClientGone:
            return error(400, "incomplete request")
        except Exception:
            log.exception("counter: unexpected error in %s", route.handler.__name__)
            return error(500, "internal error")

    def _cors_headers(self, request: Request) -> list[tuple[bytes, bytes]]:
        """Allow the request's origin if it is one of the site's."""
        if not self._origins:  # no CORS at all: the answer does not vary by Origin
            return []
        origin = request.headers.get(b"origin")
        if origin is None or origin.lower() not in self._origins:
            return [(b"vary", b"Origin")]
        return [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]

    def _preflight(self, request: Request) -> Reply:
        """Answer a CORS preflight: 204 for the site's origins, 403 for others."""
        origin = request.headers.get(b"origin")
        if origin is None:  # not a preflight: say what the resource allows
            return Reply(204, b"", [(b"allow", _CORS_METHODS)])
        if origin.lower() not in self._origins:
            return error(403, "origin not allowed")
        return Reply(
            204,
            b"",
            [
                (b"access-control-allow-methods", _CORS_METHODS),
                (b"access-control-allow-headers", b"Content-Type"),
                (b"access-control-max-age", _PREFLIGHT_MAX_AGE),
            ],
        )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Start storage and load the pages at startup; drain storage at shutdown."""
        loop = asyncio.get_running_loop()
        watchdog: asyncio.Task | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.context.storage.start()
                except Exception as exc:
                    log.error("counter: cannot open the database: %s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                self.context.pages.refresh()
                watchdog = loop.create_task(self.context.storage.watch())
                log.info(
                    "counter: ready with %s storage, %d countable pages",
                    self.context.storage.name,
                    len(self.context.pages),
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if watchdog is not None:
                    watchdog.cancel()
                await self.context.storage.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(config: Config, storage: GroupCommitWriter | None = None) -> CounterApp:
    """Build the ASGI app for config (storage starts at lifespan startup)."""
    context = Context(
        config=config,
        storage=storage if storage is not None else GroupCommitWriter(config),
        pages=PageList(config.pages_path, config.pages_check_interval),
        bots=BotDetector(config.bot_pattern),
        proxies=TrustedProxies(config.trusted_proxies),
        limiter=RateLimiter(config.rate_limit) if config.rate_limit else None,
        new_visitors=(
            NewVisitorCap(config.new_visitors_per_address, config.tzinfo())
            if config.new_visitors_per_address
            else None
        ),
    )
    return CounterApp(context)
