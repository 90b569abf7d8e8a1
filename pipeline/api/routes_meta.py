"""GET /health, GET /metrics (both unauthenticated)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from pipeline.api import metrics
from pipeline.api.context import ViewOf, state

router = APIRouter(tags=["meta"])


@router.get("/health")
def health(request: Request, show: ViewOf) -> JSONResponse:
    return show.one(request, {"status": "ok"})


@router.get("/metrics")
def prometheus_metrics(request: Request) -> Response:
    """Queue depth per kind in the Prometheus text format: the autoscaling signal."""
    app = state(request)
    body = metrics.render(app.store.queue_depth(), app.enabled_kinds)
    return Response(body, media_type=metrics.CONTENT_TYPE)
