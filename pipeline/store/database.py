"""One SQL database as the store's roles use it: connections, transactions, placeholders and
row locks. Each role (pipeline/store/sql*.py) holds one and writes its SQL with `?`
placeholders; the SQLite and PostgreSQL adapters each supply one (docs/ARCHITECTURE.md)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor: ...


class Database(ABC):
    lock_clause = ""  # queue claims: rows another worker holds are skipped (SKIP LOCKED)
    row_lock = ""  # single-row updates: wait for the row (FOR UPDATE)
    float_type = "REAL"  # the schema's floating point type

    @abstractmethod
    def connect(self) -> AbstractContextManager[Connection]:
        """A connection for reads (autocommit)."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Connection]:
        """A connection inside one write transaction, committed on exit."""

    @property
    @abstractmethod
    def group_lock(self) -> AbstractContextManager[object]:
        """What a group commit of new tasks holds while it writes (group_commit.py)."""

    def pipelined(self, db: Connection) -> AbstractContextManager[object]:
        """Statements sent together in one round trip where the driver can (PostgreSQL)."""
        return nullcontext()

    def sql(self, sql: str) -> str:
        """`?` placeholders in the driver's style."""
        return sql

    def run(self, db: Connection, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return db.execute(self.sql(sql), tuple(params))
