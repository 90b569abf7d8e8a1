"""CORS for the origins in STROBE_CORS_ORIGINS; with none configured the app has no CORS at all.

Two kinds of route answer differently (docs/ARCHITECTURE.md, "How outputs are served"):

* outputs (`/files/{id}/content`, `/files/{id}/t/…`, `/signed/…`): a player on another origin
  may GET and HEAD them with `Range`, and read `Content-Range`, `Content-Length`,
  `Accept-Ranges` and `ETag` (hls.js and dash.js need the range headers);
* the JSON API: every method, with `Authorization`, `Content-Type`, `Idempotency-Key` and
  `Accept-Version` allowed, and the paging and request headers exposed.

A preflight from an allowed origin is answered here, before the version check, the rate limit
and the routes. A request from any other origin passes through untouched, so the browser
refuses to hand its response to the page. Credentials (cookies) are never allowed: the API
authenticates with a bearer key, outputs with signatures.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_OUTPUT_PATH = re.compile(r"^/(?:files/[^/]+/(?:content$|t/)|signed/)")
_PREFLIGHT_MAX_AGE = b"600"

_OUTPUT_METHODS = b"GET, HEAD, PUT, OPTIONS"  # PUT: a signed upload (/signed/…)
_OUTPUT_HEADERS = b"Range, If-Range, If-None-Match, If-Modified-Since, Content-Type"
_OUTPUT_EXPOSED = b"Content-Range, Content-Length, Accept-Ranges, ETag, Last-Modified"

_API_METHODS = b"GET, HEAD, POST, PATCH, DELETE, OPTIONS"
_API_HEADERS = b"Authorization, Content-Type, Idempotency-Key, Accept-Version, If-None-Match"
_API_EXPOSED = (
    b"Link, X-Total-Count, X-Request-Id, Strobe-Version, Retry-After, Location, " + _OUTPUT_EXPOSED
)


class CorsMiddleware:
    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self.app = app
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin", b"").decode("latin-1").lower()
        if not origin or not (self.any_origin or origin in self.origins):
            await self.app(scope, receive, send)
            return
        output = bool(_OUTPUT_PATH.match(scope["path"]))
        allow_origin = b"*" if self.any_origin else origin.encode()
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await _preflight(send, allow_origin, output)
            return
        extra = [
            (b"access-control-allow-origin", allow_origin),
            (b"access-control-expose-headers", _OUTPUT_EXPOSED if output else _API_EXPOSED),
            (b"vary", b"Origin"),
        ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _preflight(send: Send, allow_origin: bytes, output: bool) -> None:
    headers = [
        (b"access-control-allow-origin", allow_origin),
        (b"access-control-allow-methods", _OUTPUT_METHODS if output else _API_METHODS),
        (b"access-control-allow-headers", _OUTPUT_HEADERS if output else _API_HEADERS),
        (b"access-control-max-age", _PREFLIGHT_MAX_AGE),
        (b"vary", b"Origin"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
