"""PostgreSQL store: the production queue, shared by every API replica and worker.

Queue claims use `FOR UPDATE SKIP LOCKED`, so workers never wait on each other's rows;
single-row updates wait for the row (`FOR UPDATE`). Connections come from a small pool that
checks each one before handing it out, so a restarted database is reconnected transparently.
The API's hot reads (`api_reads`) use an async pool of their own on the API's event loop, so a
GET makes one round trip and no hop to a worker thread (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import select
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout, TooManyRequests

from pipeline.store.database import Database
from pipeline.store.migrations import LATEST, run_missing
from pipeline.store.port import FileRecord, StoreUnavailable, TaskRecord
from pipeline.store.sql import TASKS_WITH_INPUT, task_with_input
from pipeline.store.sql_store import SqlStore

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key serialising schema changes across replicas ("Strobe" in ASCII).
_SCHEMA_LOCK = 0x5374726F6265


class DatabaseUnavailable(StoreUnavailable):
    """PostgreSQL could not be reached, or refused the connection, when the store opened."""


class PostgresStore(SqlStore):
    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        connect_timeout_s: int = 5,
        wait_s: float = 30.0,
        api_pool_size: int = 8,
        api_wait_s: float = 5.0,
        api_max_waiting: int = 512,
        api_read_s: float = 10.0,
    ) -> None:
        """Connect, bring the schema up to date and open the pool; raises DatabaseUnavailable
        within about `connect_timeout_s` when the server cannot be reached.

        `api_*` bound the API's async reads: the pool's connections, how long a read waits for
        one (then PoolTimeout), how many reads may wait at once (more fail at once), and a
        read's whole deadline (then TimeoutError), connection wait included."""
        params: dict[str, Any] = conninfo_to_dict(url)
        params.setdefault("connect_timeout", connect_timeout_s)  # libpq's minimum is 2 s
        params.setdefault("application_name", "strobe")
        conninfo = make_conninfo(**params)
        self._conninfo = conninfo
        self._api_pool = (api_pool_size, api_wait_s, api_max_waiting, api_read_s)
        try:
            with psycopg.connect(conninfo, autocommit=True) as db:
                migrate(db)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {_one_line(exc)}") from exc
        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True},
            check=_check_alive,
            timeout=wait_s,  # how long an operation waits for a connection
            name="strobe-store",
            open=False,
        )
        try:
            pool.open(wait=True, timeout=max(connect_timeout_s, 2) * 2)
        except PoolTimeout as exc:
            pool.close()
            raise DatabaseUnavailable(f"cannot open a connection pool: {exc}") from exc
        self._pool = pool
        super().__init__(PostgresDatabase(pool))

    def close(self) -> None:
        self._pool.close()

    @asynccontextmanager
    async def api_reads(self) -> AsyncIterator[PostgresReads]:
        size, wait_s, max_waiting, read_s = self._api_pool
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=size,
            kwargs={"autocommit": True},
            check=_check_alive_async,
            timeout=wait_s,  # a read's deadline for a connection
            max_waiting=max_waiting,  # beyond that, TooManyRequests at once
            name="strobe-api-reads",
            open=False,
        )
        await pool.open(wait=False)  # connects in the background; a read waits for it
        try:
            yield PostgresReads(pool, max_waiting=max_waiting, deadline_s=read_s)
        finally:
            await pool.close()


class PostgresDatabase(Database):
    """Connections from a pool that checks each before lending it; every failure to reach
    the server within its deadline is StoreUnavailable."""

    lock_clause = "FOR UPDATE SKIP LOCKED"
    row_lock = "FOR UPDATE"
    float_type = "DOUBLE PRECISION"

    def __init__(self, pool: ConnectionPool[psycopg.Connection[Any]]) -> None:
        self._pool = pool
        # New tasks from concurrent requests commit in groups: one transaction, one WAL flush.
        self._group_lock = threading.Lock()

    @property
    def group_lock(self) -> AbstractContextManager[object]:
        return self._group_lock

    def pipelined(self, db: Any) -> AbstractContextManager[object]:
        return db.pipeline()

    def sql(self, sql: str) -> str:
        return _to_pyformat(sql)

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection[Any]]:
        with _unavailable_as_store_error(), self._pool.connection() as db:
            yield db

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        with _unavailable_as_store_error(), self._pool.connection() as db, db.transaction():
            yield db


class PostgresReads:
    """`ApiReads` on an async pool: concurrent reads are coalesced into one query.

    A read joins a queue; up to `batches` queries run at once, each taking every read
    queued when it starts (at most `BATCH_LIMIT`). One reader alone gets its own query at
    once; under load a query answers many readers, so the cost per read in the driver and
    the server falls as concurrency grows, the way group commit does for writes. Each read
    is bounded: `max_waiting` queued at most (more fail at once), and `deadline_s` for its
    query, connection wait included."""

    BATCH_LIMIT = 64

    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        *,
        batches: int = 4,
        max_waiting: int = 512,
        deadline_s: float = 10.0,
    ) -> None:
        self._pool = pool
        self._batches = batches
        self._max_waiting = max_waiting
        self._deadline_s = deadline_s
        self._queued: list[tuple[str, str, asyncio.Future[Any]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def task_with_input(
        self, project_id: str, task_id: str
    ) -> tuple[TaskRecord | None, FileRecord | None]:
        if len(self._queued) >= self._max_waiting:
            raise StoreUnavailable(f"{len(self._queued)} reads are already waiting")
        read: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued.append((project_id, task_id, read))
        if len(self._running) < self._batches:
            runner = asyncio.create_task(self._run_batches())
            self._running.add(runner)
            runner.add_done_callback(self._running.discard)
        return task_with_input(await read)

    async def _run_batches(self) -> None:
        while self._queued:
            batch = self._queued[: self.BATCH_LIMIT]
            del self._queued[: self.BATCH_LIMIT]
            ids = list({task_id for _, task_id, read in batch if not read.done()})
            if not ids:
                continue
            try:
                async with asyncio.timeout(self._deadline_s):
                    rows = await self._fetchall(_TASKS_BY_IDS, (ids,))
            except Exception as exc:  # each reader gets the error as its own
                error = _store_error(exc)
                for _, _, read in batch:
                    if not read.done():
                        read.set_exception(error)
                continue
            by_id = {(row[1], row[0]): row for row in rows}  # (project_id, id)
            for project_id, task_id, read in batch:
                if not read.done():
                    read.set_result(by_id.get((project_id, task_id)))

    async def _fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows, retried once on a fresh connection when the lent one turns out dead (a
        restarted server whose goodbye had not arrived when the pool checked it). An
        exhausted pool is not retried: its error goes out as it is."""
        try:
            return await self._query(sql, params)
        except (PoolTimeout, TooManyRequests):
            raise
        except psycopg.OperationalError as exc:  # the pool drops the broken connection
            log.info("retrying a read on a fresh connection: %s", _one_line(exc))
            return await self._query(sql, params)

    async def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        async with self._pool.connection() as db:
            cursor = await db.execute(sql, tuple(params))
            return await cursor.fetchall()


# Tasks by id, with their outputs and inputs; a row is matched to its reader's project after.
_TASKS_BY_IDS = f"{TASKS_WITH_INPUT} WHERE t.id = ANY(%s)"


def migrate(db: psycopg.Connection[Any]) -> int:
    """Bring the schema to the latest version (pipeline/store/migrations.py), in one
    transaction, one replica at a time. Returns the version the database is at."""
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        db.execute("CREATE TABLE IF NOT EXISTS strobe_schema (version INTEGER NOT NULL)")
        row = db.execute("SELECT max(version) FROM strobe_schema").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        if run_missing(db.execute, current, PostgresDatabase.float_type):
            db.execute("DELETE FROM strobe_schema")
            db.execute("INSERT INTO strobe_schema (version) VALUES (%s)", (LATEST,))
        return max(current, LATEST)


@functools.lru_cache(maxsize=1024)
def _to_pyformat(sql: str) -> str:
    """`?` placeholders to psycopg's `%s` (a literal `%` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _check_alive(db: psycopg.Connection[Any]) -> None:
    """The pool's check before it lends a connection, at the cost of one poll(2) call: a
    ping only when the server has spoken (see `_server_spoke`)."""
    if _server_spoke(db):
        ConnectionPool.check_connection(db)


async def _check_alive_async(db: psycopg.AsyncConnection[Any]) -> None:
    """`_check_alive` for the async pool."""
    if _server_spoke(db):
        await AsyncConnectionPool.check_connection(db)


def _server_spoke(db: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle connection has something to read; raises when it is closed.

    An idle connection has nothing to read unless the server has spoken: most often to say
    it is closing the connection (restart, failover, idle timeout). Only then is it pinged,
    which raises on a dead connection so the pool replaces it with a fresh one."""
    if db.closed:
        raise psycopg.OperationalError("the connection is closed")
    poller = select.poll()
    poller.register(db.fileno(), select.POLLIN)
    return bool(poller.poll(0))


@contextmanager
def _unavailable_as_store_error() -> Iterator[None]:
    try:
        yield
    except (PoolTimeout, TooManyRequests, psycopg.OperationalError) as exc:
        raise _store_error(exc) from exc


def _store_error(exc: Exception) -> Exception:
    """An error from the pool or the connection as StoreUnavailable; any other as it is."""
    if isinstance(exc, PoolTimeout | TooManyRequests | psycopg.OperationalError | TimeoutError):
        error = StoreUnavailable(f"PostgreSQL: {_one_line(exc) or type(exc).__name__}")
        error.__cause__ = exc
        return error
    return exc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
