"""The store's SQL for tasks, the queue and the webhook outbox, shared by the SQLite and
PostgreSQL adapters: one role object each over one `Database` (database.py), which rewrites
the `?` placeholders for its driver and supplies connections, transactions and row locks.
The writes one role makes in another's tables inside its own transaction (a failed task's
outbox row) are module functions on a connection.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from pipeline.contract.errors import CANCELLED, WORKER_LOST
from pipeline.contract.events import TASK_FAILED, TASK_SUCCEEDED
from pipeline.ids import new_id, now_iso
from pipeline.store import sql_paging as paging
from pipeline.store.database import Connection, Database
from pipeline.store.group_commit import GroupCommit
from pipeline.store.port import (
    FileRecord,
    MediaRecord,
    Position,
    TaskPage,
    TaskQuery,
    TaskRecord,
    WebhookEvent,
    position_of,
)
from pipeline.store.rows import (
    FILE_COLUMNS,
    FILE_WIDTH,
    NEW_TASK_COLUMNS,
    NO_FILE,
    TASK_COLUMNS,
    TASK_WIDTH,
    file_of,
    insert,
    listed,
    task_of,
    values,
)
from pipeline.store.sql_events import record_event
from pipeline.store.sql_library import insert_media, upsert_file
from pipeline.store.sql_runs import advance_run, settle_run

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
    lease_expires {float},
    run_after {float} NOT NULL DEFAULT 0,
    webhook_url TEXT,
    ran_on TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    media_id TEXT
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
    filesize BIGINT NOT NULL,
    storage_key TEXT NOT NULL,
    info TEXT NOT NULL,
    task_id TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    media_id TEXT,
    ref TEXT,
    folder TEXT,
    metadata TEXT NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS files_project ON files (project_id, created);
CREATE INDEX IF NOT EXISTS files_media ON files (media_id, created);
CREATE TABLE IF NOT EXISTS media (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    kind TEXT,
    title TEXT,
    alt TEXT,
    metadata TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS media_project ON media (project_id, created);
CREATE TABLE IF NOT EXISTS idempotency (
    project_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER,
    body TEXT NOT NULL,
    content_type TEXT,
    created {float} NOT NULL,
    PRIMARY KEY (project_id, key)
);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    url TEXT NOT NULL,
    event TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due {float} NOT NULL,
    sent TEXT,
    gave_up TEXT,
    last_error TEXT,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_due ON webhooks (sent, gave_up, due);
"""

_TASK_COLUMNS = listed(TASK_COLUMNS, "t")
_FILE_COLUMNS = listed(FILE_COLUMNS, "f")
_LEASED_COLUMNS = listed(TASK_COLUMNS)
_TASK_SELECT = (
    f"SELECT {_TASK_COLUMNS}, {_FILE_COLUMNS} FROM tasks t "
    "LEFT JOIN files f ON f.id = t.output_file_id"
)
# A task by id with its output and its input file: what GET /tasks/{id} shows, in one query.
_INPUT_COLUMNS = listed(FILE_COLUMNS, "i")
TASKS_WITH_INPUT = (
    f"SELECT {_TASK_COLUMNS}, {_FILE_COLUMNS}, {_INPUT_COLUMNS} FROM tasks t "
    "LEFT JOIN files f ON f.id = t.output_file_id "
    "LEFT JOIN files i ON i.id = t.input_file_id AND i.project_id = t.project_id"
)
TASK_WITH_INPUT = f"{TASKS_WITH_INPUT} WHERE t.id = ? AND t.project_id = ?"
_HELD = "id=? AND lease_owner=? AND status='processing'"
_INSERT_TASK = insert("tasks", NEW_TASK_COLUMNS)
# What an ended task's UPDATE returns: its webhook, its run, and whether its project has
# webhook endpoints, so a project without any pays no statement for their events.
_ENDED = (
    "project_id, webhook_url, run_id, step, EXISTS (SELECT 1 FROM webhook_endpoints e "
    "WHERE e.project_id = tasks.project_id) AS has_endpoints"
)


class SqlTasks:
    """`TasksPort`: tasks as the API sees them."""

    def __init__(self, database: Database) -> None:
        self.database = database
        # New tasks from concurrent requests, one commit per group (group_commit.py).
        self._new_tasks: GroupCommit[tuple[TaskRecord, MediaRecord | None]] = GroupCommit(
            database.group_lock, self._insert_tasks
        )

    def create_task(self, task: TaskRecord, media: MediaRecord | None = None) -> None:
        """Returns once the task (and its new media) is committed, in a group with those
        created at the same moment on other threads (see group_commit.py)."""
        self._new_tasks.write((task, media))

    def _insert_tasks(self, rows: list[tuple[TaskRecord, MediaRecord | None]]) -> None:
        # Pipelined where the driver can: a group's inserts go out in one round trip.
        with self.database.transaction() as db, self.database.pipelined(db):
            for task, media in rows:
                self._insert_task(db, task, media)

    def _insert_task(self, db: Connection, task: TaskRecord, media: MediaRecord | None) -> None:
        if media is not None:
            insert_media(self.database, db, media)
        self.database.run(db, _INSERT_TASK, values(task, NEW_TASK_COLUMNS))

    def get_task(self, project_id: str, task_id: str) -> TaskRecord | None:
        with self.database.connect() as db:
            row = self.database.run(
                db, f"{_TASK_SELECT} WHERE t.id = ? AND t.project_id = ?", (task_id, project_id)
            ).fetchone()
        return task_of(row) if row else None

    def get_task_with_input(
        self, project_id: str, task_id: str
    ) -> tuple[TaskRecord | None, FileRecord | None]:
        with self.database.connect() as db:
            row = self.database.run(db, TASK_WITH_INPUT, (task_id, project_id)).fetchone()
        return task_with_input(row)

    def list_tasks(self, project_id: str, query: TaskQuery) -> TaskPage:
        clause, params = paging.filters(project_id, query)
        with self.database.connect() as db:
            total = self.database.run(
                db, f"SELECT COUNT(*) FROM tasks t WHERE {clause}", params
            ).fetchone()[0]
            at = query.before or query.after
            if at is None:
                offset = (query.page - 1) * query.limit
                rows = self.database.run(
                    db,
                    f"{_TASK_SELECT} WHERE {clause} "
                    f"ORDER BY {paging.order_by(query.sort, query.order)} LIMIT ? OFFSET ?",
                    [*params, query.limit, offset],
                ).fetchall()
                items = [task_of(r) for r in rows]
                more_after = offset + len(items) < total
                return TaskPage(items, int(total), offset > 0 and total > 0, more_after)
            backwards = query.before is not None
            items, more = self._keyset(db, clause, params, query, at, backwards)
            # The other side of the page: is there a row beyond its first (or last) item?
            other = False
            if items:
                edge = position_of(items[-1 if backwards else 0], query.sort)
                other = self._keyset_exists(db, clause, params, query, edge, not backwards)
        more_before, more_after = (more, other) if backwards else (other, more)
        return TaskPage(items, int(total), more_before, more_after)

    def _keyset(
        self,
        db: Connection,
        clause: str,
        params: list[Any],
        query: TaskQuery,
        at: Position,
        backwards: bool,
    ) -> tuple[list[TaskRecord], bool]:
        """Up to `limit` rows right after `at` (right before it, `backwards`), in list order,
        and whether more rows lie beyond them."""
        beyond, values = paging.beyond(query.sort, query.order, at, backwards=backwards)
        order = paging.order_by(query.sort, query.order, backwards=backwards)
        rows = self.database.run(
            db,
            f"{_TASK_SELECT} WHERE {clause} AND {beyond} ORDER BY {order} LIMIT ?",
            [*params, *values, query.limit + 1],
        ).fetchall()
        items = [task_of(r) for r in rows[: query.limit]]
        return (items[::-1] if backwards else items), len(rows) > query.limit

    def _keyset_exists(
        self,
        db: Connection,
        clause: str,
        params: list[Any],
        query: TaskQuery,
        at: Position,
        backwards: bool,
    ) -> bool:
        beyond, values = paging.beyond(query.sort, query.order, at, backwards=backwards)
        join = "LEFT JOIN files f ON f.id = t.output_file_id " if query.sort == "filesize" else ""
        # Ordered, so the nearest row is found by the list's index, never by a table scan.
        order = paging.order_by(query.sort, query.order, backwards=backwards)
        row = self.database.run(
            db,
            f"SELECT 1 FROM tasks t {join}WHERE {clause} AND {beyond} ORDER BY {order} LIMIT 1",
            [*params, *values],
        ).fetchone()
        return row is not None

    def cancel(self, project_id: str, task_id: str) -> TaskRecord | None:
        stamp = now_iso()
        with self.database.transaction() as db:
            row = self.database.run(
                db,
                f"SELECT status FROM tasks WHERE id=? AND project_id=? {self.database.row_lock}",
                (task_id, project_id),
            ).fetchone()
            if row is None:
                return None
            if row[0] in ("waiting", "processing"):
                # Clearing the lease makes the running worker's result land nowhere.
                finish_with_error(
                    self.database, db, task_id, CANCELLED, "cancelled by the client", stamp
                )
        return self.get_task(project_id, task_id)


class SqlQueue:
    """`QueuePort`: the queue as a dispatcher sees it."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def lease(
        self, owner: str, kinds: list[str], limit: int, lease_s: float, max_attempts: int
    ) -> list[TaskRecord]:
        if limit <= 0 or not kinds:
            return []
        now, stamp = time.time(), now_iso()
        marks = ",".join("?" * len(kinds))
        with self.database.transaction() as db:
            lost = self.database.run(
                db,
                "SELECT id FROM tasks WHERE status='processing' AND lease_expires < ? "
                f"AND attempts >= ? {self.database.lock_clause}",
                (now, max_attempts),
            ).fetchall()
            for (task_id,) in lost:
                message = f"the worker was lost {max_attempts} times while running this task"
                finish_with_error(self.database, db, task_id, WORKER_LOST, message, stamp)
            # One statement claims and returns the rows (no re-read); RETURNING has no order.
            rows = self.database.run(
                db,
                "UPDATE tasks SET status='processing', lease_owner=?, lease_expires=?, "
                "attempts=attempts+1, progress=0, updated=? WHERE id IN ("
                f"SELECT id FROM tasks WHERE kind IN ({marks}) AND ("
                "(status='waiting' AND run_after <= ?) OR "
                "(status='processing' AND lease_expires < ?)) "
                f"ORDER BY created, id LIMIT ? {self.database.lock_clause}) "
                f"RETURNING {_LEASED_COLUMNS}",
                (owner, now + lease_s, stamp, *kinds, now, now, limit),
            ).fetchall()
        return sorted((task_of((*r, *NO_FILE)) for r in rows), key=lambda t: (t.created, t.id))

    def heartbeat(self, task_id: str, owner: str, lease_s: float) -> bool:
        with self.database.transaction() as db:
            cur = self.database.run(
                db,
                f"UPDATE tasks SET lease_expires=? WHERE {_HELD}",
                (time.time() + lease_s, task_id, owner),
            )
            return cur.rowcount == 1

    def release(self, task_id: str, owner: str) -> bool:
        with self.database.transaction() as db:
            cur = self.database.run(
                db,
                "UPDATE tasks SET status='waiting', lease_owner=NULL, lease_expires=NULL, "
                f"attempts=attempts-1, progress=0, updated=? WHERE {_HELD}",
                (now_iso(), task_id, owner),
            )
            return cur.rowcount == 1

    def set_progress(self, task_id: str, owner: str, progress: int) -> bool:
        with self.database.transaction() as db:
            cur = self.database.run(
                db,
                f"UPDATE tasks SET progress=?, updated=? WHERE {_HELD}",
                (max(0, min(99, int(progress))), now_iso(), task_id, owner),
            )
            return cur.rowcount == 1

    def complete(
        self, task_id: str, owner: str, output: FileRecord, ran_on: str | None = None
    ) -> bool:
        stamp = now_iso()
        with self.database.transaction() as db:
            row = self.database.run(
                db,
                "UPDATE tasks SET status='ready', progress=100, output_file_id=?, ran_on=?, "
                "error_code=NULL, error_message=NULL, lease_owner=NULL, lease_expires=NULL, "
                f"updated=? WHERE {_HELD} RETURNING {_ENDED}",
                (output.id, ran_on, stamp, task_id, owner),
            ).fetchone()
            if row is None:
                return False
            # Writes only, in one round trip where the driver can.
            with self.database.pipelined(db):
                upsert_file(self.database, db, output)
                self.database.run(  # the output joins its input's media, if it still exists
                    db,
                    "UPDATE files SET media_id = (SELECT m.id FROM tasks t JOIN media m ON "
                    "m.id = t.media_id AND m.project_id = t.project_id WHERE t.id = ?) "
                    "WHERE id = ?",
                    (task_id, output.id),
                )
                tell_of_end(self.database, db, task_id, row, TASK_SUCCEEDED, stamp)
            if row[2] is not None:  # a workflow's step: its next steps go in this commit
                advance_run(self.database, db, row[2], task_id, row[3], output, stamp)
        return True

    def fail(
        self, task_id: str, owner: str, code: str, message: str, retry_in: float | None
    ) -> bool:
        stamp = now_iso()
        with self.database.transaction() as db:
            held = self.database.run(
                db, f"SELECT id FROM tasks WHERE {_HELD} {self.database.row_lock}", (task_id, owner)
            ).fetchone()
            if held is None:
                return False
            if retry_in is None:
                finish_with_error(self.database, db, task_id, code, message, stamp)
            else:
                self.database.run(
                    db,
                    "UPDATE tasks SET status='waiting', error_code=?, error_message=?, "
                    "lease_owner=NULL, lease_expires=NULL, run_after=?, updated=? WHERE id=?",
                    (code, message, time.time() + retry_in, stamp, task_id),
                )
        return True

    def queue_depth(self) -> dict[str, dict[str, int]]:
        # A task whose lease ran out (its worker died) is claimable again: it counts as
        # waiting, so the runtime starts or makes room for an actor of its kind.
        with self.database.connect() as db:
            rows = self.database.run(
                db,
                "SELECT kind, CASE WHEN status='processing' AND lease_expires < ? "
                "THEN 'waiting' ELSE status END AS state, COUNT(*) FROM tasks "
                "WHERE status IN ('waiting', 'processing') GROUP BY kind, state",
                (time.time(),),
            ).fetchall()
        depth: dict[str, dict[str, int]] = {}
        for kind, status, count in rows:
            depth.setdefault(kind, {"waiting": 0, "processing": 0})[status] = int(count)
        return depth


class SqlOutbox:
    """`OutboxPort`: webhook notifications waiting to be sent."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def claim_webhooks(self, limit: int, lease_s: float) -> list[WebhookEvent]:
        now = time.time()
        with self.database.transaction() as db:
            rows = self.database.run(
                db,
                "SELECT id, task_id, project_id, url, event, attempts, created, endpoint_id, "
                "step FROM webhooks "
                "WHERE sent IS NULL AND gave_up IS NULL AND due <= ? "
                f"ORDER BY due, id LIMIT ? {self.database.lock_clause}",
                (now, limit),
            ).fetchall()
            for row in rows:
                self.database.run(
                    db,
                    "UPDATE webhooks SET due=?, attempts=attempts+1 WHERE id=?",
                    (now + lease_s, row[0]),
                )
        return [
            WebhookEvent(
                id=r[0],
                task_id=r[1],
                project_id=r[2],
                url=r[3],
                event=r[4],
                attempts=int(r[5]) + 1,
                created=r[6],
                endpoint_id=r[7],
                step=r[8],
            )
            for r in rows
        ]

    def webhook_sent(self, event_id: str) -> None:
        stamp = now_iso()
        with self.database.transaction() as db:
            row = self.database.run(
                db,
                "UPDATE webhooks SET sent=?, last_error=NULL WHERE id=? RETURNING task_id, step",
                (stamp, event_id),
            ).fetchone()
            _step_posted(self.database, db, row, stamp)

    def webhook_failed(self, event_id: str, error: str, retry_in: float | None) -> None:
        stamp = now_iso()
        with self.database.transaction() as db:
            if retry_in is None:
                row = self.database.run(
                    db,
                    "UPDATE webhooks SET gave_up=?, last_error=? WHERE id=? "
                    "RETURNING task_id, step",
                    (stamp, error, event_id),
                ).fetchone()
                _step_posted(self.database, db, row, stamp)
            else:
                self.database.run(
                    db,
                    "UPDATE webhooks SET due=?, last_error=? WHERE id=?",
                    (time.time() + retry_in, error, event_id),
                )


def _step_posted(database: Database, db: Connection, row: Any, stamp: str) -> None:
    """After a delivery ended (its `task_id, step`): a workflow's http step settles its run."""
    if row is not None and row[1] is not None:
        settle_run(database, db, row[0], stamp)


def finish_with_error(
    database: Database, db: Connection, task_id: str, code: str, message: str, stamp: str
) -> None:
    row = database.run(
        db,
        "UPDATE tasks SET status='error', error_code=?, error_message=?, lease_owner=NULL, "
        f"lease_expires=NULL, updated=? WHERE id=? RETURNING {_ENDED}",
        (code, message, stamp, task_id),
    ).fetchone()
    if row is None:
        return
    tell_of_end(database, db, task_id, row, TASK_FAILED, stamp)
    if row[2] is not None:
        advance_run(database, db, row[2], task_id, row[3], None, stamp)


def tell_of_end(
    database: Database, db: Connection, task_id: str, row: Sequence[Any], event: str, stamp: str
) -> None:
    """A task's end (its `_ENDED` row) told to its own webhook and the project's endpoints."""
    hook = "task.ready" if event == TASK_SUCCEEDED else "task.error"
    enqueue_webhook(database, db, task_id, row, hook, stamp)
    if row[4]:  # the project has webhook endpoints
        record_event(database, db, row[0], event, task_id, stamp)


def enqueue_webhook(
    database: Database,
    db: Connection,
    task_id: str,
    task: Sequence[Any] | None,
    event: str,
    stamp: str,
) -> None:
    """`task` is the updated row's (project_id, webhook_url, …); no URL, no event."""
    if task is None or not task[1]:
        return
    database.run(
        db,
        "INSERT INTO webhooks (id, task_id, project_id, url, event, due, created) "
        "VALUES (?,?,?,?,?,?,?)",
        (new_id("evt"), task_id, task[0], task[1], event, time.time(), stamp),
    )


def iter_statements(schema: str) -> Iterator[str]:
    for statement in schema.split(";"):
        if statement.strip():
            yield statement.strip()


def task_with_input(row: Sequence[Any] | None) -> tuple[TaskRecord | None, FileRecord | None]:
    """A TASK_WITH_INPUT row as (the task, its input file); (None, None) without a row."""
    if row is None:
        return None, None
    split = TASK_WIDTH + FILE_WIDTH
    return task_of(row[:split]), (file_of(row[split:]) if row[split] is not None else None)
