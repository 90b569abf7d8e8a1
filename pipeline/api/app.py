"""`create_app`: wires settings, store and storage into the FastAPI app."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from operators.registry import OPERATORS
from pipeline.api import (
    openapi,
    routes_automations,
    routes_console,
    routes_files,
    routes_media,
    routes_meta,
    routes_signatures,
    routes_tasks,
    routes_uploads,
    routes_webhooks,
)
from pipeline.api.auth import ApiKeys
from pipeline.api.context import AppState, error_response
from pipeline.api.cors import CorsMiddleware
from pipeline.api.errors import ApiError
from pipeline.api.idempotency import IdempotencyMiddleware
from pipeline.api.limits import BodyLimitMiddleware
from pipeline.api.ratelimit import RateLimitMiddleware
from pipeline.api.request_context import RequestContextMiddleware
from pipeline.api.validation import request_error
from pipeline.api.versions import check_version
from pipeline.config import Settings
from pipeline.contract.errors import (
    DATABASE_UNAVAILABLE,
    ERRORS,
    INTERNAL,
    INVALID_REQUEST,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    RATE_LIMITED,
    UNAUTHORIZED,
    TaskError,
)
from pipeline.storage import Storage
from pipeline.store import Store, StoreUnavailable
from pipeline.store.reads import ThreadReads

log = logging.getLogger(__name__)
STORE_RETRY_AFTER_S = 1  # a database away for a moment: a restart, a failover, a full pool
_HTTP_CODES = {
    401: UNAUTHORIZED,
    404: NOT_FOUND,
    405: INVALID_REQUEST,
    413: PAYLOAD_TOO_LARGE,
    429: RATE_LIMITED,
}
# An input fetched while the client waits (POST /files with a URL) fails with a task code,
# answered with the status the error table gives it (422 when it gives none).
_INPUT_STATUS = {
    e.code: e.status for e in ERRORS.values() if e.task and e.status and e.status < 500
}


def create_app(settings: Settings, store: Store, storage: Storage) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The store's event-loop reads live as long as this loop (docs/ARCHITECTURE.md).
        async with store.api_reads() as loop_reads:
            app.state.reads = loop_reads
            try:
                yield
            finally:
                app.state.reads = ThreadReads(store)

    app = FastAPI(
        lifespan=lifespan,
        title="Strobe",
        version="0.1.0",
        description="Self-hostable media-processing Tasks API (Ittybit Tasks API 2024-08-21).",
        docs_url="/docs",
        redoc_url=None,
        dependencies=[Depends(check_version)],
    )
    app.state.reads = ThreadReads(store)  # until the lifespan opens the store's own
    app.state.strobe = AppState(
        settings, store, storage, frozenset(OPERATORS), ApiKeys(settings.api_keys)
    )
    # Inside the middleware below, so the request id and the version are known to them.
    # Outermost first: request id, rate limit, body limit, idempotency.
    app.add_middleware(IdempotencyMiddleware, store=store, api_keys=settings.api_keys)
    app.add_middleware(
        BodyLimitMiddleware,
        max_json_bytes=settings.max_json_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        idle_s=settings.body_idle_s,
    )
    if settings.rate_limit > 0:
        burst = settings.rate_limit_burst or max(1, math.ceil(2 * settings.rate_limit))
        app.add_middleware(
            RateLimitMiddleware, api_keys=settings.api_keys, rate=settings.rate_limit, burst=burst
        )

    app.add_middleware(RequestContextMiddleware)  # outermost: the request id, the version
    if settings.cors_origins:  # around all: a preflight is answered before auth and limits
        app.add_middleware(CorsMiddleware, origins=settings.cors_origins)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, request_error(exc.errors()))

    @app.exception_handler(TaskError)
    async def input_error(request: Request, exc: TaskError) -> JSONResponse:
        status = _INPUT_STATUS.get(exc.code, 422)
        return error_response(request, ApiError(status, exc.code, exc.message, "url"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, INVALID_REQUEST)
        return error_response(request, ApiError(exc.status_code, code, str(exc.detail)))

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("request %s: %s", getattr(request.state, "request_id", "?"), exc)
        message = "the database did not answer in time; retry shortly"
        response = error_response(request, ApiError(503, DATABASE_UNAVAILABLE, message))
        response.headers["Retry-After"] = str(STORE_RETRY_AFTER_S)
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug or an unavailable store: log it with the request id, answer in the envelope.
        log.exception("request %s failed", getattr(request.state, "request_id", "?"))
        return error_response(request, ApiError(500, INTERNAL, "internal error; see the logs"))

    app.include_router(routes_tasks.router)
    app.include_router(routes_files.router)
    app.include_router(routes_media.router)
    app.include_router(routes_signatures.router)
    app.include_router(routes_automations.router)
    app.include_router(routes_webhooks.router)
    app.include_router(routes_uploads.router)
    app.include_router(routes_meta.router)
    app.include_router(routes_console.router)
    openapi.install(app)
    return app
