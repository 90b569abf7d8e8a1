"""What only the PostgreSQL store has to get right: schema creation by replicas starting at
once, migrations, a database that is down at start, and a server that restarts under it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from pipeline.store import open_store
from pipeline.store.migrations import MIGRATIONS
from pipeline.store.postgres import DatabaseUnavailable, PostgresStore
from tests.support.postgres import create_database, drop_database, postgres_server
from tests.support.records import output_for, task_record


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    url = create_database(postgres_url)
    yield url
    drop_database(url)


def schema_versions(url: str) -> list[int]:
    with psycopg.connect(url) as db:
        return [row[0] for row in db.execute("SELECT version FROM strobe_schema").fetchall()]


def test_replicas_starting_at_once_create_the_schema_once(database: str) -> None:
    replicas = 6
    start = threading.Barrier(replicas)
    stores: list[PostgresStore] = []
    errors: list[BaseException] = []

    def replica() -> None:
        start.wait(10)
        try:
            stores.append(PostgresStore(database))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert errors == []
        assert len(stores) == replicas
        assert schema_versions(database) == [len(MIGRATIONS)]
        task = task_record()
        stores[0].create_task(task)
        assert all(store.get_task(task.project_id, task.id) == task for store in stores)
    finally:
        for store in stores:
            store.close()


def test_reopening_keeps_the_data_and_the_version(database: str) -> None:
    first = PostgresStore(database)
    task = task_record()
    first.create_task(task)
    first.close()

    again = open_store(database.replace("postgresql://", "postgres://", 1))
    assert isinstance(again, PostgresStore)
    try:
        assert again.get_task(task.project_id, task.id) == task
        assert schema_versions(database) == [len(MIGRATIONS)]
    finally:
        again.close()


def test_a_schema_from_a_newer_strobe_is_left_alone(database: str) -> None:
    PostgresStore(database).close()
    with psycopg.connect(database) as db:
        db.execute("UPDATE strobe_schema SET version = 999")
    PostgresStore(database).close()
    assert schema_versions(database) == [999]


def test_a_refused_connection_fails_at_once_with_a_clear_message() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match="cannot connect to PostgreSQL.*refused"):
        open_store(f"postgresql://strobe@127.0.0.1:{port}/strobe")
    assert time.monotonic() - started < 3


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as sock:  # accepts TCP connections (backlog) and never speaks
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        url = f"postgresql://strobe@127.0.0.1:{sock.getsockname()[1]}/strobe"
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable, match="cannot connect to PostgreSQL"):
            PostgresStore(url, connect_timeout_s=2)
        assert time.monotonic() - started < 8


def test_the_store_reconnects_after_the_server_restarts() -> None:
    with postgres_server() as server:
        url = create_database(server.url())
        store = PostgresStore(url, max_size=2)
        try:
            waiting, leased = task_record(n=0), task_record(n=1)
            store.create_task(leased)
            [taken] = store.lease("w1", ["image"], 1, 60, 3)
            assert store.get_task(waiting.project_id, leased.id) == taken

            server.restart()  # every pooled connection is now dead

            store.create_task(waiting)
            assert store.heartbeat(taken.id, "w1", 60)
            assert store.complete(taken.id, "w1", output_for(taken))
            [next_one] = store.lease("w1", ["image"], 1, 60, 3)
            assert next_one.id == waiting.id
            done = store.get_task(leased.project_id, leased.id)
            assert done is not None and done.status == "ready"
        finally:
            store.close()
