"""Stored records -> the `2025-08-20` dialect, as the official Ittybit SDKs parse it.

Objects are answered bare, lists as bare JSON arrays with pagination in `Link` (RFC 8288) and
`X-Total-Count` headers, errors as `{"error": {code, message}, "status"}`. A task carries its
input File object, the options it was given (`ref` and `folder` included), its output File
object once ready, and its error as a message string.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from pipeline.api.envelope import page_count
from pipeline.api.errors import ApiError
from pipeline.api.paging import Cursors, cursor_links
from pipeline.api.presenters import Presenter, timestamp, workflow_step
from pipeline.api.versions import V2025
from pipeline.store import FileRecord, TaskRecord

_PROBED = ("codec", "container", "width", "height", "duration", "fps", "frames", "bitrate")
_NOT_EXTRA = frozenset((*_PROBED, "assets", "urls", "links", "format", "audio_codec"))


class Presenter2025(Presenter):
    version = V2025

    def task(self, task: TaskRecord, input_file: FileRecord | None = None) -> dict[str, Any]:
        if input_file is not None:
            input_: dict[str, Any] | None = self.file(input_file)
        elif task.input_url is not None:
            input_ = {"object": "source", "url": task.input_url, "media_id": task.media_id}
        else:
            input_ = {"id": task.input_file_id, "object": "source"}
        ready = task.status == "ready" and task.output is not None
        return {
            "id": task.id,
            "object": "task",
            "kind": task.kind,
            "input": input_,
            "options": dict(task.options),
            "output": self.file(task.output) if ready and task.output else None,
            "status": task.status,
            "progress": task.progress,
            "error": task.error_message if task.status == "error" else None,
            "webhook_url": task.webhook_url,
            **workflow_step(task),
            "created": timestamp(task.created),
            "updated": timestamp(task.updated),
        }

    def file(self, file: FileRecord) -> dict[str, Any]:
        info = file.info
        wire: dict[str, Any] = {
            "id": file.id,
            "media_id": file.media_id,
            "object": file.object,
            "kind": file.kind,
            "type": file.mimetype,
            **{name: info.get(name) for name in _PROBED},
            "filesize": file.filesize,
            "ref": file.ref,
            "folder": file.folder,
            "filename": file.filename,
            "url": self._main_url(file),
            "metadata": file.metadata,
            "original": file.task_id is None,
            "status": "ready",
            "created": timestamp(file.created),
            "updated": timestamp(file.updated),
        }
        wire |= {k: v for k, v in info.items() if k not in _NOT_EXTRA and k not in wire}
        if "urls" in info:
            wire["urls"] = [self._asset_url(file, name) for name in info["urls"]]
        if "links" in info:
            wire["links"] = {k: self._asset_url(file, name) for k, name in info["links"].items()}
        return wire

    def one(
        self,
        request: Request,
        data: Any,
        *,
        status: int = 200,
        links: dict[str, Any] | None = None,
    ) -> Response:
        return self._tagged(request, JSONResponse(data, status_code=status), data)

    def many(
        self,
        request: Request,
        items: list[dict[str, Any]],
        *,
        total: int,
        page: int,
        limit: int,
        cursors: Cursors | None = None,
    ) -> Response:
        params = {k: v for k, v in request.query_params.items() if k not in ("page", "limit")}
        url = f"{self.base_url}{request.url.path}"
        pages = page_count(total, limit)

        def at(number: int) -> str:
            kept = {k: v for k, v in params.items() if k not in ("after", "before")}
            return f"{url}?{urlencode({**kept, 'page': number, 'limit': limit})}"

        rels = {"first": at(1), "last": at(max(pages, 1))}
        if cursors is not None and cursors.keyset:  # next/prev by cursor, like the request
            by_cursor = cursor_links(url, {**params, "limit": limit}, cursors)
            rels |= {rel: link for rel, link in by_cursor.items() if link}
        else:
            if page > 1:
                rels["prev"] = at(page - 1)
            if page < pages:
                rels["next"] = at(page + 1)
        link = ", ".join(f'<{target}>; rel="{rel}"' for rel, target in rels.items())
        headers = {"Link": link, "X-Total-Count": str(total)}
        return self._tagged(request, JSONResponse(items, headers=headers), [items, headers])

    def deleted(self, request: Request, object_: str, ident: str) -> Response:
        message = f"{object_} {ident} deleted"
        return JSONResponse({"id": ident, "object": object_, "deleted": True, "message": message})

    def error(self, request: Request, exc: ApiError) -> JSONResponse:
        error = {"code": exc.code, "message": exc.message}
        if exc.field:
            error["field"] = exc.field
        return JSONResponse({"error": error, "status": exc.status}, status_code=exc.status)
