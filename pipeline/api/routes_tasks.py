"""POST /tasks, GET /tasks, GET /tasks/{id}."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from pipeline.api.context import base_url, envelope, presenter, project_of, state
from pipeline.api.envelope import list_meta, page_count, page_links
from pipeline.api.errors import ApiError, invalid, not_found
from pipeline.api.schemas import KindName, TaskCreate, task_request
from pipeline.ids import new_id, now_iso
from pipeline.store import TaskQuery, TaskRecord

router = APIRouter(tags=["tasks"])


@router.post("/tasks", status_code=201)
def create_task(body: TaskCreate, request: Request) -> JSONResponse:
    project = project_of(request)
    app = state(request)
    req = task_request(
        body, enabled_kinds=set(app.enabled_kinds), allow_private=app.settings.allow_private_urls
    )
    if req.input_file_id and app.store.get_file(project, req.input_file_id) is None:
        raise invalid("file_id", f"no file with id {req.input_file_id!r} in this project")
    stamp = now_iso()
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
    )
    app.store.create_task(task)  # committed before the 201 goes out
    return envelope(
        request, presenter(request).task(task), status=201, links=_task_links(request, task.id)
    )


@router.get("/tasks")
def list_tasks(
    request: Request,
    page: int = Query(1, ge=1, le=1_000_000),
    limit: int = Query(12, ge=1, le=100),
    sort: Literal["created", "updated", "filesize"] = "created",
    order: Literal["asc", "desc"] = "desc",
    kind: KindName | None = None,
    status: Literal["waiting", "processing", "ready", "error"] | None = None,
) -> JSONResponse:
    project = project_of(request)
    query = TaskQuery(page=page, limit=limit, sort=sort, order=order, kind=kind, status=status)
    result = state(request).store.list_tasks(project, query)
    show = presenter(request)
    params = {k: v for k, v in request.query_params.items() if k != "page"}
    links = page_links(f"{base_url(request)}/tasks", params, page, page_count(result.total, limit))
    return envelope(
        request,
        [show.task(t) for t in result.items],
        type_="list",
        links=links,
        extra_meta=list_meta(result.total, page, limit),
    )


@router.get("/tasks/{task_id}")
def get_task(task_id: str, request: Request) -> JSONResponse:
    project = project_of(request)
    task = state(request).store.get_task(project, task_id)
    if task is None:
        raise not_found("task", task_id)
    return envelope(request, presenter(request).task(task), links=_task_links(request, task.id))


@router.delete("/tasks/{task_id}")
def cancel_task(task_id: str, request: Request) -> JSONResponse:
    """Cancel a waiting or running task; it ends `error` with code `cancelled`."""
    project = project_of(request)
    task = state(request).store.cancel(project, task_id)
    if task is None:
        raise not_found("task", task_id)
    if task.status == "ready":
        raise ApiError(409, "invalid_request", f"task {task_id} is already ready")
    return envelope(request, presenter(request).task(task), links=_task_links(request, task.id))


def _task_links(request: Request, task_id: str) -> dict[str, str]:
    root = f"{base_url(request)}/tasks"
    return {"self": f"{root}/{task_id}", "parent": root}
