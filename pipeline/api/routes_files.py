"""POST /files (upload), GET /files/{id}, GET /files/{id}/content."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from pipeline.api.context import base_url, envelope, presenter, project_of, state
from pipeline.api.errors import ApiError, not_found
from pipeline.api.schemas import check_filename
from pipeline.storage import Storage, StorageError
from pipeline.storage.signing import verify
from pipeline.uploads import save_upload

router = APIRouter(tags=["files"])
_UPLOAD_FIELD = "file"


@router.post("/files", status_code=201)
async def upload_file(request: Request) -> JSONResponse:
    """Upload a file as the raw body (name in `?filename=`) or as multipart field `file`."""
    project = project_of(request)
    app = state(request)
    limit = app.settings.max_upload_bytes
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise _too_large(limit)
    work = app.settings.data_dir / "uploads"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        path = Path(tmp) / "upload"
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            filename, content_type = await _receive_multipart(request, path, limit)
        else:
            filename = request.query_params.get("filename") or "upload"
            await _write_limited(request.stream(), path, limit)
        check_filename(filename)
        record = await run_in_threadpool(
            save_upload,
            path,
            filename=filename,
            content_type=content_type or None,
            project_id=project,
            store=app.store,
            storage=app.storage,
            max_pixels=app.settings.max_input_pixels,
        )
    return envelope(
        request, presenter(request).file(record), status=201, links=_file_links(request, record.id)
    )


@router.get("/files/{file_id}")
def get_file(file_id: str, request: Request) -> JSONResponse:
    project = project_of(request)
    record = state(request).store.get_file(project, file_id)
    if record is None:
        raise not_found("file", file_id)
    return envelope(request, presenter(request).file(record), links=_file_links(request, file_id))


@router.get("/files/{file_id}/content")
def file_content(
    file_id: str, request: Request, expires: int | None = None, signature: str | None = None
) -> StreamingResponse:
    """The file's bytes: with the API key, or with a signed link's `expires` and `signature`."""
    app = state(request)
    if signature is not None and expires is not None:
        if not verify(app.settings.secret_key, file_id, expires, signature):
            raise ApiError(401, "unauthorized", "the link's signature is invalid or expired")
        record = app.store.get_file(None, file_id)
    else:
        record = app.store.get_file(project_of(request), file_id)
    if record is None:
        raise not_found("file", file_id)
    return _stream(
        app.storage,
        record.storage_key,
        record.mimetype,
        record.filename,
        file_id,
        size=record.filesize,
    )


def _stream(
    storage: Storage,
    key: str,
    mimetype: str,
    filename: str,
    file_id: str,
    size: int | None = None,
) -> StreamingResponse:
    try:
        chunks = storage.iter_bytes(key)
    except StorageError as exc:
        raise ApiError(404, "not_found", f"the content of file {file_id} is missing") from exc
    headers = {"Content-Disposition": f'inline; filename="{filename}"'}
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(chunks, media_type=mimetype, headers=headers)


@router.get("/files/{file_id}/t/{expires}/{signature}/{name:path}")
def file_folder_content(
    file_id: str, expires: int, signature: str, name: str, request: Request
) -> StreamingResponse:
    """A file or one of its assets (segments, sprites, tracks) through a path-signed link."""
    app = state(request)
    if not verify(app.settings.secret_key, file_id, expires, signature):
        raise ApiError(401, "unauthorized", "the link's signature is invalid or expired")
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
    return _stream(app.storage, f"{folder}/{name}", mimetype, name.rsplit("/", 1)[-1], file_id)


async def _receive_multipart(request: Request, path: Path, limit: int) -> tuple[str, str]:
    form = await request.form(max_files=1, max_fields=20)
    upload = form.get(_UPLOAD_FIELD)
    if upload is None or isinstance(upload, str):
        raise ApiError(
            422, "invalid_request", "file: multipart upload needs a 'file' field", _UPLOAD_FIELD
        )

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await upload.read(1 << 20):
            yield chunk

    await _write_limited(chunks(), path, limit)
    return upload.filename or "upload", upload.content_type or ""


async def _write_limited(chunks: AsyncIterator[bytes], path: Path, limit: int) -> None:
    written = 0
    with path.open("wb") as out:
        async for chunk in chunks:
            written += len(chunk)
            if written > limit:
                raise _too_large(limit)
            out.write(chunk)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"uploads are limited to {limit} bytes")


def _file_links(request: Request, file_id: str) -> dict[str, str]:
    root = f"{base_url(request)}/files"
    return {"self": f"{root}/{file_id}", "parent": root}
