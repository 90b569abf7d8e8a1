"""The API on PostgreSQL answers GET /tasks/{id} from its async pool, on the event loop:
one query and no worker-thread read (docs/ARCHITECTURE.md, "The request path"); with the
database away it answers 503 and recovers by itself."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.storage import open_storage
from pipeline.store import open_store
from pipeline.store.postgres import PostgresReads, PostgresStore
from tests.support.postgres import create_database, drop_database, postgres_server

A = {"Authorization": "Bearer sk_a", "Content-Type": "application/json"}


def test_get_task_reads_through_the_async_pool(
    settings: Settings, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = create_database(postgres_url)
    on_pg = replace(settings, database_url=url)
    store = open_store(url)
    try:
        app = create_app(on_pg, store, open_storage(on_pg.storage_url))
        with TestClient(app) as client:
            assert isinstance(app.state.reads, PostgresReads)
            body = {"url": "https://media.example.com/video.mp4", "kind": "thumbnails"}
            created = client.post("/tasks", content=json.dumps(body), headers=A)
            assert created.status_code == 201, created.text
            task_id = created.json()["data"]["id"]

            def on_a_thread(*args: object) -> None:
                raise AssertionError("GET /tasks/{id} read the store synchronously")

            for name in ("get_task", "get_file", "get_task_with_input"):
                monkeypatch.setattr(store, name, on_a_thread)
            found = client.get(f"/tasks/{task_id}", headers=A)
            assert found.status_code == 200, found.text
            assert found.json()["data"] == created.json()["data"]
            assert client.get("/tasks/tsk_missing", headers=A).status_code == 404
            other = client.get(f"/tasks/{task_id}", headers={"Authorization": "Bearer sk_b"})
            assert other.status_code == 404  # another project's task
        assert not isinstance(app.state.reads, PostgresReads)  # closed with the lifespan
    finally:
        store.close()
        drop_database(url)


def test_the_database_away_is_a_503_with_retry_after_then_back(settings: Settings) -> None:
    """PostgreSQL stopped under a running API: reads, lists and creates answer 503
    `database_unavailable` with Retry-After within their deadlines, never a 500 or a hang;
    once it is back, the same requests succeed without restarting the API."""
    with postgres_server() as server:
        url = create_database(server.url())
        store = PostgresStore(url, connect_timeout_s=2, wait_s=2.0, api_wait_s=1.0)
        on_pg = replace(settings, database_url=url)
        try:
            app = create_app(on_pg, store, open_storage(on_pg.storage_url))
            with TestClient(app) as client:
                body = json.dumps({"url": "https://media.example.com/a.mp4", "kind": "video"})
                created = client.post("/tasks", content=body, headers=A)
                assert created.status_code == 201, created.text
                task_id = created.json()["data"]["id"]

                server.stop()
                for method, path in (
                    ("GET", f"/tasks/{task_id}"),
                    ("GET", "/tasks"),
                    ("POST", "/tasks"),
                ):
                    started = time.monotonic()
                    answer = client.request(method, path, content=body, headers=A)
                    assert answer.status_code == 503, (path, answer.text)
                    error = answer.json()["error"]
                    assert error["code"] == "database_unavailable", error
                    assert "postgres" not in error["message"].lower()  # nothing internal
                    assert answer.headers["Retry-After"] == "1"
                    assert time.monotonic() - started < 15, path

                server.start()
                deadline = time.monotonic() + 30
                while (found := client.get(f"/tasks/{task_id}", headers=A)).status_code == 503:
                    assert time.monotonic() < deadline, "the API did not reconnect"
                    time.sleep(0.5)
                assert found.status_code == 200 and found.json()["data"]["id"] == task_id
                # Writes use their own pool, which may still be reconnecting: a 503 with
                # Retry-After until it has, within the same deadline, and nothing written.
                while (again := client.post("/tasks", content=body, headers=A)).status_code == 503:
                    assert time.monotonic() < deadline, "writes did not come back"
                    assert again.headers["Retry-After"] == "1"
                    time.sleep(1.0)
                assert again.status_code == 201, again.text
                assert client.get("/tasks", headers=A).json()["meta"]["total"] == 2
        finally:
            store.close()
