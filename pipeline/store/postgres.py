"""PostgreSQL store: the production queue, shared by every API replica and worker.

Queue claims use `FOR UPDATE SKIP LOCKED`, so workers never wait on each other's rows;
single-row updates wait for the row (`FOR UPDATE`). Connections come from a small pool that
checks each one before handing it out, so a restarted database is reconnected transparently.
The API's hot reads (`api_reads`) use an async pool of their own on the API's event loop, so a
GET makes one round trip and no hop to a worker thread (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import functools
import logging
import select
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout, TooManyRequests

from pipeline.store.port import FileRecord, TaskRecord
from pipeline.store.sql import SCHEMA, TASK_WITH_INPUT, iter_statements, task_with_input
from pipeline.store.sql_library import LibraryStore
from pipeline.store.sql_paging import LIST_BOTH_FILTERS_INDEXES, LIST_INDEXES
from pipeline.store.sql_secrets import WEBHOOK_SECRETS_SCHEMA, WebhookSecretsStore
from pipeline.store.sql_workers import WORKERS_SCHEMA, WorkerReportsStore

log = logging.getLogger(__name__)

# Schema versions, oldest first: version N is reached by running MIGRATIONS[N - 1].
# Add a version with ALTERs; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    SCHEMA.format(float="DOUBLE PRECISION"),
    WORKERS_SCHEMA.format(float="DOUBLE PRECISION"),
    WEBHOOK_SECRETS_SCHEMA.format(float="DOUBLE PRECISION"),
    # Lists by index at any depth; the (project_id, created) ones are prefixes of the new.
    LIST_INDEXES
    + "DROP INDEX IF EXISTS tasks_project; DROP INDEX IF EXISTS files_project; "
    + "DROP INDEX IF EXISTS media_project;",
    LIST_BOTH_FILTERS_INDEXES,
)

# pg_advisory_xact_lock key serialising schema changes across replicas ("Strobe" in ASCII).
_SCHEMA_LOCK = 0x5374726F6265


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached, or refused the connection, when the store opened."""


class PostgresStore(LibraryStore, WorkerReportsStore, WebhookSecretsStore):
    lock_clause = "FOR UPDATE SKIP LOCKED"
    row_lock = "FOR UPDATE"

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
    ) -> None:
        """Connect, bring the schema up to date and open the pool; raises DatabaseUnavailable
        within about `connect_timeout_s` when the server cannot be reached.

        `api_*` bound the API's async read pool: its connections, how long a read waits for
        one (then PoolTimeout), and how many reads may wait at once (more fail at once)."""
        params: dict[str, Any] = conninfo_to_dict(url)
        params.setdefault("connect_timeout", connect_timeout_s)  # libpq's minimum is 2 s
        params.setdefault("application_name", "strobe")
        conninfo = make_conninfo(**params)
        self._conninfo = conninfo
        self._api_pool = (api_pool_size, api_wait_s, api_max_waiting)
        try:
            with psycopg.connect(conninfo, autocommit=True) as db:
                migrate(db)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {_one_line(exc)}") from exc
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
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
            self._pool.open(wait=True, timeout=max(connect_timeout_s, 2) * 2)
        except PoolTimeout as exc:
            self._pool.close()
            raise DatabaseUnavailable(f"cannot open a connection pool: {exc}") from exc

    def close(self) -> None:
        self._pool.close()

    @asynccontextmanager
    async def api_reads(self) -> AsyncIterator[PostgresReads]:
        size, wait_s, max_waiting = self._api_pool
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
            yield PostgresReads(pool)
        finally:
            await pool.close()

    def _sql(self, sql: str) -> str:
        return _to_pyformat(sql)

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection() as db:
            yield db

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection() as db, db.transaction():
            yield db


class PostgresReads:
    """`ApiReads` on an async pool: each read is one query, one round trip, on the loop."""

    def __init__(self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]]) -> None:
        self._pool = pool

    async def task_with_input(
        self, project_id: str, task_id: str
    ) -> tuple[TaskRecord | None, FileRecord | None]:
        return task_with_input(await self._fetchone(TASK_WITH_INPUT, (task_id, project_id)))

    async def _fetchone(self, sql: str, params: Sequence[Any]) -> Any:
        """One row, retried once on a fresh connection when the lent one turns out dead (a
        restarted server whose goodbye had not arrived when the pool checked it). An
        exhausted pool is not retried: its error goes out as it is."""
        try:
            return await self._query(sql, params)
        except (PoolTimeout, TooManyRequests):
            raise
        except psycopg.OperationalError as exc:  # the pool drops the broken connection
            log.info("retrying a read on a fresh connection: %s", _one_line(exc))
            return await self._query(sql, params)

    async def _query(self, sql: str, params: Sequence[Any]) -> Any:
        async with self._pool.connection() as db:
            cursor = await db.execute(_to_pyformat(sql), tuple(params))
            return await cursor.fetchone()


def migrate(db: psycopg.Connection[Any]) -> int:
    """Bring the schema to the latest version, in one transaction, one replica at a time.

    Returns the version the database is at."""
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        db.execute("CREATE TABLE IF NOT EXISTS strobe_schema (version INTEGER NOT NULL)")
        row = db.execute("SELECT max(version) FROM strobe_schema").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        if current > len(MIGRATIONS):
            log.warning(
                "database schema v%d is newer than this Strobe's (v%d)", current, len(MIGRATIONS)
            )
            return current
        for version in range(current + 1, len(MIGRATIONS) + 1):
            for statement in iter_statements(MIGRATIONS[version - 1]):
                db.execute(statement)
            log.info("database schema migrated to v%d", version)
        if current < len(MIGRATIONS):
            db.execute("DELETE FROM strobe_schema")
            db.execute("INSERT INTO strobe_schema (version) VALUES (%s)", (len(MIGRATIONS),))
        return max(current, len(MIGRATIONS))


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


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
