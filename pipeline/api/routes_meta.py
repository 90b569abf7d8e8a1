"""GET /health, GET /metrics (both unauthenticated)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipeline.api import metrics
from pipeline.api.context import ViewOf, state
from pipeline.contract.errors import TIMEOUT

router = APIRouter(tags=["meta"])
# Workers report every 5 s; one silent for longer than this is gone (or cut off).
WORKER_REPORT_MAX_AGE_S = 30.0


@router.get("/health")
def health(request: Request, show: ViewOf) -> Response:
    return show.one(request, {"status": "ok"})


@router.get("/metrics")
def prometheus_metrics(request: Request) -> Response:
    """Queue depth per kind in the Prometheus text format (the autoscaling signal), and the
    workers' actors and time budgets."""
    app = state(request)
    store = app.store
    body = metrics.render(
        store.queue_depth(),
        app.enabled_kinds,
        store.worker_reports(max_age_s=WORKER_REPORT_MAX_AGE_S),
        store.count_errors(TIMEOUT),
    )
    return Response(body, media_type=metrics.CONTENT_TYPE)
