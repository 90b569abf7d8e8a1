"""Stored records -> the `2024-08-21` wire objects and `{meta, data, links}` responses.

`presenters_2025` answers the same records in the `2025-08-20` dialect; `context.view`
picks one per request from `Accept-Version`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from pipeline.api import conditional
from pipeline.api.envelope import API_VERSION, envelope_body, list_meta, page_count, page_links
from pipeline.api.errors import ApiError
from pipeline.api.paging import Cursors, cursor_links
from pipeline.content_types import content_disposition
from pipeline.storage import Storage
from pipeline.storage.signing import content_url, folder_url
from pipeline.store import FileRecord, MediaRecord, TaskRecord
from pipeline.workflow import path_label, path_of

_RESOLVED = ("assets", "urls", "links")  # asset names in the record, URLs on the wire
_FILE_INFO_FIELDS = (
    "format",
    "container",
    "codec",
    "width",
    "height",
    "duration",
    "fps",
    "bitrate",
)


@dataclass(frozen=True)
class Presenter:
    base_url: str
    secret: str
    storage: Storage
    url_ttl_s: int
    # The links signed for this answer, each with what it points to (conditional.weak_etag).
    signed: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    version = API_VERSION

    def task(self, task: TaskRecord, input_file: FileRecord | None = None) -> dict[str, Any]:
        if task.status == "ready" and task.output is not None:
            output = self.file(task.output)
        else:
            output = {"kind": task.kind, **task.options}
        error = None
        if task.status == "error":
            error = {"code": task.error_code, "message": task.error_message}
        return {
            "id": task.id,
            "object": "task",
            "kind": task.kind,
            "input": task.input_file_id or task.input_url,
            "output": output,
            "status": task.status,
            "progress": task.progress,
            "error": error,
            **workflow_step(task),
            **({"ran_on": task.ran_on} if task.ran_on else {}),
            "created": timestamp(task.created),
            "updated": timestamp(task.updated),
        }

    def file(self, file: FileRecord) -> dict[str, Any]:
        info = file.info
        extra = {k: v for k, v in info.items() if k not in _RESOLVED and k not in _FILE_INFO_FIELDS}
        wire: dict[str, Any] = {
            "id": file.id,
            "object": file.object,
            "kind": file.kind,
            **{name: info.get(name) for name in _FILE_INFO_FIELDS},
            **extra,
            "mimetype": file.mimetype,
            "filename": file.filename,
            "filesize": file.filesize,
            "url": self._main_url(file),
            "task_id": file.task_id,
            "media_id": file.media_id,
            "ref": file.ref,
            "folder": file.folder,
            "metadata": file.metadata,
            "created": timestamp(file.created),
            "updated": timestamp(file.updated),
        }
        if "urls" in info:
            wire["urls"] = [self._asset_url(file, name) for name in info["urls"]]
        if "links" in info:
            wire["links"] = {
                key: self._asset_url(file, name) for key, name in info["links"].items()
            }
        return wire

    def media(self, media: MediaRecord, files: list[FileRecord]) -> dict[str, Any]:
        shown = [self.file(f) for f in files]
        return {
            "id": media.id,
            "object": "media",
            "kind": media.kind,
            "title": media.title,
            "alt": media.alt,
            **_dimensions(files),
            "files": shown,
            "urls": {f["ref"]: f["url"] for f in shown if f.get("ref")},
            "metadata": media.metadata,
            "created": timestamp(media.created),
            "updated": timestamp(media.updated),
        }

    # responses -------------------------------------------------------------------

    def one(
        self,
        request: Request,
        data: Any,
        *,
        status: int = 200,
        links: dict[str, Any] | None = None,
    ) -> Response:
        links = links or {"self": self._here(request)}
        answer = self._envelope(request, data, status, "object", links)
        return self._tagged(request, answer, [data, links])

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
        params = {k: v for k, v in request.query_params.items() if k != "page"}
        url = f"{self.base_url}{request.url.path}"
        links = page_links(url, params, page, page_count(total, limit))
        meta: dict[str, Any] = list_meta(total, page, limit)
        if cursors is not None:
            meta["cursors"] = cursors.meta()
        if cursors is not None and cursors.keyset:  # no page number: next/prev by cursor
            meta["page"] = None
            links = {"self": self._here(request), **cursor_links(url, params, cursors)}
        answer = self._envelope(request, items, 200, "list", links, extra_meta=meta)
        return self._tagged(request, answer, [items, links, meta])

    def deleted(self, request: Request, object_: str, ident: str) -> Response:
        message = f"{object_} {ident} deleted"
        return self.one(
            request, {"id": ident, "object": object_, "deleted": True, "message": message}
        )

    def error(self, request: Request, exc: ApiError) -> JSONResponse:
        error = {"code": exc.code, "message": exc.message}
        if exc.field:
            error["field"] = exc.field
        links = {"self": self._here(request)}
        return self._envelope(request, None, exc.status, "error", links, error=error)

    def _envelope(
        self,
        request: Request,
        data: Any,
        status: int,
        type_: str,
        links: dict[str, Any],
        *,
        extra_meta: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> JSONResponse:
        body = envelope_body(
            request_id=request.state.request_id,
            project_id=getattr(request.state, "project_id", None),
            method=request.method,
            host=self.base_url,
            path=request.url.path,
            data=data,
            status=status,
            type_=type_,
            links=links,
            extra_meta=extra_meta,
            error=error,
        )
        return JSONResponse(body, status_code=status)

    def _tagged(self, request: Request, response: JSONResponse, said: Any) -> Response:
        """A read answered with a weak ETag over `said`, or 304 (pipeline/api/conditional.py)."""
        if request.method != "GET" or response.status_code != 200:
            return response
        # The dialect and the project too: the same record is another body in the other
        # dialect, and the envelope names the project.
        project = getattr(request.state, "project_id", None)
        etag = conditional.weak_etag([self.version, project, said], self.signed, self.url_ttl_s)
        return conditional.answer(request, response, etag)

    # links -------------------------------------------------------------------------

    def _here(self, request: Request) -> str:
        """This request's URL on the public base (STROBE_PUBLIC_URL), not on its Host header."""
        query = request.url.query
        return f"{self.base_url}{request.url.path}" + (f"?{query}" if query else "")

    def _main_url(self, file: FileRecord) -> str:
        if file.info.get("assets"):
            # Served from its folder, so a playlist's relative references resolve.
            return self._asset_url(file, file.filename)
        presigned = self.storage.presigned_url(
            file.storage_key,
            self.url_ttl_s,
            content_type=file.mimetype,
            content_disposition=content_disposition(file.filename, file.mimetype),
        )
        url = presigned or content_url(self.base_url, self.secret, file.id, self.url_ttl_s)
        self.signed[url] = f"<{file.id}>"
        return url

    def _asset_url(self, file: FileRecord, name: str) -> str:
        url = folder_url(self.base_url, self.secret, file.id, name, self.url_ttl_s)
        self.signed[url] = f"<{file.id}/{name}>"
        return url


def _dimensions(files: list[FileRecord]) -> dict[str, Any]:
    """A media's size and length: its original's (the first source), when it has one."""
    source = next((f for f in files if f.object == "source"), None)
    info = source.info if source else {}
    return {name: info.get(name) for name in ("width", "height", "duration")}


def workflow_step(task: TaskRecord) -> dict[str, Any]:
    """A workflow step's run, parent task and step path; nothing for a task of its own."""
    if task.run_id is None:
        return {}
    step = path_label(path_of(task.step)) if task.step else None
    return {"run_id": task.run_id, "parent_id": task.parent_id, "step": step}


def timestamp(stored: str) -> str:
    """`2026-01-02T03:04:05.678901Z` -> `2026-01-02T03:04:05.678Z` (ISO 8601, milliseconds)."""
    head, _, fraction = stored.rstrip("Z").partition(".")
    return f"{head}.{(fraction + '000')[:3]}Z"
