"""SQLite store (WAL): the embedded default, shared by the API and worker processes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.store.sql import SCHEMA, iter_statements
from pipeline.store.sql_library import LibraryStore
from pipeline.store.sql_paging import LIST_BOTH_FILTERS_INDEXES, LIST_INDEXES
from pipeline.store.sql_secrets import WEBHOOK_SECRETS_SCHEMA, WebhookSecretsStore
from pipeline.store.sql_workers import WORKERS_SCHEMA, WorkerReportsStore


class SQLiteStore(LibraryStore, WorkerReportsStore, WebhookSecretsStore):
    # BEGIN IMMEDIATE takes the database's write lock, so leases never overlap.
    lock_clause = ""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
        with self._transaction() as db:
            schema = (
                SCHEMA
                + WORKERS_SCHEMA
                + WEBHOOK_SECRETS_SCHEMA
                + LIST_INDEXES
                + LIST_BOTH_FILTERS_INDEXES
            )
            for statement in iter_statements(schema.format(float="REAL")):
                db.execute(statement)

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
