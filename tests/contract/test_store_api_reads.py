"""`Store.api_reads()`: the API's event-loop reads return what the synchronous reads do, on
every adapter; on PostgreSQL its async pool is bounded and survives a server restart."""

from __future__ import annotations

import asyncio
import time

import pytest

from pipeline.store import Store
from pipeline.store.postgres import PostgresStore
from tests.contract.conftest import StoreOpener
from tests.support.postgres import create_database, postgres_server
from tests.support.records import file_record, output_for, task_record


async def _read(store: Store, project: str, task_id: str) -> tuple[object, object]:
    async with store.api_reads() as reads:
        return await reads.task_with_input(project, task_id)


def test_a_task_with_its_input_file_and_output(open_store: StoreOpener) -> None:
    store = open_store()
    source = file_record(project_id="prj_a")
    store.create_file(source)
    task = task_record(input_file_id=source.id)
    store.create_task(task)
    [leased] = store.lease("w1", ["image"], 1, 60, 3)
    assert store.complete(leased.id, "w1", output_for(leased))

    expected = (store.get_task("prj_a", task.id), store.get_file("prj_a", source.id))
    assert expected[0] is not None and expected[0].output is not None
    assert expected[1] is not None
    assert store.get_task_with_input("prj_a", task.id) == expected
    assert asyncio.run(_read(store, "prj_a", task.id)) == expected


def test_a_task_without_an_input_file(open_store: StoreOpener) -> None:
    store = open_store()
    task = task_record()
    store.create_task(task)
    expected = (store.get_task("prj_a", task.id), None)
    assert store.get_task_with_input("prj_a", task.id) == expected
    assert asyncio.run(_read(store, "prj_a", task.id)) == expected


def test_another_projects_task_or_none_is_not_found(open_store: StoreOpener) -> None:
    store = open_store()
    task = task_record(project_id="prj_a")
    store.create_task(task)
    assert store.get_task_with_input("prj_b", task.id) == (None, None)
    assert asyncio.run(_read(store, "prj_b", task.id)) == (None, None)
    assert asyncio.run(_read(store, "prj_a", "tsk_missing")) == (None, None)


def test_postgres_reads_recover_after_the_server_restarts() -> None:
    with postgres_server() as server:
        store = PostgresStore(create_database(server.url()), max_size=2, api_pool_size=2)
        try:
            task = task_record()
            store.create_task(task)

            async def scenario() -> None:
                async with store.api_reads() as reads:
                    found, _ = await reads.task_with_input("prj_a", task.id)
                    assert found is not None and found.id == task.id
                    server.restart()  # every pooled connection is now dead
                    found, _ = await reads.task_with_input("prj_a", task.id)
                    assert found is not None and found.id == task.id

            asyncio.run(scenario())
        finally:
            store.close()


def test_postgres_reads_fail_fast_when_the_pool_is_exhausted(postgres_url: str) -> None:
    store = PostgresStore(create_database(postgres_url), api_pool_size=1, api_wait_s=0.5)
    try:
        task = task_record()
        store.create_task(task)

        async def scenario() -> float:
            async with store.api_reads() as reads:
                pool = reads._pool  # hold its only connection
                async with pool.connection():
                    started = time.monotonic()
                    with pytest.raises(Exception, match="couldn't get a connection"):
                        await reads.task_with_input("prj_a", task.id)
                    return time.monotonic() - started

        assert asyncio.run(scenario()) < 3
    finally:
        store.close()
