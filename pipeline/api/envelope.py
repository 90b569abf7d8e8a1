"""The response envelope of the spec: `{meta, data, links}`, for objects, lists and errors."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

API_VERSION = "2024-08-21"


def page_count(total: int, limit: int) -> int:
    return math.ceil(total / limit) if total else 0


def page_links(url: str, params: dict[str, Any], page: int, pages: int) -> dict[str, str | None]:
    """self/next/prev for a list; `params` are the request's query parameters."""

    def at(number: int) -> str:
        query = urlencode({**params, "page": number})
        return f"{url}?{query}"

    return {
        "self": at(page),
        "next": at(page + 1) if page < pages else None,
        "prev": at(page - 1) if page > 1 else None,
    }


def meta(
    *,
    request_id: str,
    project_id: str | None,
    method: str,
    host: str,
    path: str,
    status: int,
    type_: str,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": request_id,
        "org_id": None,
        "project_id": project_id,
        "method": method,
        "host": host,
        "path": path,
        "version": API_VERSION,
        "status": status,
        "type": type_,
        **extra,
    }


def list_meta(total: int, page: int, limit: int) -> dict[str, int]:
    return {"total": total, "limit": limit, "page": page, "pages": page_count(total, limit)}


def envelope_body(
    *,
    request_id: str,
    project_id: str | None,
    method: str,
    host: str,
    path: str,
    data: Any,
    status: int,
    type_: str,
    links: dict[str, Any],
    extra_meta: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "meta": meta(
            request_id=request_id,
            project_id=project_id,
            method=method,
            host=host,
            path=path,
            status=status,
            type_=type_,
            **(extra_meta or {}),
        ),
        "data": data,
        "links": links,
    }
    if error is not None:
        body["error"] = error
    return body
