"""`strobe batch manifest.jsonl --output results.jsonl`: many tasks through the API.

Each manifest line is one task body, or one workflow run: `{"automation": "auto_…",
"file_id": …}` runs that automation, `{"workflow": [...], "file_id": …}` runs the workflow
given (`media_id` works in place of `file_id`). A run is one job like a task: its result
line holds `"run"` where a task's holds `"task"`. Lines are submitted with bounded
concurrency (at most `max_pending` jobs submitted and not yet finished), then polled until
they end. The output
has one line per input line, in order: `{"line", "hash", "task"}` or `{"line", "hash",
"error"}`. Results are keyed by line number + a hash of the line's content, so a re-run
skips lines that already succeeded, and lines the API rejected unless they changed; it
resumes waiting on tasks a previous run left unfinished instead of submitting them again.
Tasks that ended `error` are submitted again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pipeline.client.http import FINAL, ClientError, StrobeClient
from pipeline.contract.errors import INVALID_REQUEST

RETRYABLE_STATUS = (0, 429)  # unreachable or rate limited: not the line's fault


@dataclass(frozen=True)
class Line:
    number: int  # 1-based
    hash: str
    body: dict[str, Any] | None
    problem: str | None = None  # why the line is not a task body


def read_manifest(path: Path) -> list[Line]:
    lines = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        text = raw.strip()
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        try:
            body = json.loads(text)
        except ValueError as exc:
            lines.append(Line(number, digest, None, f"not JSON: {exc}"))
            continue
        if not isinstance(body, dict):
            lines.append(Line(number, digest, None, "a task or run body must be a JSON object"))
            continue
        lines.append(Line(number, digest, body))
    return lines


def is_run(body: dict[str, Any] | None) -> bool:
    return body is not None and ("workflow" in body or "automation" in body)


def job_of(result: dict[str, Any]) -> dict[str, Any] | None:
    """The task or run a result line holds, if any."""
    job: dict[str, Any] | None = result.get("task") or result.get("run")
    return job


def is_done(result: dict[str, Any]) -> bool:
    """Succeeded, or rejected for its content (the same line would be rejected again)."""
    task = job_of(result)
    if task is not None:
        return bool(task.get("status") == "ready")
    error = result.get("error") or {}
    return error.get("status") not in RETRYABLE_STATUS and error.get("status", 500) < 500


def run_batch(
    client: StrobeClient,
    manifest: Path,
    output: Path,
    *,
    concurrency: int = 8,
    max_pending: int = 64,
    timeout_s: float = 3600.0,
    interval_s: float = 0.5,
    progress_to: TextIO | None = None,
) -> dict[str, Any]:
    lines = read_manifest(manifest)
    previous = _previous_results(output)
    results: dict[int, dict[str, Any]] = {}
    pending: dict[str, Line] = {}  # task or run id -> line
    todo: list[Line] = []
    skipped = 0
    for line in lines:
        before = previous.get(line.number)
        if before is not None and before.get("hash") == line.hash:
            if is_done(before):
                results[line.number], skipped = before, skipped + 1
                continue
            task = job_of(before)
            if task is not None and task.get("status") not in FINAL:
                pending[task["id"]] = line  # submitted by a run that stopped early
                continue
        if line.body is None:
            results[line.number] = _error(line, 400, INVALID_REQUEST, line.problem or "")
        else:
            todo.append(line)
    bar = ProgressBar(len(lines), progress_to or sys.stderr)
    submitted = 0
    deadline = time.monotonic() + timeout_s
    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        try:
            while (todo or pending) and time.monotonic() < deadline:
                room = max(0, max_pending - len(pending))
                chunk, todo = todo[:room], todo[room:]
                for line, outcome in zip(chunk, pool.map(_submit(client), chunk), strict=True):
                    submitted += 1
                    if isinstance(outcome, ClientError):
                        results[line.number] = _error(line, **outcome.as_dict())
                    else:
                        pending[outcome["id"]] = line
                finished = 0
                for task_id, task in zip(
                    list(pending), pool.map(_poll(client), list(pending)), strict=True
                ):
                    if task is not None and task["status"] in FINAL:
                        line = pending.pop(task_id)
                        results[line.number] = _task(line, task)
                        finished += 1
                bar.show(_counts(results))
                if pending and not finished and not chunk:
                    time.sleep(interval_s)
        finally:
            for job_id, line in pending.items():  # unfinished: the next run waits on them
                results[line.number] = _task(line, {"id": job_id, "status": "processing"})
            _write_results(output, lines, results)
    counts = _counts(results)
    bar.show(counts, final=True)
    bad = [
        {"line": number, "error": r.get("error") or _job_error(job_of(r) or {})}
        for number, r in sorted(results.items())
        if (job_of(r) or {}).get("status") != "ready"
    ]
    return {"lines": len(lines), "submitted": submitted, "skipped": skipped, **counts, "bad": bad}


class ProgressBar:
    """A one-line progress bar on stderr, redrawn only when the counts change."""

    def __init__(self, total: int, out: TextIO, width: int = 30) -> None:
        self.total, self.out, self.width = total, out, width
        self._last: dict[str, int] | None = None

    def show(self, counts: dict[str, int], *, final: bool = False) -> None:
        if counts == self._last and not final:
            return
        self._last = counts
        done = counts["ready"] + counts["failed"]
        filled = self.width * done // max(1, self.total)
        bar = "#" * filled + "." * (self.width - filled)
        self.out.write(
            f"\r[{bar}] {done}/{self.total} done, {counts['ready']} ready, "
            f"{counts['failed']} failed, {counts['unfinished']} waiting"
        )
        if final:
            self.out.write("\n")
        self.out.flush()


def _submit(client: StrobeClient) -> Any:
    def submit(line: Line) -> dict[str, Any] | ClientError:
        try:
            if is_run(line.body):
                return client.start_run(line.body or {})
            return client.create_task(line.body or {})
        except ClientError as exc:
            return exc

    return submit


def _poll(client: StrobeClient) -> Any:
    def poll(job_id: str) -> dict[str, Any] | None:
        try:
            return client.get_run(job_id) if job_id.startswith("run_") else client.get_task(job_id)
        except ClientError:
            return None  # a blip: ask again next round

    return poll


def _counts(results: dict[int, dict[str, Any]]) -> dict[str, int]:
    ready = unfinished = 0
    for result in results.values():
        status = (job_of(result) or {}).get("status")
        ready += status == "ready"
        unfinished += status is not None and status not in FINAL
    return {"ready": ready, "failed": len(results) - ready - unfinished, "unfinished": unfinished}


def _task(line: Line, job: dict[str, Any]) -> dict[str, Any]:
    """A task's or a run's result line (a run's id starts `run_`)."""
    key = "run" if str(job.get("id", "")).startswith("run_") else "task"
    return {"line": line.number, "hash": line.hash, key: job}


def _job_error(job: dict[str, Any]) -> Any:
    """A task's error; for a run, its failed steps' (path, code, message)."""
    if "steps" not in job:
        return job.get("error")
    failed: list[dict[str, Any]] = []
    stack = list(job["steps"])
    while stack:
        step = stack.pop(0)
        if step.get("status") == "error" and step.get("error"):
            failed.append({"step": step["step"], **step["error"]})
        stack.extend(step.get("next", []))
    return failed


def _error(line: Line, status: int, code: str, message: str) -> dict[str, Any]:
    error = {"status": status, "code": code, "message": message}
    return {"line": line.number, "hash": line.hash, "error": error}


def _previous_results(output: Path) -> dict[int, dict[str, Any]]:
    if not output.exists():
        return {}
    found = {}
    for raw in output.read_text().splitlines():
        try:
            result = json.loads(raw)
            found[int(result["line"])] = result
        except (ValueError, KeyError, TypeError):
            continue  # a damaged line is simply redone
    return found


def _write_results(output: Path, lines: list[Line], results: dict[int, dict[str, Any]]) -> None:
    """All lines at once through a temporary file, so an interrupted write loses nothing."""
    partial = output.with_name(output.name + ".partial")
    with partial.open("w") as out:
        for line in lines:
            result = results.get(line.number)
            if result is None:  # not reached before a timeout or interrupt
                result = _error(line, 0, "not_submitted", "not submitted before the run stopped")
            out.write(json.dumps(result) + "\n")
    os.replace(partial, output)
