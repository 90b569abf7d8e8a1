"""The store's SQL for worker reports: each worker's actors and running tasks, written every
few seconds by its dispatcher and read by the API for /metrics (the API never talks to Ray).

A role object over one `Database` (database.py), like those in sql.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pipeline.store.database import Database

WORKERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS workers (
    owner TEXT PRIMARY KEY,
    reported {float} NOT NULL,
    state TEXT NOT NULL
);
"""


class SqlWorkerReports:
    """`WorkerReportsPort`: what each worker runs, for /metrics."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def report_worker(self, owner: str, state: dict[str, Any]) -> None:
        with self.database.transaction() as db:
            self.database.run(
                db,
                "INSERT INTO workers (owner, reported, state) VALUES (?,?,?) ON CONFLICT (owner) "
                "DO UPDATE SET reported=excluded.reported, state=excluded.state",
                (owner, time.time(), json.dumps(state)),
            )

    def worker_reports(self, max_age_s: float) -> list[dict[str, Any]]:
        with self.database.connect() as db:
            rows = self.database.run(
                db,
                "SELECT state FROM workers WHERE reported >= ? ORDER BY owner",
                (time.time() - max_age_s,),
            ).fetchall()
        return [json.loads(state) for (state,) in rows]

    def forget_worker(self, owner: str) -> None:
        with self.database.transaction() as db:
            self.database.run(db, "DELETE FROM workers WHERE owner = ?", (owner,))

    def count_errors(self, code: str) -> int:
        with self.database.connect() as db:
            row = self.database.run(
                db, "SELECT COUNT(*) FROM tasks WHERE error_code = ?", (code,)
            ).fetchone()
        return int(row[0])
