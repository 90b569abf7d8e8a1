"""`Idempotency-Key` on POSTs: a retry gets the original response instead of a second create.

The key is held in the store per project while the first request runs; a 2xx response is
kept for 24 h and replayed (with `Idempotent-Replayed: true`) to requests with the same key
and the same fingerprint (method, path, query, `Accept-Version` and body). The same key with
another request is a 422; while the first is still running, a 409. Responses other than 2xx
are not kept, so a failed request can be retried. JSON bodies only (not uploads).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from anyio import to_thread
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.api.auth import ApiKeys
from pipeline.api.context import error_response
from pipeline.api.errors import ApiError
from pipeline.contract.errors import INVALID_REQUEST, PAYLOAD_TOO_LARGE
from pipeline.store import IdempotencyPort

HEADER = "idempotency-key"
TTL_S = 24 * 3600
MAX_KEY = 255
MAX_BODY = 1 << 20


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        store: IdempotencyPort,
        api_keys: Mapping[str, str],
        ttl_s: float = TTL_S,
    ) -> None:
        self.app, self.store, self.keys, self.ttl_s = app, store, ApiKeys(api_keys), ttl_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER, "").strip()
        project = self.keys.project(headers)
        json_body = headers.get("content-type", "").startswith("application/json")
        if not key or project is None or not json_body:
            await self.app(scope, receive, send)  # no key, or the route answers 401
            return
        if len(key) > MAX_KEY:
            message = f"Idempotency-Key: at most {MAX_KEY} characters"
            await self._refuse(scope, receive, send, ApiError(400, INVALID_REQUEST, message))
            return
        body = await _read(receive)
        if body is None:
            await self._refuse(scope, receive, send, ApiError(413, PAYLOAD_TOO_LARGE, "body"))
            return
        fingerprint = _fingerprint(scope, headers, body)
        held = await to_thread.run_sync(
            self.store.claim_idempotency, project, key, fingerprint, self.ttl_s
        )
        if held is not None:
            if held.fingerprint != fingerprint:
                exc = ApiError(
                    422,
                    INVALID_REQUEST,
                    "Idempotency-Key was already used with a different request",
                    "Idempotency-Key",
                )
            elif held.status is None:
                exc = ApiError(409, INVALID_REQUEST, "a request with this key is still running")
            else:
                await _replay(send, held.status, held.body, held.content_type)
                return
            await self._refuse(scope, receive, send, exc)
            return
        await self._run_and_keep(scope, body, send, project, key)

    async def _run_and_keep(
        self, scope: Scope, body: bytes, send: Send, project: str, key: str
    ) -> None:
        sent = False

        async def replay_body() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            await to_thread.run_sync(self.store.release_idempotency, project, key)
            raise
        status = int(start.get("status", 500))
        if 200 <= status < 300:
            content_type = Headers(raw=start.get("headers", [])).get("content-type")
            await to_thread.run_sync(
                self.store.finish_idempotency, project, key, status, b"".join(chunks), content_type
            )
        else:
            await to_thread.run_sync(self.store.release_idempotency, project, key)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: ApiError) -> None:
        await error_response(Request(scope, receive), exc)(scope, receive, send)


async def _read(receive: Receive) -> bytes | None:
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            return None
        if not message.get("more_body", False):
            return bytes(body)


async def _replay(send: Send, status: int, body: bytes, content_type: str | None) -> None:
    headers = [(b"content-length", str(len(body)).encode()), (b"idempotent-replayed", b"true")]
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _fingerprint(scope: Scope, headers: Headers, body: bytes) -> str:
    digest = hashlib.sha256()
    version = headers.get("accept-version", "")
    for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode(), version):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()
