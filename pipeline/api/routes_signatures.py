"""POST /signatures: signed, expiring URLs for a project's file paths; GET /signed/… serves
them without the API key."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from pipeline.api.context import ViewOf, base_url, project_of, state
from pipeline.api.errors import ApiError, invalid, not_found
from pipeline.api.routes_files import stream_file
from pipeline.api.schemas import check_filename
from pipeline.api.schemas_library import MAX_EXPIRY_S, SignatureCreate
from pipeline.api.serving import signed_cache_control
from pipeline.contract.errors import UNAUTHORIZED
from pipeline.storage.signing import signed_path_url, verify_path

router = APIRouter(tags=["signatures"])
DEFAULT_EXPIRY_S = 3600


@router.post("/signatures", status_code=201)
def create_signature(body: SignatureCreate, request: Request, show: ViewOf) -> JSONResponse:
    project = project_of(request)
    check_filename(body.filename)
    if body.method != "get":
        raise invalid("method", "only 'get' URLs are signed so far; upload with POST /files")
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
