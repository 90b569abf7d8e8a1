"""SQLite store (WAL): the embedded default, shared by the API and worker processes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from pathlib import Path

from pipeline.store.database import Database
from pipeline.store.migrations import LATEST, run_missing
from pipeline.store.reads import LocalReads
from pipeline.store.sql_store import SqlStore


class SQLiteStore(SqlStore):
    def __init__(self, path: str | Path) -> None:
        database = SQLiteDatabase(Path(path))
        super().__init__(database)
        self.path = database.path
        with database.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
        self.schema_version = _migrate(database)

    @asynccontextmanager
    async def api_reads(self) -> AsyncIterator[LocalReads]:
        # On the event loop: a local file, and WAL readers never wait for the writer.
        yield LocalReads(self)


def _migrate(database: SQLiteDatabase) -> int:
    """Bring the schema to the latest version (pipeline/store/migrations.py) in one
    transaction; BEGIN IMMEDIATE makes other processes opening it wait their turn.
    Returns the version the database is at."""
    with database.transaction() as db:
        current = int(db.execute("PRAGMA user_version").fetchone()[0])
        if run_missing(db.execute, current, database.float_type):
            db.execute(f"PRAGMA user_version = {LATEST:d}")
        return max(current, LATEST)


class SQLiteDatabase(Database):
    # BEGIN IMMEDIATE takes the database's write lock, so leases never overlap.
    lock_clause = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()  # this thread's connection, and whether it is in use
        self._writing = threading.RLock()

    @property
    def group_lock(self) -> AbstractContextManager[object]:
        return self._writing  # new tasks commit in groups behind the lock of every write

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        # Each thread keeps one connection: opening one and setting its PRAGMAs cost more
        # than a read by primary key. In autocommit mode each statement sees the latest
        # commit. A use nested in another on the same thread gets a connection of its own.
        if getattr(self._local, "busy", False):
            db = self._open()
            try:
                yield db
            finally:
                db.close()
            return
        db = getattr(self._local, "db", None) or self._open()
        self._local.db, self._local.busy = db, True
        try:
            yield db
        except BaseException:
            self._local.db = None  # in an unknown state: the next use opens another
            db.close()
            raise
        finally:
            self._local.busy = False

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("PRAGMA synchronous = FULL")  # a 201 means the task is on disk
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        # Writers in this process queue on a lock: one that finds SQLite's write lock taken
        # sleeps in SQLite's busy handler (1, 2, 5, 10 … 100 ms), far longer than a commit,
        # so under load (many API threads) most of the time went to sleeping. Other
        # processes' writers still meet busy_timeout.
        with self._writing, self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
