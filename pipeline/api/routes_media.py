"""GET /media, POST /media, GET/PATCH/DELETE /media/{id}: an input and its outputs, grouped."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from pipeline.api.context import ViewOf, item_links, project_of, state
from pipeline.api.errors import not_found
from pipeline.api.schemas_library import MediaFields
from pipeline.api.versions import View
from pipeline.library import media_files, new_media
from pipeline.store import MediaRecord, Store

router = APIRouter(tags=["media"])


@router.post("/media", status_code=201)
def create_media(body: MediaFields, request: Request, show: ViewOf) -> Response:
    project = project_of(request)
    fields = body.model_dump(exclude_none=True)
    media = new_media(state(request).store, project, **fields)
    return show.one(
        request, show.media(media, []), status=201, links=item_links(request, "media", media.id)
    )


@router.get("/media")
def list_media(
    request: Request,
    show: ViewOf,
    page: int = Query(1, ge=1, le=1_000_000),
    limit: int = Query(12, ge=1, le=100),
) -> Response:
    project = project_of(request)
    store = state(request).store
    result = store.list_media(project, page, limit)
    items = [_shown(show, store, m) for m in result.items]
    return show.many(request, items, total=result.total, page=page, limit=limit)


@router.get("/media/{media_id}")
def get_media(media_id: str, request: Request, show: ViewOf) -> Response:
    store = state(request).store
    media = store.get_media(project_of(request), media_id)
    if media is None:
        raise not_found("media", media_id)
    return show.one(
        request, _shown(show, store, media), links=item_links(request, "media", media_id)
    )


@router.patch("/media/{media_id}")
def update_media(media_id: str, body: MediaFields, request: Request, show: ViewOf) -> Response:
    project = project_of(request)
    store = state(request).store
    changes = body.model_dump(exclude_none=True)
    media = store.update_media(project, media_id, changes) if changes else None
    media = media or store.get_media(project, media_id)
    if media is None:
        raise not_found("media", media_id)
    return show.one(
        request, _shown(show, store, media), links=item_links(request, "media", media_id)
    )


@router.delete("/media/{media_id}")
def delete_media(media_id: str, request: Request, show: ViewOf) -> Response:
    """Delete the media object; its files are kept (delete them with DELETE /files/{id})."""
    if state(request).store.delete_media(project_of(request), media_id) is None:
        raise not_found("media", media_id)
    return show.deleted(request, "media", media_id)


def _shown(show: View, store: Store, media: MediaRecord) -> dict[str, object]:
    return show.media(media, media_files(store, media.project_id, media.id))
