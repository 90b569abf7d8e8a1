"""POST /signatures: signed, expiring URLs for a project's file paths. Without the API key,
GET /signed/… serves the file at the path, and PUT /signed/… (a URL signed with method
`put`) stores the request's body there, so a browser can upload directly."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipeline.api.context import ViewOf, base_url, item_links, project_of, state
from pipeline.api.errors import ApiError, invalid, not_found
from pipeline.api.routes_files import (
    keep_received,
    stream_file,
    upload_scratch,
    write_limited,
)
from pipeline.api.schemas import check_filename
from pipeline.api.schemas_library import MAX_EXPIRY_S, SignatureCreate
from pipeline.api.serving import signed_cache_control
from pipeline.contract.errors import FORBIDDEN, UNAUTHORIZED
from pipeline.library import Labels
from pipeline.storage.signing import signed_path_url, verify_path

router = APIRouter(tags=["signatures"])
DEFAULT_EXPIRY_S = 3600


@router.post("/signatures", status_code=201)
def create_signature(body: SignatureCreate, request: Request, show: ViewOf) -> Response:
    project = project_of(request)
    check_filename(body.filename)
    now = int(time.time())
    expiry = body.expiry if body.expiry is not None else now + DEFAULT_EXPIRY_S
    if not now < expiry <= now + MAX_EXPIRY_S:
        raise invalid("expiry", f"must be a Unix time in the next {MAX_EXPIRY_S} seconds")
    key = request.headers["authorization"].partition(" ")[2].strip()  # checked by project_of
    path = f"{body.folder}/{body.filename}" if body.folder else body.filename
    url, signature = signed_path_url(base_url(request), key, project, path, expiry, body.method)
    signed = {
        "domain": base_url(request),
        "filename": body.filename,
        "folder": body.folder,
        "expiry": expiry,
        "method": body.method,
        "signature": signature,
        "url": url,
    }
    return show.one(request, signed, status=201)


@router.get("/signed/{project_id}/{path:path}")
@router.head("/signed/{project_id}/{path:path}", include_in_schema=False)
def signed_get(
    project_id: str, path: str, expiry: int, method: str, signature: str, request: Request
) -> Response:
    """The newest file stored under `path` (`folder/filename`), through a signed URL."""
    app = state(request)
    keys = [key for key, project in app.settings.api_keys.items() if project == project_id]
    if method != "get" or not verify_path(keys, project_id, path, expiry, method, signature):
        raise ApiError(401, UNAUTHORIZED, "the URL's signature is invalid or expired")
    folder, _, filename = path.rpartition("/")
    record = app.store.find_file(project_id, folder or None, filename)
    if record is None:
        raise not_found("file", path)
    return stream_file(request, app.storage, record, signed_cache_control(expiry))


# What a signed PUT may carry: media, or bytes whose type the probe will tell.
UPLOADABLE_TYPES = ("video/", "audio/", "image/", "application/octet-stream")


@router.put("/signed/{project_id}/{path:path}", status_code=201)
async def signed_put(
    project_id: str,
    path: str,
    expiry: int,
    method: str,
    signature: str,
    request: Request,
    show: ViewOf,
) -> Response:
    """Store the body as the file `path` (`folder/filename`) through a URL signed with
    method `put`. Its signature and expiry, the upload size limit and the content type are
    checked first, and the size again as the body streams: a refused upload stores nothing.
    The file is probed and grouped in a new media like any upload."""
    app = state(request)
    keys = [key for key, project in app.settings.api_keys.items() if project == project_id]
    if method != "put" or not verify_path(keys, project_id, path, expiry, method, signature):
        raise ApiError(403, FORBIDDEN, "the upload URL's signature is invalid or expired")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type.startswith(UPLOADABLE_TYPES):
        allowed = ", ".join(t + ("*" if t.endswith("/") else "") for t in UPLOADABLE_TYPES)
        raise invalid("content-type", f"{content_type or 'none'!r} is not media; send {allowed}")
    folder, _, filename = path.rpartition("/")
    with upload_scratch(request) as received:
        check_filename(filename)
        await write_limited(request.stream(), received, app.settings.max_upload_bytes)
        labels = Labels(folder=folder or None)
        record = await keep_received(request, received, filename, content_type, project_id, labels)
    links = item_links(request, "files", record.id)
    return show.one(request, show.file(record), status=201, links=links)
