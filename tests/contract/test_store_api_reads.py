"""`Store.api_reads()`: the API's event-loop reads return what the synchronous reads do, on
every adapter; on PostgreSQL its async pool is bounded and survives a server restart."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
import pytest

from pipeline.store import Store, StoreUnavailable
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


def test_concurrent_reads_each_get_their_own_task(open_store: StoreOpener) -> None:
    """Many readers at once, some of the same id, some of another project's task or of none:
    on PostgreSQL they share queries, and each must still get exactly its own answer."""
    store = open_store()
    tasks = [task_record(project_id=("prj_a", "prj_b")[n % 2]) for n in range(30)]
    for task in tasks:
        store.create_task(task)
    asks = [(task.project_id, task.id) for task in tasks] * 4
    asks += [("prj_b" if p == "prj_a" else "prj_a", t) for p, t in asks[:30]]  # wrong project
    asks += [("prj_a", f"tsk_missing{n}") for n in range(10)]

    async def scenario() -> list[tuple[object, object]]:
        async with store.api_reads() as reads:
            return await asyncio.gather(*(reads.task_with_input(p, t) for p, t in asks))

    answers = asyncio.run(scenario())
    for (project, task_id), (found, input_file) in zip(asks, answers, strict=True):
        expected = store.get_task(project, task_id)
        assert found == expected and input_file is None, (project, task_id)
    assert sum(found is not None for found, _ in answers) == 120


def test_postgres_reads_share_queries_under_load(postgres_url: str) -> None:
    store = PostgresStore(create_database(postgres_url), api_pool_size=2)
    try:
        tasks = [task_record() for _ in range(50)]
        for task in tasks:
            store.create_task(task)

        async def scenario() -> int:
            async with store.api_reads() as reads:
                queries = 0
                query = reads._query

                async def counted(*args: Any) -> Any:
                    nonlocal queries
                    queries += 1
                    return await query(*args)

                reads._query = counted  # type: ignore[method-assign]
                found = await asyncio.gather(
                    *(reads.task_with_input("prj_a", t.id) for t in tasks * 4)
                )
                assert [f.id for f, _ in found] == [t.id for t in tasks * 4]  # type: ignore[union-attr]
                return queries

        assert asyncio.run(scenario()) <= 10  # 200 reads; 4 queries start before any returns
    finally:
        store.close()


def test_postgres_reads_end_at_their_deadline_when_the_database_hangs(postgres_url: str) -> None:
    """A table lock held by another session makes every read hang in the server: each read
    ends as StoreUnavailable at its deadline, readers past the queue bound at once, and reads
    work again once the lock is gone."""
    url = create_database(postgres_url)
    store = PostgresStore(url, api_pool_size=2, api_read_s=1.0, api_max_waiting=20)
    try:
        task = task_record()
        store.create_task(task)

        async def scenario() -> None:
            async with store.api_reads() as reads:
                assert (await reads.task_with_input("prj_a", task.id))[0] is not None
                with psycopg.connect(url, autocommit=True) as locker, locker.transaction():
                    locker.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
                    started = time.monotonic()
                    hung = [
                        asyncio.ensure_future(reads.task_with_input("prj_a", task.id))
                        for _ in range(20)
                    ]
                    await asyncio.sleep(0)
                    with pytest.raises(StoreUnavailable, match="already waiting"):
                        await reads.task_with_input("prj_a", task.id)  # the 21st: at once
                    assert time.monotonic() - started < 0.5
                    results = await asyncio.gather(*hung, return_exceptions=True)
                    assert all(isinstance(r, StoreUnavailable) for r in results), results
                    assert time.monotonic() - started < 5
                found, _ = await reads.task_with_input("prj_a", task.id)
                assert found is not None and found.id == task.id

        asyncio.run(scenario())
    finally:
        store.close()
