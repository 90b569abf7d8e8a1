"""`/openapi.json` as the API really behaves: every error status a route can answer, with the
error envelope's schema; every body an upload takes; what the download routes send.

FastAPI documents what the route signatures say. Much of what a client meets happens
around them: the version check (400), the key (401), the body limit (413), the rate limit
(429), the error handlers that answer in the envelope (never FastAPI's `detail` shape), and
`POST /files`, which reads its body itself (JSON, multipart or raw). This adds those to the
generated schema once, when it is first asked for.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from operators.catalog import KINDS
from pipeline.api.schemas_library import FileCreate
from pipeline.api.versions import SUPPORTED

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_OPEN_PATHS = frozenset({"/health", "/metrics"})  # no key asked, none counted
# Routes that send the file's bytes: whatever type the file has.
_BYTES_PATHS = frozenset(
    {"/files/{file_id}/content", "/files/{file_id}/t/{expires}/{signature}/{name}"}
)
_BINARY = {"type": "string", "format": "binary"}
_WHY = {
    400: "Malformed JSON, or an unsupported Accept-Version (`invalid_request`, "
    "`unsupported_version`)",
    401: "No API key, an unknown one, or a bad signature (`unauthorized`)",
    403: "The signed upload URL is forged, expired or signed for GET (`forbidden`)",
    404: "No such object in this project (`not_found`)",
    409: "The task is already ready, or a request with this Idempotency-Key is still running",
    413: "The body is over its limit (`payload_too_large`); for an ingest, the file at the URL "
    "(`input_too_large`)",
    422: "A field is missing, unknown or out of range (`invalid_request`, naming the field)",
    412: "Tus-Resumable is missing or names a tus version other than 1.0.0",
    415: "A resumable upload's PATCH whose Content-Type is not application/offset+octet-stream",
    429: "Too many requests for this API key (`rate_limited`); see Retry-After",
    503: "The database did not answer in time (`database_unavailable`); see Retry-After",
}


def install(app: FastAPI) -> None:
    """Make `app.openapi()` (and so `/openapi.json`) return the completed schema."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            complete(generate())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(_error_schemas())
    schemas.update(_kind_options())
    schemas.pop("HTTPValidationError", None)  # never sent: 422s are the envelope
    schemas.pop("ValidationError", None)
    components["securitySchemes"] = {"apiKey": {"type": "http", "scheme": "bearer"}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _complete_operation(path, method.upper(), operation)
    files = schema.get("paths", {}).get("/files", {}).get("post")
    if files is not None:
        _describe_upload(files, schemas)
    return schema


def _complete_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    keyed = path not in _OPEN_PATHS
    statuses = {400, 413, 422}
    if keyed:
        statuses |= {401, 429, 503}
        operation["security"] = [{"apiKey": []}]
    if "{" in path:
        statuses.add(404)
    if method == "POST" or (method == "DELETE" and path == "/tasks/{task_id}"):
        statuses.add(409)
    signed_put = method == "PUT" and path == "/signed/{project_id}/{path}"
    if signed_put:
        statuses.add(403)
        media = ("video/*", "audio/*", "image/*", "application/octet-stream")
        operation["requestBody"] = {
            "required": True,
            "content": {kind: {"schema": _BINARY} for kind in media},
        }
    if path.startswith("/uploads") and method in ("POST", "PATCH"):
        statuses |= _describe_tus(method, operation)
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": _WHY[status],
            "content": {"application/json": {"schema": _ERROR_REF}},
        }
        if status in (429, 503):
            responses[str(status)]["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            }
    success = next((code for code in responses if code.startswith("2")), None)
    bytes_path = path in _BYTES_PATHS | {"/signed/{project_id}/{path}"}
    if success is not None and bytes_path and not signed_put:
        responses[success]["content"] = {"*/*": {"schema": _BINARY}}
        _describe_serving(operation)
    if success is not None and path == "/metrics":
        responses[success]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    parameters = operation.setdefault("parameters", [])
    parameters.append(
        {
            "name": "Accept-Version",
            "in": "header",
            "required": False,
            "description": "The API version to answer in (default 2024-08-21)",
            "schema": {"type": "string", "enum": list(SUPPORTED)},
        }
    )


_TUS_HEADERS = {
    "POST": (
        ("Upload-Length", True, "The file's size in bytes"),
        ("Upload-Metadata", False, "`filename <base64>,filetype <base64>`"),
    ),
    "PATCH": (("Upload-Offset", True, "Where these bytes go: the offset HEAD reports"),),
}


def _describe_tus(method: str, operation: dict[str, Any]) -> set[int]:
    """A tus request's headers (and a PATCH's bytes); the statuses it adds."""
    headers = (("Tus-Resumable", True, "1.0.0"), *_TUS_HEADERS[method])
    operation.setdefault("parameters", []).extend(
        {"name": name, "in": "header", "required": required, "description": why,
         "schema": {"type": "string"}}
        for name, required, why in headers
    )  # fmt: skip
    if method == "POST":
        return {412}
    operation["requestBody"] = {
        "required": True,
        "content": {"application/offset+octet-stream": {"schema": _BINARY}},
    }
    return {409, 412, 415}


def _describe_serving(operation: dict[str, Any]) -> None:
    """The byte routes answer Range and conditional requests (pipeline.api.serving); HEAD
    answers as GET does, without a body."""
    responses = operation["responses"]
    range_header = {"description": "bytes FIRST-LAST/SIZE", "schema": {"type": "string"}}
    responses["206"] = {
        "description": "The one byte range asked for",
        "headers": {"Content-Range": range_header},
        "content": {"*/*": {"schema": _BINARY}},
    }
    responses["304"] = {"description": "Not modified since the ETag or date given"}
    responses["416"] = {
        "description": "The range starts past the end (`range_not_satisfiable`)",
        "headers": {"Content-Range": {"description": "bytes */SIZE", "schema": {"type": "string"}}},
        "content": {"application/json": {"schema": _ERROR_REF}},
    }
    operation.setdefault("parameters", []).extend(
        {
            "name": name,
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": text,
        }
        for name, text in (
            ("Range", "One byte range (bytes=0-99, bytes=100-, bytes=-500); others are ignored"),
            ("If-Range", "An ETag or date: the range only while the file is unchanged"),
            ("If-None-Match", "ETags: 304 when one matches"),
            ("If-Modified-Since", "An HTTP date: 304 when the file is not newer"),
        )
    )


def _describe_upload(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """`POST /files`: a JSON ingest, a multipart upload or a raw body."""
    create = FileCreate.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(create.pop("$defs", {}))
    schemas["FileCreate"] = create
    operation["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/FileCreate"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": _BINARY},
                }
            },
            "application/octet-stream": {"schema": _BINARY},
        },
    }
    label = {"type": "string", "maxLength": 64}
    operation.setdefault("parameters", []).extend(
        {"name": name, "in": "query", "required": False, "schema": label, "description": text}
        for name, text in (
            ("filename", "The raw upload's file name"),
            ("ref", "Names the file in its media"),
            ("folder", "A label"),
            ("media_id", "The media the file joins (a new one if absent)"),
        )
    )


def _kind_options() -> dict[str, Any]:
    """Each kind's options with their ranges and its operator's defaults, from its spec
    (operators/options.py): what `POST /tasks` accepts for that kind. Named `<kind>Options`
    (`imageOptions`, `videoOptions`, …)."""
    found: dict[str, Any] = {}
    for kind, spec in KINDS.items():
        schema = spec.options.model_json_schema()
        schema["title"] = f"Options of kind {kind}"
        schema["properties"]["format"] = {
            "type": "string",
            "enum": list(spec.formats),
            "default": spec.formats[0],
        }
        found[f"{kind}Options"] = schema
    return found


def _error_schemas() -> dict[str, Any]:
    detail = {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "field": {"type": ["string", "null"]},
        },
    }
    envelope = {
        "type": "object",
        "required": ["meta", "data", "links", "error"],
        "properties": {
            "meta": {
                "type": "object",
                "required": ["id", "version", "status", "type"],
                "properties": {
                    "id": {"type": "string"},
                    "version": {"type": "string"},
                    "status": {"type": "integer"},
                    "type": {"const": "error"},
                },
            },
            "data": {"type": "null"},
            "links": {"type": "object"},
            "error": {"$ref": "#/components/schemas/ErrorDetail"},
        },
    }
    bare = {  # Accept-Version: 2025-08-20
        "type": "object",
        "required": ["error", "status"],
        "properties": {
            "error": {"$ref": "#/components/schemas/ErrorDetail"},
            "status": {"type": "integer"},
        },
    }
    return {
        "ErrorDetail": detail,
        "ErrorEnvelope": envelope,
        "ErrorBare": bare,
        "Error": {
            "description": "An error, in the envelope (2024-08-21) or bare (2025-08-20)",
            "anyOf": [
                {"$ref": "#/components/schemas/ErrorEnvelope"},
                {"$ref": "#/components/schemas/ErrorBare"},
            ],
        },
    }
