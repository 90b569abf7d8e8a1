"""SQLite store (WAL): the embedded default, shared by the API and worker processes."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.ids import now_iso
from pipeline.store.port import FileRecord, TaskPage, TaskQuery, TaskRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    input_url TEXT,
    input_file_id TEXT,
    options TEXT NOT NULL,
    progress INTEGER NOT NULL DEFAULT 0,
    output_file_id TEXT,
    error_code TEXT,
    error_message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires REAL,
    run_after REAL NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_queue ON tasks (status, kind, run_after);
CREATE INDEX IF NOT EXISTS tasks_project ON tasks (project_id, created);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    object TEXT NOT NULL,
    kind TEXT,
    filename TEXT NOT NULL,
    mimetype TEXT NOT NULL,
    filesize INTEGER NOT NULL,
    storage_key TEXT NOT NULL,
    info TEXT NOT NULL,
    task_id TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_project ON files (project_id, created);
"""

_TASK_COLUMNS = (
    "t.id, t.project_id, t.kind, t.status, t.options, t.created, t.updated, t.input_url, "
    "t.input_file_id, t.progress, t.error_code, t.error_message, t.attempts, t.lease_owner"
)
_FILE_COLUMNS = (
    "f.id, f.project_id, f.object, f.kind, f.filename, f.mimetype, f.filesize, "
    "f.storage_key, f.created, f.updated, f.info, f.task_id"
)
_TASK_SELECT = (
    f"SELECT {_TASK_COLUMNS}, {_FILE_COLUMNS} FROM tasks t "
    "LEFT JOIN files f ON f.id = t.output_file_id"
)
_SORT_COLUMNS = {"created": "t.created", "updated": "t.updated", "filesize": "f.filesize"}


class SQLiteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A connection per operation: cheap for SQLite, and safe across threads.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("PRAGMA synchronous = FULL")  # a 201 means the task is on disk
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def create_task(self, task: TaskRecord) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO tasks (id, project_id, kind, status, input_url, input_file_id, "
                "options, progress, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    task.id,
                    task.project_id,
                    task.kind,
                    task.status,
                    task.input_url,
                    task.input_file_id,
                    json.dumps(task.options),
                    task.progress,
                    task.created,
                    task.updated,
                ),
            )

    def get_task(self, project_id: str, task_id: str) -> TaskRecord | None:
        with self._connect() as db:
            row = db.execute(
                f"{_TASK_SELECT} WHERE t.id = ? AND t.project_id = ?", (task_id, project_id)
            ).fetchone()
        return _task(row) if row else None

    def list_tasks(self, project_id: str, query: TaskQuery) -> TaskPage:
        where, params = ["t.project_id = ?"], [project_id]
        if query.kind:
            where.append("t.kind = ?")
            params.append(query.kind)
        if query.status:
            where.append("t.status = ?")
            params.append(query.status)
        clause = " AND ".join(where)
        direction = "ASC" if query.order == "asc" else "DESC"
        order = f"{_SORT_COLUMNS[query.sort]} {direction}, t.id {direction}"
        if query.sort == "filesize":
            order = f"f.filesize IS NULL, {order}"  # unfinished tasks last either way
        with self._connect() as db:
            total = db.execute(f"SELECT COUNT(*) FROM tasks t WHERE {clause}", params).fetchone()[0]
            rows = db.execute(
                f"{_TASK_SELECT} WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, query.limit, (query.page - 1) * query.limit],
            ).fetchall()
        return TaskPage(items=[_task(r) for r in rows], total=total)

    def lease(
        self, owner: str, kinds: list[str], limit: int, lease_s: float, max_attempts: int
    ) -> list[TaskRecord]:
        if limit <= 0 or not kinds:
            return []
        now, stamp = time.time(), now_iso()
        marks = ",".join("?" * len(kinds))
        with self._transaction() as db:
            db.execute(
                "UPDATE tasks SET status='error', error_code='worker_lost', error_message=?, "
                "lease_owner=NULL, lease_expires=NULL, updated=? "
                "WHERE status='processing' AND lease_expires < ? AND attempts >= ?",
                (
                    f"the worker was lost {max_attempts} times while running this task",
                    stamp,
                    now,
                    max_attempts,
                ),
            )
            ids = [
                row[0]
                for row in db.execute(
                    f"SELECT id FROM tasks WHERE kind IN ({marks}) AND ("
                    "(status='waiting' AND run_after <= ?) OR "
                    "(status='processing' AND lease_expires < ?)) "
                    "ORDER BY created, id LIMIT ?",
                    (*kinds, now, now, limit),
                )
            ]
            if not ids:
                return []
            id_marks = ",".join("?" * len(ids))
            db.execute(
                f"UPDATE tasks SET status='processing', lease_owner=?, lease_expires=?, "
                f"attempts=attempts+1, updated=? WHERE id IN ({id_marks})",
                (owner, now + lease_s, stamp, *ids),
            )
            rows = db.execute(
                f"{_TASK_SELECT} WHERE t.id IN ({id_marks}) ORDER BY t.created, t.id", ids
            ).fetchall()
        return [_task(r) for r in rows]

    def heartbeat(self, task_id: str, owner: str, lease_s: float) -> bool:
        with self._transaction() as db:
            cur = db.execute(
                "UPDATE tasks SET lease_expires=? "
                "WHERE id=? AND lease_owner=? AND status='processing'",
                (time.time() + lease_s, task_id, owner),
            )
        return cur.rowcount == 1

    def complete(self, task_id: str, owner: str, output: FileRecord) -> bool:
        with self._transaction() as db:
            cur = db.execute(
                "UPDATE tasks SET status='ready', progress=100, output_file_id=?, "
                "error_code=NULL, error_message=NULL, lease_owner=NULL, lease_expires=NULL, "
                "updated=? WHERE id=? AND lease_owner=? AND status='processing'",
                (output.id, now_iso(), task_id, owner),
            )
            if cur.rowcount != 1:
                return False
            _upsert_file(db, output)
        return True

    def fail(
        self, task_id: str, owner: str, code: str, message: str, retry_in: float | None
    ) -> bool:
        if retry_in is None:
            sql = (
                "UPDATE tasks SET status='error', error_code=?, error_message=?, "
                "lease_owner=NULL, lease_expires=NULL, updated=? "
                "WHERE id=? AND lease_owner=? AND status='processing'"
            )
            params: tuple[Any, ...] = (code, message, now_iso(), task_id, owner)
        else:
            sql = (
                "UPDATE tasks SET status='waiting', error_code=?, error_message=?, "
                "lease_owner=NULL, lease_expires=NULL, run_after=?, updated=? "
                "WHERE id=? AND lease_owner=? AND status='processing'"
            )
            params = (code, message, time.time() + retry_in, now_iso(), task_id, owner)
        with self._transaction() as db:
            return db.execute(sql, params).rowcount == 1

    def create_file(self, file: FileRecord) -> None:
        with self._transaction() as db:
            _upsert_file(db, file)

    def get_file(self, project_id: str | None, file_id: str) -> FileRecord | None:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {_FILE_COLUMNS} FROM files f "
                "WHERE f.id = ? AND (? IS NULL OR f.project_id = ?)",
                (file_id, project_id, project_id),
            ).fetchone()
        return _file(row) if row else None


def _upsert_file(db: sqlite3.Connection, f: FileRecord) -> None:
    db.execute(
        "INSERT INTO files (id, project_id, object, kind, filename, mimetype, filesize, "
        "storage_key, info, task_id, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(id) DO UPDATE SET filename=excluded.filename, mimetype=excluded.mimetype, "
        "filesize=excluded.filesize, storage_key=excluded.storage_key, info=excluded.info, "
        "updated=excluded.updated",
        (
            f.id,
            f.project_id,
            f.object,
            f.kind,
            f.filename,
            f.mimetype,
            f.filesize,
            f.storage_key,
            json.dumps(f.info),
            f.task_id,
            f.created,
            f.updated,
        ),
    )


def _file(row: tuple[Any, ...]) -> FileRecord:
    (
        id_,
        project_id,
        object_,
        kind,
        filename,
        mimetype,
        filesize,
        storage_key,
        created,
        updated,
        info,
        task_id,
    ) = row
    return FileRecord(
        id=id_,
        project_id=project_id,
        object=object_,
        kind=kind,
        filename=filename,
        mimetype=mimetype,
        filesize=filesize,
        storage_key=storage_key,
        created=created,
        updated=updated,
        info=json.loads(info),
        task_id=task_id,
    )


def _task(row: tuple[Any, ...]) -> TaskRecord:
    (
        id_,
        project_id,
        kind,
        status,
        options,
        created,
        updated,
        input_url,
        input_file_id,
        progress,
        error_code,
        error_message,
        attempts,
        lease_owner,
    ) = row[:14]
    file_row = row[14:]
    return TaskRecord(
        id=id_,
        project_id=project_id,
        kind=kind,
        status=status,
        options=json.loads(options),
        created=created,
        updated=updated,
        input_url=input_url,
        input_file_id=input_file_id,
        progress=progress,
        error_code=error_code,
        error_message=error_message,
        attempts=attempts,
        lease_owner=lease_owner,
        output=_file(file_row) if file_row[0] is not None else None,
    )
