"""POST /files (upload, or ingest from a URL), GET /files, GET/PATCH/DELETE /files/{id},
GET /files/{id}/content."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from pipeline.api.context import ViewOf, item_links, project_of, state
from pipeline.api.errors import ApiError, invalid, not_found
from pipeline.api.ingests import ingest_slots, too_many_ingests
from pipeline.api.multipart import receive_file
from pipeline.api.schemas import check_filename
from pipeline.api.schemas_library import FileCreate, FileLabels, FileUpdate
from pipeline.api.serving import KEYED_CACHE_CONTROL, respond, signed_cache_control
from pipeline.api.validation import request_error
from pipeline.content_types import content_disposition
from pipeline.contract.errors import NOT_FOUND, PAYLOAD_TOO_LARGE, UNAUTHORIZED
from pipeline.library import Labels, ingest_url, keep_upload, remove_file
from pipeline.storage import Storage, StorageError
from pipeline.storage.signing import verify
from pipeline.store import FileRecord

router = APIRouter(tags=["files"])
_UPLOAD_FIELD = "file"


@router.post("/files", status_code=201)
async def upload_file(request: Request, show: ViewOf) -> Response:
    """Upload a file as the raw body (name in `?filename=`) or as multipart field `file`;
    or, with a JSON body `{"url": …}`, ingest the file at that URL. `ref`, `folder`,
    `media_id` label an upload as query parameters."""
    project = project_of(request)
    app = state(request)
    if request.headers.get("content-type", "").startswith("application/json"):
        slots = ingest_slots(request)
        with slots.hold() as held:
            if not held:
                return too_many_ingests(request, slots.limit)
            record = await _ingest(request, project)
        return show.one(
            request, show.file(record), status=201, links=item_links(request, "files", record.id)
        )
    labels = _query_labels(request, project)
    limit = app.settings.max_upload_bytes
    with upload_scratch(request) as path:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            filename, content_type = await receive_file(
                request, path, limit=limit, field=_UPLOAD_FIELD
            )
        else:
            filename = request.query_params.get("filename") or "upload"
            await write_limited(request.stream(), path, limit)
        check_filename(filename)
        record = await keep_received(request, path, filename, content_type, project, labels)
    return show.one(
        request, show.file(record), status=201, links=item_links(request, "files", record.id)
    )


@contextmanager
def upload_scratch(request: Request) -> Iterator[Path]:
    """Where an upload's bytes go while they arrive, removed afterwards; a declared
    `Content-Length` over the upload limit is refused before that."""
    settings = state(request).settings
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > settings.max_upload_bytes:
        raise too_large(settings.max_upload_bytes)
    work = settings.data_dir / "uploads"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        yield Path(tmp) / "upload"


async def keep_received(
    request: Request,
    path: Path,
    filename: str,
    content_type: str | None,
    project: str,
    labels: Labels,
) -> FileRecord:
    """Probe and store a received upload like any other (pipeline/library.py)."""
    app = state(request)
    return await run_in_threadpool(
        keep_upload,
        path,
        filename=filename,
        content_type=content_type or None,
        project_id=project,
        labels=labels,
        store=app.store,
        storage=app.storage,
        settings=app.settings,
        start_automations=True,
    )


@router.get("/files")
def list_files(
    request: Request,
    show: ViewOf,
    page: int = Query(1, ge=1, le=1_000_000),
    limit: int = Query(12, ge=1, le=100),
    media_id: str | None = Query(None, max_length=64),
) -> Response:
    project = project_of(request)
    result = state(request).store.list_files(project, page, limit, media_id=media_id)
    items = [show.file(f) for f in result.items]
    return show.many(request, items, total=result.total, page=page, limit=limit)


@router.get("/files/{file_id}")
def get_file(file_id: str, request: Request, show: ViewOf) -> Response:
    project = project_of(request)
    record = state(request).store.get_file(project, file_id)
    if record is None:
        raise not_found("file", file_id)
    return show.one(request, show.file(record), links=item_links(request, "files", file_id))


@router.patch("/files/{file_id}")
def update_file(file_id: str, body: FileUpdate, request: Request, show: ViewOf) -> Response:
    project = project_of(request)
    changes = body.model_dump(exclude_none=True)
    if "filename" in changes:
        check_filename(changes["filename"])
    store = state(request).store
    record = store.update_file(project, file_id, changes) if changes else None
    record = record or store.get_file(project, file_id)
    if record is None:
        raise not_found("file", file_id)
    return show.one(request, show.file(record), links=item_links(request, "files", file_id))


@router.delete("/files/{file_id}")
def delete_file(file_id: str, request: Request, show: ViewOf) -> Response:
    """Delete the file and its stored object."""
    project = project_of(request)
    app = state(request)
    if remove_file(app.store, app.storage, project, file_id) is None:
        raise not_found("file", file_id)
    return show.deleted(request, "file", file_id)


@router.get("/files/{file_id}/content")
@router.head("/files/{file_id}/content", include_in_schema=False)
def file_content(
    file_id: str, request: Request, expires: int | None = None, signature: str | None = None
) -> Response:
    """The file's bytes: with the API key, or with a signed link's `expires` and `signature`.

    Range, HEAD and conditional requests are answered (pipeline.api.serving)."""
    app = state(request)
    if signature is not None and expires is not None:
        if not signature.isascii() or not verify(
            app.settings.secret_key, file_id, expires, signature
        ):
            raise ApiError(401, UNAUTHORIZED, "the link's signature is invalid or expired")
        record = app.store.get_file(None, file_id)
        cache = signed_cache_control(expires)
    else:
        record = app.store.get_file(project_of(request), file_id)
        cache = KEYED_CACHE_CONTROL
    if record is None:
        raise not_found("file", file_id)
    return _stream(
        request,
        app.storage,
        record.storage_key,
        record.mimetype,
        record.filename,
        file_id,
        cache=cache,
    )


def stream_file(request: Request, storage: Storage, record: FileRecord, cache: str) -> Response:
    return _stream(
        request,
        storage,
        record.storage_key,
        record.mimetype,
        record.filename,
        record.id,
        cache=cache,
    )


def _stream(
    request: Request,
    storage: Storage,
    key: str,
    mimetype: str,
    filename: str,
    file_id: str,
    *,
    cache: str,
) -> Response:
    headers = {
        "Cache-Control": cache,
        "Content-Disposition": content_disposition(filename, mimetype),
        "X-Content-Type-Options": "nosniff",  # the type is the one recorded, never sniffed
    }
    try:
        return respond(request, storage, key, mimetype=mimetype, headers=headers)
    except StorageError as exc:
        raise ApiError(404, NOT_FOUND, f"the content of file {file_id} is missing") from exc


@router.get("/files/{file_id}/t/{expires}/{signature}/{name:path}")
@router.head("/files/{file_id}/t/{expires}/{signature}/{name:path}", include_in_schema=False)
def file_folder_content(
    file_id: str, expires: int, signature: str, name: str, request: Request
) -> Response:
    """A file or one of its assets (segments, sprites, tracks) through a path-signed link."""
    app = state(request)
    if not signature.isascii() or not verify(app.settings.secret_key, file_id, expires, signature):
        raise ApiError(401, UNAUTHORIZED, "the link's signature is invalid or expired")
    record = app.store.get_file(None, file_id)
    if record is None:
        raise not_found("file", file_id)
    assets: dict[str, str] = record.info.get("assets", {})
    if name == record.filename:
        mimetype = record.mimetype
    elif name in assets:
        mimetype = assets[name]
    else:
        raise not_found("asset", name)
    folder = record.storage_key.rsplit("/", 1)[0]
    return _stream(
        request,
        app.storage,
        f"{folder}/{name}",
        mimetype,
        name.rsplit("/", 1)[-1],
        file_id,
        cache=signed_cache_control(expires),
    )


async def write_limited(chunks: AsyncIterator[bytes], path: Path, limit: int) -> None:
    written = 0
    with path.open("wb") as out:
        async for chunk in chunks:
            written += len(chunk)
            if written > limit:
                raise too_large(limit)
            out.write(chunk)


async def _ingest(request: Request, project: str) -> FileRecord:
    try:
        body = FileCreate.model_validate_json(await request.body())
    except ValidationError as exc:
        raise request_error([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from exc
    if body.filename is not None:
        check_filename(body.filename)
    app = state(request)
    labels = Labels(body.media_id, body.ref, body.folder, body.metadata)
    _check_media(request, project, labels.media_id)
    return await run_in_threadpool(
        ingest_url,
        body.url,
        filename=body.filename,
        project_id=project,
        labels=labels,
        store=app.store,
        storage=app.storage,
        settings=app.settings,
        start_automations=True,
    )


def _query_labels(request: Request, project: str) -> Labels:
    params = request.query_params
    try:
        given = FileLabels.model_validate({k: params[k] for k in ("ref", "folder") if k in params})
    except ValidationError as exc:
        raise request_error([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]) from exc
    media_id = params.get("media_id")
    _check_media(request, project, media_id)
    return Labels(media_id, given.ref, given.folder)


def _check_media(request: Request, project: str, media_id: str | None) -> None:
    if media_id is not None and state(request).store.get_media(project, media_id) is None:
        raise invalid("media_id", f"no media with id {media_id!r} in this project")


def too_large(limit: int) -> ApiError:
    return ApiError(413, PAYLOAD_TOO_LARGE, f"uploads are limited to {limit} bytes")
