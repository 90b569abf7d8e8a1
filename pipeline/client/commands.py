"""`strobe tasks create|get|list|wait` and `strobe batch`: client commands for any server."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from pipeline.client.http import ClientError, StrobeClient


def add_commands(commands: Any) -> None:
    """Register `tasks` and `batch` on the top-level subparsers."""
    tasks = commands.add_parser("tasks", help="create, get, list or wait for tasks on a server")
    actions = tasks.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="POST /tasks")
    create.add_argument("fields", nargs="*", help="task fields as key=value (e.g. format=jpeg)")
    create.add_argument("--json", dest="body", help="the task body as JSON ('-' reads stdin)")
    create.add_argument("--wait", action="store_true", help="wait until it is ready or fails")
    get = actions.add_parser("get", help="GET /tasks/{id}")
    get.add_argument("task_id")
    listing = actions.add_parser("list", help="GET /tasks")
    listing.add_argument("--kind")
    listing.add_argument("--status", choices=("waiting", "processing", "ready", "error"))
    listing.add_argument("--limit", type=int, default=12)
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--json", action="store_true", help="print the whole envelope")
    wait = actions.add_parser("wait", help="poll a task until it is ready or fails")
    wait.add_argument("task_id")
    batch = commands.add_parser("batch", help="submit a JSONL manifest of task bodies and wait")
    batch.add_argument("manifest", type=Path, help="one task body (JSON object) per line")
    batch.add_argument("--output", "-o", type=Path, required=True, help="results, JSONL")
    batch.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    batch.add_argument("--max-pending", type=int, default=64, help="tasks submitted, not done")
    for sub in (create, wait, batch):
        sub.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait")
    for sub in (create, get, listing, wait, batch):
        sub.add_argument("--url", help="the server (default: $STROBE_URL)")
        sub.add_argument("--key", help="the API key (default: $STROBE_API_KEY)")


def run(args: argparse.Namespace) -> int:
    try:
        with StrobeClient(args.url, args.key) as client:
            if args.command == "batch":
                from pipeline.client.batch import run_batch

                summary = run_batch(
                    client,
                    args.manifest,
                    args.output,
                    concurrency=args.concurrency,
                    max_pending=args.max_pending,
                    timeout_s=args.timeout,
                )
                print(json.dumps(summary))
                return 0 if summary["failed"] == 0 else 1
            return _tasks(client, args)
    except ClientError as exc:
        where = f"HTTP {exc.status} " if exc.status else ""
        print(f"strobe: {where}{exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except (TimeoutError, ValueError, OSError) as exc:
        print(f"strobe: {exc}", file=sys.stderr)
        return 1


def _tasks(client: StrobeClient, args: argparse.Namespace) -> int:
    if args.action == "create":
        task = client.create_task(task_body(args.fields, args.body))
        if args.wait:
            task = client.wait(task["id"], timeout_s=args.timeout, on_update=ProgressLine())
        _print(task)
        return 0 if task["status"] != "error" else 1
    if args.action == "get":
        _print(client.get_task(args.task_id))
        return 0
    if args.action == "list":
        page = client.list_tasks(
            kind=args.kind, status=args.status, limit=args.limit, page=args.page
        )
        if args.json:
            _print(page)
        else:
            now = datetime.now(UTC)
            for task in page["data"]:
                took = elapsed(task, now)
                print(
                    f"{task['id']}\t{task['kind']}\t{task['status']}\t{task['progress']}%\t{took}"
                )
            meta = page["meta"]
            print(f"page {meta['page']} of {meta['pages']}, {meta['total']} tasks", file=sys.stderr)
        return 0
    task = client.wait(args.task_id, timeout_s=args.timeout, on_update=ProgressLine())
    _print(task)
    return 0 if task["status"] == "ready" else 1


def task_body(fields: list[str], raw_json: str | None) -> dict[str, Any]:
    """`--json` first, then `key=value` pairs on top; values are JSON when they parse
    (`width=320` is a number, `format=jpeg` a string)."""
    body: dict[str, Any] = {}
    if raw_json is not None:
        parsed = json.loads(sys.stdin.read() if raw_json == "-" else raw_json)
        if not isinstance(parsed, dict):
            raise ValueError("--json must be a JSON object")
        body.update(parsed)
    for field in fields:
        key, sep, value = field.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, got {field!r}")
        try:
            body[key] = json.loads(value)
        except ValueError:
            body[key] = value
    return body


class ProgressLine:
    """Shows a task's status and progress on one stderr line while `wait` polls."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr

    def __call__(self, task: dict[str, Any]) -> None:
        filled = int(task.get("progress") or 0) // 5
        bar = "#" * filled + "." * (20 - filled)
        line = f"\r{task['id']} [{bar}] {task.get('progress', 0):>3}% {task['status']:<10}"
        self.out.write(line)
        if task["status"] in ("ready", "error"):
            self.out.write("\n")
        self.out.flush()


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2))


def elapsed(task: dict[str, Any], now: datetime) -> str:
    """How long a task has taken: so far while it waits or runs, in all once it ended."""
    try:
        created = datetime.fromisoformat(task["created"])
        ended = task["status"] in ("ready", "error")
        until = datetime.fromisoformat(task["updated"]) if ended else now
    except (KeyError, TypeError, ValueError):
        return "-"
    seconds = max(0.0, (until - created).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
