"""Many tasks watched until each ends, for the stranding, chaos and soak tests.

A test that waits on tasks must fail, not hang, when one never ends: `wait_ended` polls with
a deadline and, past it, fails naming the tasks still open (kind, status, progress, age) and
the tail of each process log, which is where the reason usually is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ENDED = ("ready", "error")
LOG_TAIL_LINES = 40
NOISE = ("Svt[", "Loading weights")  # libsvtav1's config banner, progress bars
PAGE = 100  # the most GET /tasks returns at once

# A task of every kind, its work kept tiny: 64 px outputs, 1 sampled frame a second.
KIND_BODIES: dict[str, dict[str, Any]] = {
    "image": {"kind": "image", "format": "jpeg", "width": 64},
    "video": {"kind": "video", "format": "mp4", "width": 64},
    "audio": {"kind": "audio", "format": "mp3"},
    "thumbnails": {"kind": "thumbnails", "count": 2, "width": 64},
    "objects": {"kind": "objects", "fps": 1},
    "faces": {"kind": "faces", "fps": 1},
    "text": {"kind": "text", "fps": 1},
    "nsfw": {"kind": "nsfw", "fps": 1},
    "speech": {"kind": "speech"},
    "subtitles": {"kind": "subtitles"},
    "chapters": {"kind": "chapters"},
    "outline": {"kind": "outline"},
}
# How each kind ends on a video without an audio track (models from tests.support.models).
SILENT_VIDEO_OUTCOMES = {
    "image": "ready",
    "video": "ready",
    "audio": "no_audio_stream",
    "thumbnails": "ready",
    "objects": "ready",
    "faces": "ready",
    "text": "ready",
    "nsfw": "ready",
    "speech": "no_audio_stream",
    "subtitles": "no_audio_stream",
    "chapters": "ready",  # shots from the frames, numbered titles
    "outline": "no_audio_stream",
}
# On a video with sound every kind is ready (a tone: empty transcripts, still ready).
SOUND_VIDEO_OUTCOMES = dict.fromkeys(KIND_BODIES, "ready")


def outcome(task: Mapping[str, Any]) -> str:
    """`ready`, the error code of a task that ended in error, else its status."""
    if task["status"] == "error":
        return str((task.get("error") or {}).get("code"))
    return str(task["status"])


def create(client: httpx.Client, body: Mapping[str, Any], **headers: str) -> str:
    response = client.post("/tasks", json=dict(body), headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def fetch_all(client: httpx.Client, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The project's tasks among `ids`, read a page of 100 at a time (oldest first, so pages
    stay put while new tasks arrive); ids not listed are fetched one by one."""
    wanted = set(ids)
    found: dict[str, dict[str, Any]] = {}
    page, pages = 1, 1
    while page <= pages and len(found) < len(wanted):
        params: dict[str, str | int] = {
            "limit": PAGE,
            "page": page,
            "sort": "created",
            "order": "asc",
        }
        listing = client.get("/tasks", params=params).json()
        pages = int(listing["meta"].get("pages") or 1)
        found.update({t["id"]: t for t in listing["data"] if t["id"] in wanted})
        page += 1
    for task_id in wanted - set(found):
        found[task_id] = client.get(f"/tasks/{task_id}").json()["data"]
    return found


def wait_ended(
    client: httpx.Client,
    ids: Iterable[str],
    timeout_s: float,
    logs: Iterable[Path] = (),
    *,
    poll_s: float = 1.0,
    during: Callable[[dict[str, dict[str, Any]]], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Poll until every task is `ready` or `error`; fail after `timeout_s` with a report of
    the open ones and the logs' tails. `during(tasks)` runs after each poll (to act mid-run);
    a poll that cannot reach the API (it may be restarting) is tried again."""
    ids = list(ids)
    deadline = time.monotonic() + timeout_s
    tasks: dict[str, dict[str, Any]] = {}
    while True:
        try:
            tasks = fetch_all(client, ids)
        except httpx.HTTPError:
            tasks = tasks or {}
        else:
            if during is not None:
                during(tasks)
            if len(tasks) == len(ids) and all(t["status"] in ENDED for t in tasks.values()):
                return tasks
        if time.monotonic() > deadline:
            unended = sum(1 for i in ids if tasks.get(i, {}).get("status") not in ENDED)
            headline = f"{unended} of {len(ids)} tasks did not end in {timeout_s:g} s:"
            raise AssertionError(stranded_report(ids, tasks, headline, logs))
        time.sleep(poll_s)


@dataclass
class Run:
    """Tasks submitted by `run_bounded`: ids in submission order, each task as it ended, and
    when each was last seen `waiting` (its run started after that)."""

    ids: list[str] = field(default_factory=list)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_waiting: dict[str, float] = field(default_factory=dict)

    def run_seconds(self, task_id: str) -> float:
        """Time from the last poll that saw it waiting (else its creation) to its end: its
        run, plus at most one poll interval; queueing before that is not counted."""
        task = self.tasks[task_id]
        start = self.last_waiting.get(task_id, parse_time(task["created"]))
        return parse_time(task["updated"]) - start


def run_bounded(
    client: httpx.Client,
    bodies: Sequence[Mapping[str, Any]],
    *,
    max_pending: int,
    timeout_s: float,
    run_bound_s: float,
    logs: Iterable[Path] = (),
    poll_s: float = 0.5,
) -> Run:
    """Submit `bodies` in order, never more than `max_pending` unfinished at once (as
    `strobe batch --max-pending` does), until all have ended. Fails, with the report
    `wait_ended` gives, as soon as a task has run (see Run.run_seconds) past `run_bound_s`,
    or when they have not all ended after `timeout_s`."""
    queue = list(bodies)
    run = Run()
    open_: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while queue or open_:
        while queue and len(open_) < max_pending:
            run.ids.append(create(client, queue.pop(0)))
            open_.add(run.ids[-1])
        polled_at = time.time()
        polled = fetch_all(client, open_)
        for task_id, task in polled.items():
            if task["status"] == "waiting":
                run.last_waiting[task_id] = polled_at
            elif task["status"] in ENDED:
                run.tasks[task_id] = task
                open_.discard(task_id)
        seen = {**polled, **run.tasks}
        started = {i: run.last_waiting.get(i, parse_time(polled[i]["created"])) for i in open_}
        overdue = [i for i in open_ if polled_at - started[i] > run_bound_s]
        if overdue:
            headline = f"{len(overdue)} tasks ran past {run_bound_s:g} s:"
            raise AssertionError(stranded_report(overdue, seen, headline, logs))
        if open_ and time.monotonic() > deadline:
            headline = f"{len(open_)} of {len(run.ids)} tasks did not end in {timeout_s:g} s"
            headline += f" ({len(queue)} more not submitted yet):" if queue else ":"
            raise AssertionError(stranded_report(run.ids, seen, headline, logs))
        if open_:
            time.sleep(poll_s)
    return run


def stranded_report(
    ids: list[str], tasks: Mapping[str, Mapping[str, Any]], headline: str, logs: Iterable[Path]
) -> str:
    """`headline`, then each of `ids` not ended (kind, status, progress, ages), then the tail
    of each log."""
    open_ = [tasks[i] for i in ids if i in tasks and tasks[i]["status"] not in ENDED]
    unseen = [i for i in ids if i not in tasks]
    lines = [headline]
    lines += [
        f"  {t['id']} {t['kind']:<10} {t['status']:<10} {t.get('progress', 0):>3}%  "
        f"waited {age(t):.0f} s since created, {age(t, 'updated'):.0f} s since updated"
        for t in open_
    ]
    lines += [f"  {i} (never answered)" for i in unseen]
    for path in logs:
        lines += [f"--- last {LOG_TAIL_LINES} lines of {path.name} ---", log_tail(path)]
    return "\n".join(lines)


def log_tail(path: Path, count: int = LOG_TAIL_LINES) -> str:
    """The last `count` lines, without the encoders' banners and blank lines."""
    if not path.exists():
        return "(no log)"
    lines = path.read_text(errors="replace").splitlines()
    kept = [line for line in lines if line.strip() and not line.startswith(NOISE)]
    return "\n".join(kept[-count:])


def age(task: Mapping[str, Any], stamp: str = "created") -> float:
    return time.time() - parse_time(task[stamp])


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def mismatched(
    tasks: Mapping[str, Mapping[str, Any]], expected: Mapping[str, str]
) -> list[tuple[str, str, str, str, str]]:
    """(id, kind, expected, got, error message) for each task whose outcome is not the
    expected one; `expected` maps task id to `ready` or an error code."""
    wrong = []
    for task_id, want in expected.items():
        task = tasks[task_id]
        if outcome(task) != want:
            message = str((task.get("error") or {}).get("message", ""))[:200]
            wrong.append((task_id, task["kind"], want, outcome(task), message))
    return wrong


def metric(text: str, name: str) -> float | None:
    """The sum of a Prometheus metric's samples in `/metrics` text; None when absent."""
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((f"{name} ", f"{name}{{"))
    ]
    return sum(values) if values else None
