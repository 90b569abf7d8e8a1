"""Group commit: rows written at once on several threads share one transaction, so one
commit (one fsync, one round of the log) for many requests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, TypeVar

Row = TypeVar("Row")


class GroupCommit(Generic[Row]):
    """Whoever takes `write_lock` commits every row queued by then through `commit_rows`,
    in one transaction; each `write` returns once its own row is committed and raises only
    if its own row failed (a failed batch is retried row by row, so one bad row fails only
    its own request). While one batch commits, the next one gathers."""

    def __init__(
        self,
        write_lock: AbstractContextManager[object],
        commit_rows: Callable[[list[Row]], None],
    ) -> None:
        self._write_lock = write_lock
        self._commit_rows = commit_rows
        self._queue_lock = threading.Lock()
        self._queued: list[_Queued[Row]] = []

    def write(self, row: Row) -> None:
        mine = _Queued(row)
        with self._queue_lock:
            self._queued.append(mine)
        with self._write_lock:
            if not mine.done:
                with self._queue_lock:
                    batch, self._queued = self._queued, []
                self._commit(batch)
        if mine.error is not None:
            raise mine.error

    def _commit(self, batch: list[_Queued[Row]]) -> None:
        try:
            self._commit_rows([queued.row for queued in batch])
        except Exception as exc:
            if len(batch) > 1:  # each alone, so a bad one fails only its own request
                for queued in batch:
                    self._commit([queued])
                return
            batch[0].error = exc
        for queued in batch:
            queued.done = True


@dataclass
class _Queued(Generic[Row]):
    row: Row
    done: bool = False
    error: Exception | None = None
