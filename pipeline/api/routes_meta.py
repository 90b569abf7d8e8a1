"""GET /health."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pipeline.api.context import envelope

router = APIRouter(tags=["meta"])


@router.get("/health")
def health(request: Request) -> JSONResponse:
    return envelope(request, {"status": "ok"})
