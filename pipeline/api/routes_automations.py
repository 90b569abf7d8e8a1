"""/automations (create, list, get, update, delete, run on demand) and /runs (list, get).

An automation is a workflow (pipeline/workflow.py) and the event that starts it; each run
of it is a tree of real tasks, advanced by the store as they end (pipeline/store/sql_runs.py).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from pipeline.api.context import ViewOf, item_links, project_of, state
from pipeline.api.errors import ApiError, invalid, not_found
from pipeline.api.workflow_views import automation_body, run_state
from pipeline.api.workflows import resolve
from pipeline.contract.errors import INVALID_REQUEST
from pipeline.ids import new_id, now_iso
from pipeline.store import AutomationRecord, FileRecord, RunRecord, Store
from pipeline.workflow import MAX_STEPS

router = APIRouter(tags=["automations"])
# Per project: every upload can start each active one, up to MAX_STEPS tasks a run.
MAX_AUTOMATIONS = 50


class Trigger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["event"] = "event"
    event: Literal["media.created"] = "media.created"  # an upload or import makes a media


_WORKFLOW = (
    "Steps: task kinds with their options, `ref`, and `next` steps that read the step's "
    "output; or `conditions` steps ({prop, value} tests) that gate their `next` steps"
)


class AutomationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=2000)
    trigger: Trigger = Field(default_factory=lambda: Trigger())
    workflow: list[dict[str, Any]] = Field(description=_WORKFLOW, max_length=MAX_STEPS)
    status: Literal["active", "paused"] = "active"


class AutomationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=2000)
    trigger: Trigger | None = None
    workflow: list[dict[str, Any]] | None = Field(None, description=_WORKFLOW, max_length=MAX_STEPS)
    status: Literal["active", "paused"] | None = None


class RunCreate(BaseModel):
    """The input of a run: a file, or a media (its uploaded original)."""

    model_config = ConfigDict(extra="forbid")

    file_id: str | None = Field(None, max_length=64)
    media_id: str | None = Field(None, max_length=64)


class InlineRun(RunCreate):
    """A workflow run once, without an automation (as `strobe batch` runs inline ones)."""

    workflow: list[dict[str, Any]] = Field(description=_WORKFLOW, max_length=MAX_STEPS)


@router.post("/automations", status_code=201)
def create_automation(body: AutomationCreate, request: Request, show: ViewOf) -> Response:
    project = project_of(request)
    plan = _plan(request, body.workflow)
    store = state(request).store
    if store.list_automations(project, 1, 1).total >= MAX_AUTOMATIONS:
        raise invalid("workflow", f"a project has at most {MAX_AUTOMATIONS} automations")
    stamp = now_iso()
    automation = AutomationRecord(
        id=new_id("auto"),
        project_id=project,
        name=body.name,
        description=body.description,
        trigger=body.trigger.model_dump(),
        workflow=body.workflow,
        plan=plan,
        status=body.status,
        created=stamp,
        updated=stamp,
    )
    store.create_automation(automation)
    links = item_links(request, "automations", automation.id)
    return show.one(request, automation_body(automation), status=201, links=links)


@router.get("/automations")
def list_automations(
    request: Request,
    show: ViewOf,
    page: int = Query(1, ge=1, le=1_000_000),
    limit: int = Query(12, ge=1, le=100),
) -> Response:
    result = state(request).store.list_automations(project_of(request), page, limit)
    items = [automation_body(a) for a in result.items]
    return show.many(request, items, total=result.total, page=page, limit=limit)


@router.get("/automations/{automation_id}")
def get_automation(automation_id: str, request: Request, show: ViewOf) -> Response:
    automation = _automation(request, automation_id)
    return show.one(
        request,
        automation_body(automation),
        links=item_links(request, "automations", automation_id),
    )


@router.patch("/automations/{automation_id}")
def update_automation(
    automation_id: str, body: AutomationUpdate, request: Request, show: ViewOf
) -> Response:
    _automation(request, automation_id)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)  # a null name clears it
    for name in ("trigger", "workflow", "status"):
        if name in changes and changes[name] is None:
            raise invalid(name, "cannot be null; leave it out to keep it")
    if body.workflow is not None:
        changes["plan"] = _plan(request, body.workflow)
    store = state(request).store
    updated = store.update_automation(project_of(request), automation_id, changes)
    if updated is None:
        raise not_found("automation", automation_id)
    return show.one(
        request, automation_body(updated), links=item_links(request, "automations", automation_id)
    )


@router.delete("/automations/{automation_id}")
def delete_automation(automation_id: str, request: Request, show: ViewOf) -> Response:
    """Runs already started finish; no run starts after."""
    if not state(request).store.delete_automation(project_of(request), automation_id):
        raise not_found("automation", automation_id)
    return show.deleted(request, "automation", automation_id)


@router.post("/automations/{automation_id}/run", status_code=201)
def run_automation(automation_id: str, body: RunCreate, request: Request, show: ViewOf) -> Response:
    """Run the automation now on a file (or a media's original), whatever its trigger."""
    automation = _automation(request, automation_id)
    if automation.status != "active":
        raise ApiError(409, INVALID_REQUEST, f"automation {automation_id} is paused")
    store = state(request).store
    input_file = _input_file(store, automation.project_id, body)
    run = RunRecord.begin(automation.project_id, automation.id, automation.plan, input_file)
    run = store.start_run(run, input_file)
    shown = run_state(store, run)
    return show.one(request, shown, status=201, links=item_links(request, "runs", run.id))


@router.post("/runs", status_code=201)
def start_inline_run(body: InlineRun, request: Request, show: ViewOf) -> Response:
    """Run a workflow given in the request on a file (or a media's original)."""
    project = project_of(request)
    plan = _plan(request, body.workflow)
    store = state(request).store
    input_file = _input_file(store, project, body)
    run = store.start_run(RunRecord.begin(project, None, plan, input_file), input_file)
    shown = run_state(store, run)
    return show.one(request, shown, status=201, links=item_links(request, "runs", run.id))


@router.get("/runs")
def list_runs(
    request: Request,
    show: ViewOf,
    page: int = Query(1, ge=1, le=1_000_000),
    limit: int = Query(12, ge=1, le=100),
    automation_id: str | None = Query(None, max_length=64),
) -> Response:
    store = state(request).store
    result = store.list_runs(project_of(request), page, limit, automation_id)
    items = [run_state(store, r) for r in result.items]
    return show.many(request, items, total=result.total, page=page, limit=limit)


@router.get("/runs/{run_id}")
def get_run(run_id: str, request: Request, show: ViewOf) -> Response:
    store = state(request).store
    run: RunRecord | None = store.get_run(project_of(request), run_id)
    if run is None:
        raise not_found("run", run_id)
    return show.one(
        request,
        run_state(store, run),
        links=item_links(request, "runs", run_id),
    )


def _plan(request: Request, workflow: list[dict[str, Any]]) -> list[Any]:
    app = state(request)
    return resolve(workflow, set(app.enabled_kinds), app.settings.allow_private_urls)


def _automation(request: Request, automation_id: str) -> AutomationRecord:
    automation = state(request).store.get_automation(project_of(request), automation_id)
    if automation is None:
        raise not_found("automation", automation_id)
    return automation


def _input_file(store: Store, project: str, body: RunCreate) -> FileRecord:
    if (body.file_id is None) == (body.media_id is None):
        raise invalid("file_id", "give exactly one of file_id or media_id")
    if body.file_id is not None:
        found = store.get_file(project, body.file_id)
        if found is None:
            raise invalid("file_id", f"no file with id {body.file_id!r} in this project")
        return found
    media_id = body.media_id or ""
    if store.get_media(project, media_id) is None:
        raise invalid("media_id", f"no media with id {media_id!r} in this project")
    original = store.original_file(project, media_id)
    if original is None:
        raise invalid("media_id", f"media {media_id!r} has no uploaded file to run on")
    return original
