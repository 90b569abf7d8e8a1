"""Many tasks in a store at once, for list tests and benchmarks at depth.

Rows go in with one bulk statement per table (SQLite `executemany` in one transaction,
PostgreSQL `COPY`), so 100,000 tasks take seconds. A quarter of the tasks are `ready` with an
output file (sizes repeat, so ties are common); `created` stamps repeat in pairs, so the id
must break ties. `Seeded.ordered` is the reference order, computed in Python.
"""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from typing import Any

import psycopg

from pipeline.ids import new_id, output_file_id
from pipeline.store import Store
from pipeline.store.postgres import PostgresStore
from pipeline.store.sqlite import SQLiteStore
from tests.support.records import stamp

KINDS = ("image", "video", "audio")
STATUSES = ("waiting", "processing", "ready", "error")
_TASK_COLUMNS = (
    "id, project_id, kind, status, input_url, options, progress, output_file_id, "
    "created, updated, media_id"
)
_FILE_COLUMNS = (
    "id, project_id, object, kind, filename, mimetype, filesize, storage_key, info, task_id, "
    "created, updated, media_id, metadata"
)


@dataclass(frozen=True)
class Row:
    id: str
    project_id: str
    kind: str
    status: str
    created: str
    updated: str
    filesize: int | None  # the output's, when ready


@dataclass(frozen=True)
class Seeded:
    rows: list[Row]

    def ordered(
        self,
        project_id: str,
        sort: str = "created",
        order: str = "desc",
        kind: str | None = None,
        status: str | None = None,
    ) -> list[str]:
        """The ids the store must list, in its order (sort value, then id; no output last)."""
        mine = [
            r
            for r in self.rows
            if r.project_id == project_id
            and (kind is None or r.kind == kind)
            and (status is None or r.status == status)
        ]
        desc = order == "desc"
        if sort != "filesize":
            mine.sort(key=lambda r: (getattr(r, sort), r.id), reverse=desc)
            return [r.id for r in mine]
        sized = sorted(
            (r for r in mine if r.filesize is not None),
            key=lambda r: (r.filesize, r.id),
            reverse=desc,
        )
        unsized = sorted((r for r in mine if r.filesize is None), key=lambda r: r.id, reverse=desc)
        return [r.id for r in (*sized, *unsized)]


def make_rows(counts: dict[str, int], seed: int = 14) -> list[Row]:
    rng = random.Random(seed)
    rows: list[Row] = []
    for project_id, count in counts.items():
        for n in range(count):
            status = rng.choice(STATUSES)
            rows.append(
                Row(
                    id=new_id("tsk"),
                    project_id=project_id,
                    kind=rng.choice(KINDS),
                    status=status,
                    created=stamp(n // 2),
                    updated=stamp(rng.randrange(count)),
                    filesize=rng.randrange(50) * 1000 if status == "ready" else None,
                )
            )
    return rows


def seed(store: Store, counts: dict[str, int], seed: int = 14) -> Seeded:
    """Write `counts[project_id]` tasks per project into the (empty) store."""
    rows = make_rows(counts, seed)
    tasks = [_task_values(r) for r in rows]
    files = [_file_values(r) for r in rows if r.filesize is not None]
    if isinstance(store, SQLiteStore):
        db = sqlite3.connect(store.path, isolation_level=None)
        try:
            db.execute("BEGIN")
            db.executemany(_insert("tasks", _TASK_COLUMNS), tasks)
            db.executemany(_insert("files", _FILE_COLUMNS), files)
            db.execute("COMMIT")
            db.execute("ANALYZE")
        finally:
            db.close()
    elif isinstance(store, PostgresStore):
        with store.database.connect() as db:
            with db.transaction(), db.cursor() as cur:
                _copy(cur, "tasks", _TASK_COLUMNS, tasks)
                _copy(cur, "files", _FILE_COLUMNS, files)
            db.execute("VACUUM ANALYZE tasks")
            db.execute("VACUUM ANALYZE files")
    else:
        raise TypeError(f"no bulk insert for {type(store).__name__}")
    return Seeded(rows)


def _insert(table: str, columns: str) -> str:
    marks = ",".join("?" * (columns.count(",") + 1))
    return f"INSERT INTO {table} ({columns}) VALUES ({marks})"


def _copy(
    cur: psycopg.Cursor[Any], table: str, columns: str, values: list[tuple[Any, ...]]
) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in values:
            copy.write_row(row)


def _task_values(r: Row) -> tuple[Any, ...]:
    output = output_file_id(r.id) if r.filesize is not None else None
    progress = 100 if r.status == "ready" else 0
    options = json.dumps({"format": "jpeg"})
    return (r.id, r.project_id, r.kind, r.status, "https://example.com/in.jpg", options,
            progress, output, r.created, r.updated, None)  # fmt: skip


def _file_values(r: Row) -> tuple[Any, ...]:
    key = f"{r.project_id}/outputs/{r.id}/out.jpg"
    return (output_file_id(r.id), r.project_id, "source", "image", "out.jpg", "image/jpeg",
            r.filesize, key, "{}", r.id, r.updated, r.updated, None, "{}")  # fmt: skip
