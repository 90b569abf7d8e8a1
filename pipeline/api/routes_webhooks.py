"""/webhooks/endpoints (create, list, get, delete) and GET /events.

An endpoint gets each of its project's events of the types it subscribes to, signed the
Standard Webhooks way with its own secret, which is shown once, in the answer that creates
it. Its URL passes the same private-address guard as inputs, here (the literal address) and
again when each delivery connects (pipeline/webhooks.py).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from pipeline.api.context import ViewOf, base_url, item_links, project_of, state
from pipeline.api.errors import invalid, not_found
from pipeline.api.presenters import timestamp
from pipeline.api.schemas import check_callback_url
from pipeline.contract.events import TOPICS
from pipeline.ids import new_id, now_iso
from pipeline.standard_webhooks import new_secret
from pipeline.store import EndpointRecord, EventRecord

router = APIRouter(tags=["webhooks"])
MAX_ENDPOINTS = 20  # per project: each event is one delivery per endpoint


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    url: str = Field(max_length=2048, description="Receives the events with a POST")
    topics: list[str] = Field(
        min_length=1, max_length=len(TOPICS), description=f"Of: {', '.join(TOPICS)}"
    )
    description: str | None = Field(None, max_length=500)


@router.post("/webhooks/endpoints", status_code=201)
def create_endpoint(body: EndpointCreate, request: Request, show: ViewOf) -> Response:
    project = project_of(request)
    app = state(request)
    check_callback_url("url", body.url, app.settings.allow_private_urls)
    for index, topic in enumerate(body.topics):
        if topic not in TOPICS:
            raise invalid(
                f"topics[{index}]", f"unknown topic {topic!r}; topics: {', '.join(TOPICS)}"
            )
    if app.store.list_endpoints(project, 1, 1).total >= MAX_ENDPOINTS:
        raise invalid("url", f"a project has at most {MAX_ENDPOINTS} webhook endpoints")
    endpoint = EndpointRecord(
        id=new_id("ep"),
        project_id=project,
        url=body.url,
        topics=list(dict.fromkeys(body.topics)),
        secret=new_secret(),
        description=body.description,
        created=now_iso(),
    )
    app.store.create_endpoint(endpoint)
    shown = endpoint_body(endpoint) | {"secret": endpoint.secret}
    return show.one(
        request, shown, status=201, links=item_links(request, "webhooks/endpoints", endpoint.id)
    )


@router.get("/webhooks/endpoints")
def list_endpoints(
    request: Request,
    show: ViewOf,
    page: int = Query(1, ge=1, le=1_000_000),
    limit: int = Query(12, ge=1, le=100),
) -> Response:
    result = state(request).store.list_endpoints(project_of(request), page, limit)
    items = [endpoint_body(e) for e in result.items]
    return show.many(request, items, total=result.total, page=page, limit=limit)


@router.get("/webhooks/endpoints/{endpoint_id}")
def get_endpoint(endpoint_id: str, request: Request, show: ViewOf) -> Response:
    endpoint = state(request).store.get_endpoint(project_of(request), endpoint_id)
    if endpoint is None:
        raise not_found("webhook endpoint", endpoint_id)
    return show.one(
        request,
        endpoint_body(endpoint),
        links=item_links(request, "webhooks/endpoints", endpoint_id),
    )


@router.delete("/webhooks/endpoints/{endpoint_id}")
def delete_endpoint(endpoint_id: str, request: Request, show: ViewOf) -> Response:
    """No more deliveries to it, including those still due."""
    if not state(request).store.delete_endpoint(project_of(request), endpoint_id):
        raise not_found("webhook endpoint", endpoint_id)
    return show.deleted(request, "webhook_endpoint", endpoint_id)


@router.get("/events")
def list_events(
    request: Request,
    show: ViewOf,
    page: int = Query(1, ge=1, le=1_000_000),
    limit: int = Query(12, ge=1, le=100),
    type: Literal[TOPICS] | None = None,  # type: ignore[valid-type]
) -> Response:
    result = state(request).store.list_events(project_of(request), page, limit, type)
    items = [event_body(request, e) for e in result.items]
    return show.many(request, items, total=result.total, page=page, limit=limit)


def endpoint_body(endpoint: EndpointRecord) -> dict[str, Any]:
    """Without the secret: it is shown once, when the endpoint is created."""
    return {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "topics": endpoint.topics,
        "description": endpoint.description,
        "created": timestamp(endpoint.created),
    }


def event_body(request: Request, event: EventRecord) -> dict[str, Any]:
    collection = "runs" if event.type.startswith("run.") else "tasks"
    return {
        "id": event.id,
        "object": "event",
        "type": event.type,
        "object_id": event.object_id,
        "url": f"{base_url(request)}/{collection}/{event.object_id}",
        "created": timestamp(event.created),
    }
