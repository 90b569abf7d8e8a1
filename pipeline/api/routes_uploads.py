"""Resumable uploads by the tus protocol 1.0.0 (tus.io): core, creation, termination and
expiration. Any tus client works (`tuspy`, `tus-js-client`, Uppy) with the API key in its
headers.

`POST /uploads` declares the length (at most the upload limit) and, in `Upload-Metadata`, a
`filename` (and `filetype`); each `PATCH` appends at the offset it names, streamed and
bounded by what is left of the length; `HEAD` tells the offset to resume from. When the
last byte arrives the file is probed and stored like `POST /files` (a new media, which
starts the `media.created` automations), and the answer names it in `Strobe-File-Id`.
The bytes wait on this API's disk (pipeline/resumable.py): API processes that share one
data directory share the uploads; separate hosts need sticky routing by upload id.
"""

from __future__ import annotations

import base64
import binascii
from email.utils import formatdate

from fastapi import APIRouter, Request, Response
from starlette.requests import ClientDisconnect

from pipeline.api.context import base_url, project_of, state
from pipeline.api.errors import ApiError, invalid, not_found
from pipeline.api.routes_files import keep_received
from pipeline.api.schemas import check_filename
from pipeline.contract.errors import INVALID_REQUEST, PAYLOAD_TOO_LARGE
from pipeline.library import Labels
from pipeline.resumable import ResumableUploads, Upload, UploadBusy

router = APIRouter(tags=["uploads"])
TUS_VERSION = "1.0.0"
OFFSET_TYPE = "application/offset+octet-stream"
MAX_METADATA_BYTES = 4096


def uploads(request: Request) -> ResumableUploads:
    return ResumableUploads(state(request).settings.data_dir / "uploads" / "resumable")


@router.options("/uploads", status_code=204)
def describe(request: Request) -> Response:
    limit = state(request).settings.max_upload_bytes
    return Response(status_code=204, headers=_tus() | {"Tus-Max-Size": str(limit)})


@router.post("/uploads", status_code=201)
def create_upload(request: Request) -> Response:
    project = project_of(request)
    _check_version(request)
    length = _length(request)
    filename, filetype = _metadata(request.headers.get("upload-metadata", ""))
    upload = uploads(request).create(project, length, filename, filetype)
    location = f"{base_url(request)}/uploads/{upload.id}"
    return Response(status_code=201, headers=_tus() | _expiry(upload) | {"Location": location})


@router.head("/uploads/{upload_id}")
def upload_offset(upload_id: str, request: Request) -> Response:
    upload = _upload(request, upload_id)
    headers = {
        "Upload-Offset": str(uploads(request).offset(upload)),
        "Upload-Length": str(upload.length),
        "Cache-Control": "no-store",
    }
    return Response(status_code=200, headers=_tus() | _expiry(upload) | headers | _stored(upload))


@router.patch("/uploads/{upload_id}", status_code=204)
async def append(upload_id: str, request: Request) -> Response:
    upload = _upload(request, upload_id)
    _check_version(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != OFFSET_TYPE:
        raise ApiError(415, INVALID_REQUEST, f"content-type: a PATCH carries {OFFSET_TYPE}")
    store = uploads(request)
    offset = _header_int(request, "upload-offset")
    try:
        with store.writing(upload) as out:
            current = out.tell()
            if upload.file_id is not None or offset != current:
                raise ApiError(409, INVALID_REQUEST, f"upload-offset: the upload is at {current}")
            room = upload.length - current
            try:
                async for chunk in request.stream():
                    if len(chunk) > room:
                        out.truncate(current)  # keep what came before this PATCH only
                        raise ApiError(
                            413, PAYLOAD_TOO_LARGE, f"the upload was declared {upload.length} bytes"
                        )
                    out.write(chunk)
                    room -= len(chunk)
            except ClientDisconnect:
                pass  # what arrived stays: the client resumes from it
            reached = out.tell()
    except UploadBusy:
        message = "the upload is being written by another request"
        raise ApiError(409, INVALID_REQUEST, message) from None
    if reached == upload.length:
        upload = await _keep(request, store, upload)
    headers = _tus() | _expiry(upload) | {"Upload-Offset": str(reached)} | _stored(upload)
    return Response(status_code=204, headers=headers)


@router.delete("/uploads/{upload_id}", status_code=204)
def terminate(upload_id: str, request: Request) -> Response:
    upload = _upload(request, upload_id)
    uploads(request).delete(upload)
    return Response(status_code=204, headers=_tus())


async def _keep(request: Request, store: ResumableUploads, upload: Upload) -> Upload:
    kept = await keep_received(
        request,
        store.data(upload),
        upload.filename,
        upload.filetype,
        upload.project_id,
        Labels(),
    )
    return store.finished(upload, kept.id, kept.media_id)


def _upload(request: Request, upload_id: str) -> Upload:
    found = uploads(request).get(project_of(request), upload_id)
    if found is None:
        raise not_found("upload", upload_id)
    return found


def _check_version(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise ApiError(412, INVALID_REQUEST, f"tus-resumable: this server speaks {TUS_VERSION}")


def _length(request: Request) -> int:
    if "upload-defer-length" in request.headers:
        raise invalid("upload-defer-length", "declare Upload-Length when creating the upload")
    length = _header_int(request, "upload-length")
    limit = state(request).settings.max_upload_bytes
    if length > limit:
        raise ApiError(413, PAYLOAD_TOO_LARGE, f"uploads are limited to {limit} bytes")
    return length


def _header_int(request: Request, name: str) -> int:
    value = request.headers.get(name, "")
    if not value.isdigit() or len(value) > 19:
        raise invalid(name, "a whole number of bytes")
    return int(value)


def _metadata(header: str) -> tuple[str, str | None]:
    """`filename <base64>,filetype <base64>` -> (the file name, its type)."""
    if len(header) > MAX_METADATA_BYTES:
        raise invalid("upload-metadata", f"at most {MAX_METADATA_BYTES} bytes")
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in header.split(","))):
        key, _, encoded = item.partition(" ")
        try:
            pairs[key] = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise invalid("upload-metadata", f"{key}: not base64 of UTF-8 text") from None
    filename = pairs.get("filename") or "upload"
    check_filename(filename, "upload-metadata")
    filetype = pairs.get("filetype") or None
    if filetype is not None and len(filetype) > 255:
        raise invalid("upload-metadata", "filetype: at most 255 characters")
    return filename, filetype


def _tus() -> dict[str, str]:
    return {
        "Tus-Resumable": TUS_VERSION,
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": "creation,termination,expiration",
    }


def _expiry(upload: Upload) -> dict[str, str]:
    return {"Upload-Expires": formatdate(upload.expires, usegmt=True)}


def _stored(upload: Upload) -> dict[str, str]:
    if upload.file_id is None:
        return {}
    return {"Strobe-File-Id": upload.file_id, "Strobe-Media-Id": upload.media_id or ""}
