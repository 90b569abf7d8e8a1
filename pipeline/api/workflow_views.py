"""Automations and runs on the wire, the same in both API dialects.

A run shows its whole workflow as a tree: each step with its task's state, or, for a step
that has no task, why: `pending` (its parent has not finished), `skipped` (a conditions
step above it did not hold) or `error` / `upstream_failed` naming the failed step above it.
"""

from __future__ import annotations

from typing import Any

from pipeline.api.presenters import timestamp
from pipeline.contract.errors import UPSTREAM_FAILED
from pipeline.store import AutomationRecord, HttpStep, RunRecord, RunsPort, TaskRecord
from pipeline.workflow import CONDITIONS, HTTP, Path, Step, path_key, path_label


def automation_body(automation: AutomationRecord) -> dict[str, Any]:
    return {
        "id": automation.id,
        "object": "automation",
        "name": automation.name,
        "description": automation.description,
        "trigger": automation.trigger,
        "workflow": automation.workflow,
        "status": automation.status,
        "created": timestamp(automation.created),
        "updated": timestamp(automation.updated),
    }


def run_state(runs: RunsPort, run: RunRecord) -> dict[str, Any]:
    """The run as shown: read with its tasks and http steps."""
    return run_body(run, runs.run_tasks(run.id), runs.run_http_steps(run.id))


def run_body(
    run: RunRecord, tasks: list[TaskRecord], posts: dict[str, HttpStep] | None = None
) -> dict[str, Any]:
    """`posts`: the run's http steps (RunsPort.run_http_steps), when it has any."""
    by_step = {t.step: t for t in tasks if t.step is not None}
    steps = _steps(run, by_step, posts or {}, run.plan, (), None)
    return {
        "id": run.id,
        "object": "run",
        "automation_id": run.automation_id,
        "status": run.status,
        "input": {"file_id": run.file_id, "media_id": run.media_id},
        "media_id": run.media_id,
        "steps": steps,
        "tasks": [t.id for t in tasks],
        "created": timestamp(run.created),
        "updated": timestamp(run.updated),
    }


def _steps(
    run: RunRecord,
    by_step: dict[str, TaskRecord],
    posts: dict[str, HttpStep],
    plan: list[Step],
    prefix: Path,
    blocked: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """`blocked`: how a step above left these steps without tasks (None: it did not)."""
    shown = []
    for index, step in enumerate(plan):
        path = (*prefix, index)
        key, label = path_key(path), path_label(path)
        node: dict[str, Any] = {"step": label, "kind": step["kind"]}
        below: dict[str, Any] | None
        if step["kind"] == CONDITIONS:
            held = run.decisions.get(key)
            node |= {"conditions": step["conditions"], "held": held}
            node["status"] = (
                blocked["status"] if blocked else "pending" if held is None else "ready"
            )
            below = blocked
            if below is None and held is False:
                below = {"status": "skipped", "error": None}
            node["error"] = blocked["error"] if blocked else None
        elif step["kind"] == HTTP:
            post = posts.get(key)
            node |= {"url": step["options"]["url"]}
            if post is None:
                node |= blocked or {"status": "pending", "error": None}
            else:
                error = {"code": None, "message": post.error} if post.status == "error" else None
                node |= {"status": post.status, "attempts": post.attempts, "error": error}
            below = blocked
        else:
            task = by_step.get(key)
            node["ref"] = step["options"].get("ref")
            node["task_id"] = task.id if task else None
            if task is None:
                node |= blocked or {"status": "pending", "error": None}
                below = blocked
            else:
                node["status"] = task.status
                node["error"] = _error_of(task)
                below = _blocked_by(task, label)
        node["next"] = _steps(run, by_step, posts, step.get("next", []), path, below)
        shown.append(node)
    return shown


def _error_of(task: TaskRecord) -> dict[str, Any] | None:
    if task.status != "error":
        return None
    return {"code": task.error_code, "message": task.error_message}


def _blocked_by(task: TaskRecord, label: str) -> dict[str, Any] | None:
    if task.status != "error":
        return None
    message = f"not run: {label} ({task.kind}, {task.id}) failed with {task.error_code}"
    return {"status": "error", "error": {"code": UPSTREAM_FAILED, "message": message}}
