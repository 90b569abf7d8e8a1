"""New tasks created at once on many threads: each call returns only once its own task is
committed, and a task that cannot be inserted fails its own call only, on every store."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from pipeline.store.port import TaskRecord
from tests.contract.conftest import StoreOpener
from tests.support.records import task_record


def test_concurrent_creates_commit_and_a_duplicate_fails_alone(open_store: StoreOpener) -> None:
    store = open_store()
    existing = task_record()
    store.create_task(existing)
    tasks = [task_record(n=n) for n in range(40)]
    tasks[17] = replace(tasks[17], id=existing.id)  # its insert must fail
    start = threading.Barrier(len(tasks))

    def create(task: TaskRecord) -> TaskRecord | None:
        start.wait(10)
        store.create_task(task)
        return store.get_task(task.project_id, task.id)  # committed when the call returned

    with ThreadPoolExecutor(len(tasks)) as pool:
        futures = [pool.submit(create, task) for task in tasks]
        for n, (task, future) in enumerate(zip(tasks, futures, strict=True)):
            if n == 17:
                with pytest.raises(Exception):  # noqa: B017 - each driver names it its own way
                    future.result(timeout=60)
            else:
                found = future.result(timeout=60)
                assert found is not None and found.id == task.id

    again = open_store()  # another connection sees every committed task
    assert again.get_task("prj_a", existing.id) == store.get_task("prj_a", existing.id)
    for n, task in enumerate(tasks):
        if n != 17:
            assert again.get_task("prj_a", task.id) is not None
