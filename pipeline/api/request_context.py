"""Every request's id and API version, set before the routes run and named in the answer.

A plain ASGI middleware (not `BaseHTTPMiddleware`, which runs the rest of the app in a task
of its own and streams the response through a memory channel, a large share of the cost
of a small request such as `GET /tasks/{id}`).
It puts `request_id`, `asked_version` and `version` in the request's state and adds
`X-Request-Id` and `Strobe-Version` to the response's headers.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.api.versions import ANSWERED_HEADER, DEFAULT, negotiate, requested
from pipeline.ids import request_id as new_request_id

_ANSWERED = ANSWERED_HEADER.lower().encode()
_NAMED = (b"x-request-id", _ANSWERED)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        request_id = new_request_id()
        asked = requested(Headers(scope=scope))
        version = negotiate(asked, scope.get("path", ""))
        state.update(request_id=request_id, asked_version=asked, version=version)
        extra = [(b"x-request-id", request_id.encode()), (_ANSWERED, (version or DEFAULT).encode())]

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                kept = [(k, v) for k, v in headers if k.lower() not in _NAMED]
                message["headers"] = [*kept, *extra]
            await send(message)

        await self.app(scope, receive, named)
