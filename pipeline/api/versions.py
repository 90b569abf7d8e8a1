"""API versions: `Accept-Version` picks the dialect a request is answered in.

No header: the spec's `2024-08-21` envelope (on the routes it has; see `_NEWER_ROUTES`).
`2025-08-20`: the dialect the official Ittybit SDKs parse (bare objects, bare arrays with
`Link` headers). Every response names the version that answered in `Strobe-Version`.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers

from pipeline.api.errors import ApiError
from pipeline.api.paging import Cursors
from pipeline.contract.errors import UNSUPPORTED_VERSION
from pipeline.store import FileRecord, MediaRecord, TaskRecord

V2024 = "2024-08-21"
V2025 = "2025-08-20"
SUPPORTED = (V2024, V2025)
DEFAULT = V2024
ANSWERED_HEADER = "Strobe-Version"
# The SDKs send `Accept-Version` per request, and `ACCEPT_VERSION` when built with `version=`.
_REQUEST_HEADERS = ("accept-version", "accept_version")


class View(Protocol):
    """One version's wire shapes and responses; built per request by `context.view`."""

    version: str

    def task(self, task: TaskRecord, input_file: FileRecord | None = None) -> dict[str, Any]: ...

    def file(self, file: FileRecord) -> dict[str, Any]: ...

    def media(self, media: MediaRecord, files: list[FileRecord]) -> dict[str, Any]: ...

    def one(
        self,
        request: Request,
        data: Any,
        *,
        status: int = 200,
        links: dict[str, Any] | None = None,
    ) -> Response: ...

    def many(
        self,
        request: Request,
        items: list[dict[str, Any]],
        *,
        total: int,
        page: int,
        limit: int,
        cursors: Cursors | None = None,
    ) -> Response: ...

    def deleted(self, request: Request, object_: str, ident: str) -> Response: ...

    def error(self, request: Request, exc: ApiError) -> JSONResponse: ...


def requested(headers: Headers) -> str:
    """The version the client asked for; empty when it sent none."""
    for name in _REQUEST_HEADERS:
        value = headers.get(name, "").strip()
        if value:
            return value
    return ""


# Routes the `2024-08-21` API does not have: with no header they answer in the dialect that
# defines them, as the official SDK's automations client expects (it sends no version on
# create). `Accept-Version: 2024-08-21` still gets them in the envelope.
_NEWER_ROUTES = ("/automations", "/runs", "/webhooks/endpoints", "/events")


def negotiate(asked: str, path: str = "") -> str | None:
    """The version that answers `asked` on `path`; None when it is not one Strobe speaks."""
    if not asked:
        return V2025 if path.startswith(_NEWER_ROUTES) else DEFAULT
    return asked if asked in SUPPORTED else None


def answered(request: Request) -> str:
    """The version this request is answered in (the default for an unsupported one)."""
    version: str | None = getattr(request.state, "version", None)
    return version or DEFAULT


async def check_version(request: Request) -> None:
    """A dependency of every route: an unsupported `Accept-Version` is a 400. Async, so
    FastAPI calls it on the event loop rather than on a worker thread."""
    if getattr(request.state, "version", DEFAULT) is None:
        asked = getattr(request.state, "asked_version", "")
        raise ApiError(
            400,
            UNSUPPORTED_VERSION,
            f"Accept-Version {asked!r} is not supported; supported: {', '.join(SUPPORTED)}",
            "Accept-Version",
        )
