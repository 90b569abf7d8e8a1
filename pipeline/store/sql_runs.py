"""Automations and workflow runs in SQL, and the engine that advances a run.

A run moves only inside the transaction of a task that ends (`advance_run`, called by the
queue's `complete` and by `finish_with_error`): a ready step's `next` tasks are inserted in
the same commit as its output, and the run settles in the commit of its last task. So a
worker killed at any point leaves either the step unfinished (its lease runs out and it is
retried) or the step finished with its children queued, never one without the other, and no
step's task is ever inserted twice. The run's row is locked first, so two steps that end at
once on PostgreSQL advance it one after the other.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import Any

from pipeline.contract.events import RUN_FAILED, RUN_SUCCEEDED
from pipeline.ids import new_id
from pipeline.store.database import Connection, Database
from pipeline.store.port import (
    AutomationRecord,
    FileRecord,
    HttpStep,
    Page,
    RunRecord,
    TaskRecord,
)
from pipeline.store.rows import (
    AUTOMATION_COLUMNS,
    FILE_COLUMNS,
    NEW_TASK_COLUMNS,
    RUN_COLUMNS,
    TASK_COLUMNS,
    assignments,
    automation_of,
    insert,
    listed,
    run_of,
    task_of,
    values,
)
from pipeline.store.sql_events import record_event
from pipeline.store.sql_paging import newest_first
from pipeline.workflow import (
    CONDITIONS,
    HTTP,
    HTTP_STEP,
    Path,
    Step,
    facts_of,
    holds,
    path_key,
    path_of,
    step_at,
)

RUNS_SCHEMA = """
ALTER TABLE tasks ADD COLUMN run_id TEXT;
ALTER TABLE tasks ADD COLUMN parent_id TEXT;
ALTER TABLE tasks ADD COLUMN step TEXT;
CREATE INDEX IF NOT EXISTS tasks_run ON tasks (run_id) WHERE run_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS automations (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    trigger TEXT NOT NULL,
    workflow TEXT NOT NULL,
    plan TEXT NOT NULL,
    status TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS automations_project ON automations (project_id, created, id);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    automation_id TEXT,
    plan TEXT NOT NULL,
    file_id TEXT NOT NULL,
    media_id TEXT,
    status TEXT NOT NULL,
    decisions TEXT NOT NULL,
    deferred TEXT NOT NULL DEFAULT '[]',
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_project ON runs (project_id, created, id);
"""
_AUTOMATION_SELECT = f"SELECT {listed(AUTOMATION_COLUMNS)} FROM automations"
_RUN_SELECT = f"SELECT {listed(RUN_COLUMNS)} FROM runs"
_INSERT_TASK = insert("tasks", NEW_TASK_COLUMNS)
# Steps still to end: tasks not finished, and http steps' POSTs neither sent nor given up.
_UNSETTLED = (
    "SELECT (SELECT COUNT(*) FROM tasks WHERE run_id=? AND status IN ('waiting', 'processing'))"
    " + (SELECT COUNT(*) FROM webhooks WHERE task_id=? AND step IS NOT NULL AND sent IS NULL "
    "AND gave_up IS NULL)"
)
_FAILED = (
    "SELECT (SELECT COUNT(*) FROM tasks WHERE run_id=? AND status='error')"
    " + (SELECT COUNT(*) FROM webhooks WHERE task_id=? AND step IS NOT NULL "
    "AND gave_up IS NOT NULL)"
)
_CHANGEABLE = ("name", "description", "trigger", "workflow", "plan", "status")


class SqlAutomations:
    """`AutomationsPort`."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def create_automation(self, automation: AutomationRecord) -> None:
        with self.database.transaction() as db:
            self.database.run(
                db,
                insert("automations", AUTOMATION_COLUMNS),
                values(automation, AUTOMATION_COLUMNS),
            )

    def get_automation(self, project_id: str, automation_id: str) -> AutomationRecord | None:
        with self.database.connect() as db:
            row = self.database.run(
                db,
                f"{_AUTOMATION_SELECT} WHERE id=? AND project_id=?",
                (automation_id, project_id),
            ).fetchone()
        return automation_of(row) if row else None

    def list_automations(self, project_id: str, page: int, limit: int) -> Page[AutomationRecord]:
        columns = listed(AUTOMATION_COLUMNS)
        with self.database.connect() as db:
            rows, total = newest_first(
                self.database, db, "automations", columns, "project_id=?", [project_id], page, limit
            )
        return Page([automation_of(r) for r in rows], total)

    def update_automation(
        self, project_id: str, automation_id: str, changes: dict[str, Any]
    ) -> AutomationRecord | None:
        sets, params = assignments(changes, _CHANGEABLE)
        with self.database.transaction() as db:
            self.database.run(
                db,
                f"UPDATE automations SET {sets} WHERE id=? AND project_id=?",
                (*params, automation_id, project_id),
            )
        return self.get_automation(project_id, automation_id)

    def delete_automation(self, project_id: str, automation_id: str) -> bool:
        with self.database.transaction() as db:
            cur = self.database.run(
                db,
                "DELETE FROM automations WHERE id=? AND project_id=?",
                (automation_id, project_id),
            )
            return cur.rowcount == 1


class SqlRuns:
    """`RunsPort`."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def start_run(self, run: RunRecord, input_file: FileRecord) -> RunRecord:
        with self.database.transaction() as db:
            return _start(self.database, db, run, input_file)

    def start_triggered_runs(self, db: Connection, file: FileRecord) -> list[RunRecord]:
        """In the caller's transaction: a run of each of the file's project's active
        `media.created` automations, on the file (the first of a new media)."""
        rows = self.database.run(
            db,
            f"{_AUTOMATION_SELECT} WHERE project_id=? AND status='active' ORDER BY created, id",
            (file.project_id,),
        ).fetchall()
        started = []
        for automation in map(automation_of, rows):
            if automation.trigger.get("event") != "media.created":
                continue
            run = RunRecord.begin(automation.project_id, automation.id, automation.plan, file)
            started.append(_start(self.database, db, run, file))
        return started

    def get_run(self, project_id: str, run_id: str) -> RunRecord | None:
        with self.database.connect() as db:
            row = self.database.run(
                db, f"{_RUN_SELECT} WHERE id=? AND project_id=?", (run_id, project_id)
            ).fetchone()
        return run_of(row) if row else None

    def run_tasks(self, run_id: str) -> list[TaskRecord]:
        with self.database.connect() as db:
            rows = self.database.run(
                db,
                f"SELECT {listed(TASK_COLUMNS, 't')}, {listed(FILE_COLUMNS, 'f')} FROM tasks t "
                "LEFT JOIN files f ON f.id = t.output_file_id WHERE t.run_id=? ORDER BY t.created",
                (run_id,),
            ).fetchall()
        return [task_of(r) for r in rows]

    def run_http_steps(self, run_id: str) -> dict[str, HttpStep]:
        with self.database.connect() as db:
            rows = self.database.run(
                db,
                "SELECT step, sent, gave_up, attempts, last_error FROM webhooks "
                "WHERE task_id=? AND step IS NOT NULL",
                (run_id,),
            ).fetchall()
        return {
            step: HttpStep(
                "ready" if sent else "error" if gave_up else "processing", int(attempts), error
            )
            for step, sent, gave_up, attempts, error in rows
        }

    def list_runs(
        self, project_id: str, page: int, limit: int, automation_id: str | None = None
    ) -> Page[RunRecord]:
        clause, params = "project_id=?", [project_id]
        if automation_id is not None:
            clause, params = clause + " AND automation_id=?", [*params, automation_id]
        with self.database.connect() as db:
            rows, total = newest_first(
                self.database, db, "runs", listed(RUN_COLUMNS), clause, params, page, limit
            )
        return Page([run_of(r) for r in rows], total)


@dataclass
class _Moves:
    """What one transaction changes in a run besides its tasks: the conditions decided, and
    the `last` steps held until every other step has ended (each with its input)."""

    decisions: dict[str, bool]
    deferred: list[dict[str, Any]]

    @classmethod
    def of(cls, run: RunRecord) -> _Moves:
        return cls(dict(run.decisions), list(run.deferred))


def _start(database: Database, db: Connection, run: RunRecord, input_file: FileRecord) -> RunRecord:
    database.run(db, insert("runs", RUN_COLUMNS), values(run, RUN_COLUMNS))
    moves = _Moves.of(run)
    steps: list[tuple[Path, Step]] = [((i,), step) for i, step in enumerate(run.plan)]
    _spawn(database, db, run, steps, input_file.id, _facts(input_file), None, moves, run.created)
    status = _settle(database, db, run, moves, run.created)
    return replace(run, status=status, decisions=moves.decisions, deferred=moves.deferred)


def settle_run(database: Database, db: Connection, run_id: str, stamp: str) -> None:
    """Settle the run after one of its http steps' POSTs ended (sent or given up)."""
    row = database.run(db, f"{_RUN_SELECT} WHERE id=? {database.row_lock}", (run_id,)).fetchone()
    if row is not None:
        run = run_of(row)
        _settle(database, db, run, _Moves.of(run), stamp)


def advance_run(
    database: Database,
    db: Connection,
    run_id: str,
    task_id: str,
    step: str | None,
    output: FileRecord | None,
    stamp: str,
) -> None:
    """Move the run on from its step task `task_id`, which has just ended: ready with
    `output`, or in error (`output` None). Called inside that task's transaction."""
    row = database.run(db, f"{_RUN_SELECT} WHERE id=? {database.row_lock}", (run_id,)).fetchone()
    if row is None or step is None:
        return
    run = run_of(row)
    moves = _Moves.of(run)
    if output is not None:
        path = path_of(step)
        children = step_at(run.plan, path).get("next", [])
        steps = [((*path, i), child) for i, child in enumerate(children)]
        _spawn(database, db, run, steps, output.id, _facts(output), task_id, moves, stamp)
    _settle(database, db, run, moves, stamp)


def _facts(file: FileRecord) -> dict[str, Any]:
    return facts_of(file.kind, file.info, file.mimetype, file.filesize)


def _spawn(
    database: Database,
    db: Connection,
    run: RunRecord,
    steps: list[tuple[Path, Step]],
    input_id: str,
    facts: dict[str, Any],
    parent_id: str | None,
    moves: _Moves,
    stamp: str,
) -> None:
    """Queue a task for each step on the input file `input_id`; a conditions step is decided
    here, on that input's `facts`, and its `next` steps queued on the same input when its
    tests hold; a `last` step waits in `moves.deferred`."""
    for path, step in steps:
        if step["kind"] == HTTP:
            database.run(
                db,
                "INSERT INTO webhooks (id, task_id, project_id, url, event, due, created, step) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (new_id("msg"), run.id, run.project_id, step["options"]["url"], HTTP_STEP,
                 time.time(), stamp, path_key(path)),
            )  # fmt: skip
        elif step["kind"] == CONDITIONS:
            held = holds(step["conditions"], facts)
            moves.decisions[path_key(path)] = held
            if held:
                nested = [((*path, i), s) for i, s in enumerate(step.get("next", []))]
                _spawn(database, db, run, nested, input_id, facts, parent_id, moves, stamp)
        elif step.get("last"):
            moves.deferred.append({"step": path_key(path), "input": input_id, "parent": parent_id})
        else:
            _queue(database, db, run, path_key(path), step, input_id, parent_id, stamp)


def _queue(
    database: Database,
    db: Connection,
    run: RunRecord,
    key: str,
    step: Step,
    input_id: str,
    parent_id: str | None,
    stamp: str,
) -> None:
    task = TaskRecord(
        id=new_id("tsk"),
        project_id=run.project_id,
        kind=step["kind"],
        status="waiting",
        options=step["options"],
        created=stamp,
        updated=stamp,
        input_file_id=input_id,
        media_id=run.media_id,
        run_id=run.id,
        parent_id=parent_id,
        step=key,
    )
    database.run(db, _INSERT_TASK, values(task, NEW_TASK_COLUMNS))


def _settle(database: Database, db: Connection, run: RunRecord, moves: _Moves, stamp: str) -> str:
    """Record the run's moves and, once nothing is left to run, its end: first the held
    `last` steps are queued; with none, `error` when any step failed, else `ready`, and its
    event. Returns its status."""
    status = "processing"
    if database.run(db, _UNSETTLED, (run.id, run.id)).fetchone()[0] == 0:
        if moves.deferred:
            for held in moves.deferred:
                step = step_at(run.plan, path_of(held["step"]))
                _queue(database, db, run, held["step"], step, held["input"], held["parent"], stamp)
            moves.deferred = []
        else:
            failed = database.run(db, _FAILED, (run.id, run.id)).fetchone()[0]
            status = "error" if failed else "ready"
    database.run(
        db,
        "UPDATE runs SET status=?, decisions=?, deferred=?, updated=? WHERE id=?",
        (status, json.dumps(moves.decisions), json.dumps(moves.deferred), stamp, run.id),
    )
    if status != "processing" and run.status == "processing":
        event = RUN_FAILED if status == "error" else RUN_SUCCEEDED
        record_event(database, db, run.project_id, event, run.id, stamp)
    return status
