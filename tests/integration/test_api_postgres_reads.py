"""The API on PostgreSQL answers GET /tasks/{id} from its async pool, on the event loop:
one query and no worker-thread read (docs/ARCHITECTURE.md, "The request path")."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.storage import open_storage
from pipeline.store import open_store
from pipeline.store.postgres import PostgresReads
from tests.support.postgres import create_database, drop_database

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
