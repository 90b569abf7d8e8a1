"""`ApiReads` built on a store's own synchronous reads (see docs/ARCHITECTURE.md).

`LocalReads` runs them on the event loop: right only where a read by primary key is local
and takes microseconds (SQLite, a file on this machine, WAL readers never waiting).
`ThreadReads` runs them on a worker thread: right anywhere, and what the API uses until its
lifespan has opened the store's own `api_reads()` (an app driven without its lifespan).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anyio import to_thread

from pipeline.store.port import FileRecord, TaskRecord

if TYPE_CHECKING:
    from pipeline.store.port import Store


class LocalReads:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def task_with_input(
        self, project_id: str, task_id: str
    ) -> tuple[TaskRecord | None, FileRecord | None]:
        return self._store.get_task_with_input(project_id, task_id)


class ThreadReads:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def task_with_input(
        self, project_id: str, task_id: str
    ) -> tuple[TaskRecord | None, FileRecord | None]:
        return await to_thread.run_sync(self._store.get_task_with_input, project_id, task_id)
