"""The store's SQL for worker reports: each worker's actors and running tasks, written every
few seconds by its dispatcher and read by the API for /metrics (the API never talks to Ray).

Shared by the SQLite and PostgreSQL adapters like `sql.SqlStore`, which it extends.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pipeline.store.sql import SqlStore

WORKERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS workers (
    owner TEXT PRIMARY KEY,
    reported {float} NOT NULL,
    state TEXT NOT NULL
);
"""


class WorkerReportsStore(SqlStore):
    def report_worker(self, owner: str, state: dict[str, Any]) -> None:
        with self._transaction() as db:
            self._run(
                db,
                "INSERT INTO workers (owner, reported, state) VALUES (?,?,?) ON CONFLICT (owner) "
                "DO UPDATE SET reported=excluded.reported, state=excluded.state",
                (owner, time.time(), json.dumps(state)),
            )

    def worker_reports(self, max_age_s: float) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = self._run(
                db,
                "SELECT state FROM workers WHERE reported >= ? ORDER BY owner",
                (time.time() - max_age_s,),
            ).fetchall()
        return [json.loads(state) for (state,) in rows]

    def forget_worker(self, owner: str) -> None:
        with self._transaction() as db:
            self._run(db, "DELETE FROM workers WHERE owner = ?", (owner,))

    def count_errors(self, code: str) -> int:
        with self._connect() as db:
            row = self._run(
                db, "SELECT COUNT(*) FROM tasks WHERE error_code = ?", (code,)
            ).fetchone()
        return int(row[0])
