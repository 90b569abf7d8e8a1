"""Each task's output exactly once: one output file row per task in the database, and one
set of objects per task in storage, under `{project}/{task}/…` (a re-run overwrites the same
keys; a duplicated run would leave a second row, or objects under another name)."""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import psycopg

from tests.support.s3 import list_keys

STRAY = "(not under a task folder)"
MULTI_FILE_KINDS = {"thumbnails"}  # frames, sprite, VTT and index; cmaf video likewise
MULTI_FILE_FORMATS = {"cmaf"}


def file_rows_sqlite(db: Path, ids: list[str]) -> Counter[str]:
    marks = ",".join("?" * len(ids))
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            f"SELECT task_id, count(*) FROM files WHERE task_id IN ({marks}) GROUP BY task_id",
            ids,
        ).fetchall()
    return Counter({task_id: int(count) for task_id, count in rows})


def file_rows_postgres(database_url: str, ids: list[str]) -> Counter[str]:
    with psycopg.connect(database_url) as db:
        rows = db.execute(
            "SELECT task_id, count(*) FROM files WHERE task_id = ANY(%s) GROUP BY task_id", (ids,)
        ).fetchall()
    return Counter({task_id: int(count) for task_id, count in rows})


def by_task(keys: Iterable[str], prefix: str) -> dict[str, set[str]]:
    """`{prefix}{task}/{name…}` keys as task -> names; anything else under STRAY."""
    grouped: dict[str, set[str]] = defaultdict(set)
    for key in keys:
        task, _, name = key.removeprefix(prefix).partition("/")
        if key.startswith(prefix) and task.startswith("tsk_") and name:
            grouped[task].add(name)
        else:
            grouped[STRAY].add(key)
    return dict(grouped)


def s3_objects(endpoint: str, bucket: str, prefix: str) -> dict[str, set[str]]:
    """The output objects under `prefix` (`{storage prefix}/{project}/`) by task; uploaded
    inputs (`…/uploads/`) are left out."""
    keys = list_keys(endpoint, bucket)
    return by_task([k for k in keys if not k.startswith(f"{prefix}uploads/")], prefix)


def local_objects(objects_root: Path, project: str) -> dict[str, set[str]]:
    """Local storage (`file://…/objects`): the project's output objects by task. Uploaded
    inputs live under `uploads/` and are left out."""
    root = objects_root / project
    keys = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    return by_task([k for k in keys if not k.startswith("uploads/")], "")


def once_problems(
    tasks: Mapping[str, Mapping[str, Any]],
    rows: Counter[str],
    stored: Mapping[str, set[str]],
) -> list[str]:
    """What breaks "each ready task's output exists exactly once"; empty when nothing does.
    Tasks that ended in error may have stored nothing or a partial output; they must not
    have a file row."""
    problems = []
    ready = {i for i, t in tasks.items() if t["status"] == "ready"}
    if STRAY in stored:
        problems.append(f"objects outside any task folder: {sorted(stored[STRAY])[:5]}")
    for task_id, count in rows.items():
        if task_id not in ready:
            problems.append(f"{task_id} ended {tasks[task_id]['status']} with {count} file rows")
    for task_id in sorted(ready):
        task, names = tasks[task_id], stored.get(task_id, set())
        if rows.get(task_id, 0) != 1:
            problems.append(f"{task_id} is ready with {rows.get(task_id, 0)} file rows")
        if task["output"]["filename"] not in names:
            problems.append(f"{task_id} ({task['kind']}): {task['output']['filename']} missing")
        single = task["kind"] not in MULTI_FILE_KINDS
        single = single and task["output"].get("format") not in MULTI_FILE_FORMATS
        if single and len(names) != 1:
            problems.append(f"{task_id} ({task['kind']}) stored {sorted(names)}")
    foreign = set(stored) - set(tasks) - {STRAY}
    if foreign:
        problems.append(f"objects of unknown tasks: {sorted(foreign)}")
    return problems
