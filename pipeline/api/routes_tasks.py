"""POST /tasks, GET /tasks, GET /tasks/{id}."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from pipeline.api import paging
from pipeline.api.context import ViewOf, item_links, project_of, reads, state
from pipeline.api.errors import ApiError, invalid, not_found
from pipeline.api.schemas import KindName, TaskCreate, task_request
from pipeline.contract.errors import INVALID_REQUEST
from pipeline.ids import new_id, now_iso
from pipeline.store import FileRecord, MediaRecord, Position, Store, TaskQuery, TaskRecord

router = APIRouter(tags=["tasks"])

_AFTER = (
    "A cursor (meta.cursors.after, or in links.next): the page right after that row, in the "
    "same sort and order. Stays fast at any depth; instead of page."
)
_BEFORE = "A cursor (meta.cursors.before, or in links.prev): the page right before that row."


@router.post("/tasks", status_code=201)
def create_task(body: TaskCreate, request: Request, show: ViewOf) -> Response:
    project = project_of(request)
    app = state(request)
    req = task_request(
        body, enabled_kinds=set(app.enabled_kinds), allow_private=app.settings.allow_private_urls
    )
    input_file = None
    if req.input_file_id:
        input_file = app.store.get_file(project, req.input_file_id)
        if input_file is None:
            raise invalid("file_id", f"no file with id {req.input_file_id!r} in this project")
    stamp = now_iso()
    # The output joins its input's media; a URL input gets a media of its own, inserted
    # with the task in one transaction.
    media = None if input_file else MediaRecord(new_id("med"), project, stamp, stamp)
    media_id = media.id if media else input_file.media_id if input_file else None
    task = TaskRecord(
        id=new_id("tsk"),
        project_id=project,
        kind=req.kind,
        status="waiting",
        options=req.options,
        created=stamp,
        updated=stamp,
        input_url=req.input_url,
        input_file_id=req.input_file_id,
        webhook_url=req.webhook_url,
        media_id=media_id,
    )
    app.store.create_task(task, media)  # committed before the 201 goes out
    links = item_links(request, "tasks", task.id)
    return show.one(request, show.task(task, input_file), status=201, links=links)


@router.get("/tasks")
def list_tasks(
    request: Request,
    show: ViewOf,
    page: int = Query(1, ge=1, le=1_000_000),
    limit: int = Query(12, ge=1, le=100),
    sort: Literal["created", "updated", "filesize"] = "created",
    order: Literal["asc", "desc"] = "desc",
    kind: KindName | None = None,
    status: Literal["waiting", "processing", "ready", "error"] | None = None,
    after: str | None = Query(None, description=_AFTER),
    before: str | None = Query(None, description=_BEFORE),
) -> Response:
    project = project_of(request)
    keyset = _keyset(request, sort, order, after, before)
    query = TaskQuery(
        page=page, limit=limit, sort=sort, order=order, kind=kind, status=status, **keyset
    )
    store = state(request).store
    result = store.list_tasks(project, query)
    items = [show.task(t, _input_of(store, t)) for t in result.items]
    found = paging.cursors(sort, order, result.items, result.more_before, result.more_after)
    found = replace(found, keyset=bool(keyset))
    return show.many(request, items, total=result.total, page=page, limit=limit, cursors=found)


def _keyset(
    request: Request, sort: str, order: str, after: str | None, before: str | None
) -> dict[str, Position]:
    """The decoded `after` or `before` cursor, as TaskQuery fields; none for page paging."""
    if after is not None and before is not None:
        raise invalid("before", "send either after or before, not both")
    if after is None and before is None:
        return {}
    if "page" in request.query_params:
        raise invalid("page", "a list is read by page or by cursor (after/before), not both")
    name, cursor = ("after", after) if after is not None else ("before", before)
    return {name: paging.decode(name, cursor or "", sort, order)}


@router.get("/tasks/{task_id}")
async def get_task(task_id: str, request: Request, show: ViewOf) -> Response:
    project = project_of(request)
    task, input_file = await reads(request).task_with_input(project, task_id)
    if task is None:
        raise not_found("task", task_id)
    body = show.task(task, input_file)
    return show.one(request, body, links=item_links(request, "tasks", task.id))


@router.delete("/tasks/{task_id}")
def cancel_task(task_id: str, request: Request, show: ViewOf) -> Response:
    """Cancel a waiting or running task; it ends `error` with code `cancelled`."""
    project = project_of(request)
    task = state(request).store.cancel(project, task_id)
    if task is None:
        raise not_found("task", task_id)
    if task.status == "ready":
        raise ApiError(409, INVALID_REQUEST, f"task {task_id} is already ready")
    store = state(request).store
    body = show.task(task, _input_of(store, task))
    return show.one(request, body, links=item_links(request, "tasks", task.id))


def _input_of(store: Store, task: TaskRecord) -> FileRecord | None:
    return store.get_file(task.project_id, task.input_file_id) if task.input_file_id else None
