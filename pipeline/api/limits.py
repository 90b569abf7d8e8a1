"""Limits on what a client sends: body size counted as it streams, its pace, and `metadata`
shape.

`BodyLimitMiddleware` counts the bytes of every request body as they arrive and answers
`413 payload_too_large` the moment a body passes its limit, without reading the rest
(the server then closes the connection). A body whose next bytes do not come within
`idle_s` (STROBE_BODY_IDLE_S) is cut the same way, `408 request_timeout`: to the route it
looks like a client that went away (a resumable upload keeps what arrived), so no request
waits on a silent client for ever. A declared `Content-Length` over the limit is
refused before a byte is read. Uploads (`POST /files` with a raw or multipart body, and a
signed `PUT /signed/…`) may be as large as `STROBE_MAX_UPLOAD_BYTES`; every other body,
JSON ones included, as large as `STROBE_MAX_JSON_BYTES`. Whatever the route does with the
body, nothing past the limit is ever handed to it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from pydantic import AfterValidator
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.api.context import error_response
from pipeline.api.errors import ApiError
from pipeline.contract.errors import PAYLOAD_TOO_LARGE, REQUEST_TIMEOUT

UPLOAD_PATHS = frozenset({"/files"})
SIGNED_UPLOAD_PREFIX = "/signed/"  # PUT only
RESUMABLE_PREFIX = "/uploads/"  # PATCH only: a resumable upload's next bytes
# Multipart framing around the file part: boundaries, part headers, a few small fields.
MULTIPART_ALLOWANCE = 256 << 10
METADATA_MAX_BYTES = 64 << 10  # serialized as compact JSON
METADATA_MAX_DEPTH = 8  # levels of objects and arrays, the top-level object counted
METADATA_MAX_ITEMS = 1000  # keys and array entries, all levels together


class PayloadTooLarge(ApiError):
    def __init__(self, limit: int, what: str = "request bodies") -> None:
        super().__init__(413, PAYLOAD_TOO_LARGE, f"{what} are limited to {limit} bytes")


class BodyStalled(ApiError):
    def __init__(self, idle_s: float) -> None:
        message = f"the request body stopped arriving: nothing for {idle_s:g} s"
        super().__init__(408, REQUEST_TIMEOUT, message)


def is_upload(scope: Scope) -> bool:
    """A raw or multipart upload, as opposed to a JSON body (`POST /files` takes both), a
    signed PUT upload, or a resumable upload's PATCH."""
    if scope["method"] == "PUT" and scope["path"].startswith(SIGNED_UPLOAD_PREFIX):
        return True
    if scope["method"] == "PATCH" and scope["path"].startswith(RESUMABLE_PREFIX):
        return True
    if scope["method"] != "POST" or scope["path"] not in UPLOAD_PATHS:
        return False
    return not Headers(scope=scope).get("content-type", "").startswith("application/json")


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_json_bytes: int, max_upload_bytes: int, idle_s: float = 30.0
    ) -> None:
        self.app, self.max_json, self.max_upload = app, max_json_bytes, max_upload_bytes
        self.idle_s = idle_s

    def limit_of(self, scope: Scope) -> tuple[int, str]:
        if not is_upload(scope):
            return self.max_json, "request bodies"
        if Headers(scope=scope).get("content-type", "").startswith("multipart/"):
            return self.max_upload + MULTIPART_ALLOWANCE, "multipart uploads"
        return self.max_upload, "uploads"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, what = self.limit_of(scope)
        declared = Headers(scope=scope).get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            await _refuse(scope, receive, send, PayloadTooLarge(limit, what))
            return
        headers = Headers(scope=scope)
        body_done = declared in ("", "0") and "transfer-encoding" not in headers
        if body_done:  # no body (most GETs): nothing to count, no early answer to guard
            await self.app(scope, receive, send)
            return
        received = 0
        refused: ApiError | None = None  # the body was cut: over its limit, or stalled
        started = False

        async def counted() -> Message:
            nonlocal received, refused, body_done
            if isinstance(refused, PayloadTooLarge):
                raise refused
            if refused is not None:
                return {"type": "http.disconnect"}  # stalled: the client is gone for the route
            if body_done:
                return await receive()  # the route listening for a disconnect: no deadline
            try:
                async with asyncio.timeout(self.idle_s):
                    message = await receive()
            except TimeoutError:
                refused = BodyStalled(self.idle_s)
                return {"type": "http.disconnect"}  # what a client that left looks like
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > limit:
                    refused = PayloadTooLarge(limit, what)
                    raise refused
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused is not None and not started:
                return  # the route's answer to the cut body; the refusal below replaces it
            if message["type"] == "http.response.start" and not body_done:
                # Answered before the body ended (a route's own limit, an early error):
                # close the connection rather than read the rest of the body.
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if refused is None or started:
                raise
        if refused is not None and not started:
            await _refuse(scope, receive, send, refused)


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: ApiError) -> None:
    response = error_response(Request(scope, receive), exc)
    response.headers["Connection"] = "close"  # the rest of the body is never read
    await response(scope, receive, send)


def check_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A pydantic validator: `metadata` within the size, depth and item limits."""
    if value is None:
        return None
    items = _walk(value, depth=1)
    if items > METADATA_MAX_ITEMS:
        raise ValueError(f"at most {METADATA_MAX_ITEMS} keys and array entries in all")
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > METADATA_MAX_BYTES:
        raise ValueError(f"at most {METADATA_MAX_BYTES} bytes as JSON (got {size})")
    return value


def _walk(value: Any, depth: int) -> int:
    """The number of keys and entries under `value`; ValueError past the depth limit."""
    if not isinstance(value, dict | list):
        return 0
    if depth > METADATA_MAX_DEPTH:
        raise ValueError(f"nested at most {METADATA_MAX_DEPTH} levels deep")
    children = value.values() if isinstance(value, dict) else value
    return sum(1 + _walk(child, depth + 1) for child in children)


# `metadata: Metadata = None` in a request model applies the limits.
Metadata = Annotated[dict[str, Any] | None, AfterValidator(check_metadata)]
