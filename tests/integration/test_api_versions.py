"""`Accept-Version` dialects, task `ref`/`folder`, and `Idempotency-Key`, in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.storage import open_storage
from pipeline.store import Store, TaskQuery, open_store

A = {"Authorization": "Bearer sk_a"}
B = {"Authorization": "Bearer sk_b"}
NEW = {"Accept-Version": "2025-08-20"}
URL = "https://media.example.com/video.mp4"


@pytest.fixture
def store(settings: Settings) -> Store:
    return open_store(settings.database_url)


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store, open_storage(settings.storage_url))) as c:
        yield c


def post(client: TestClient, body: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post("/tasks", json=body, headers={**A, **(headers or {})})


def test_no_header_answers_the_2024_envelope_and_says_so(client: TestClient) -> None:
    response = post(client, {"url": URL, "format": "jpeg"})
    assert response.status_code == 201
    assert response.headers["Strobe-Version"] == "2024-08-21"
    assert set(response.json()) == {"meta", "data", "links"}
    assert response.json()["meta"]["version"] == "2024-08-21"


def test_2025_answers_bare_objects(client: TestClient) -> None:
    body = {"url": URL, "kind": "image", "width": 320, "ref": "thumb", "folder": "posters"}
    response = post(client, body, NEW)
    assert response.status_code == 201 and response.headers["Strobe-Version"] == "2025-08-20"
    task = response.json()
    assert set(task) >= {"id", "object", "kind", "input", "options", "output", "status"}
    assert set(task) >= {"progress", "error", "created", "updated"}
    assert (task["object"], task["kind"], task["status"], task["progress"]) == (
        "task",
        "image",
        "waiting",
        0,
    )
    assert task["options"] == {"width": 320, "format": "jpeg", "ref": "thumb", "folder": "posters"}
    assert task["input"]["url"] == URL and task["input"]["media_id"].startswith("med_")
    assert task["output"] is None and task["error"] is None
    assert client.get(f"/tasks/{task['id']}", headers={**A, **NEW}).json() == task


def test_the_same_task_in_both_dialects_describes_the_same_thing(client: TestClient) -> None:
    new = post(client, {"url": URL, "format": "png", "width": 64, "ref": "small"}, NEW).json()
    old = client.get(f"/tasks/{new['id']}", headers=A).json()["data"]
    for name in ("id", "object", "kind", "status", "progress", "created", "updated"):
        assert old[name] == new[name], name
    assert old["input"] == new["input"]["url"]
    assert old["output"]["ref"] == "small"
    assert old["output"] == {"kind": "image", **new["options"]}


def test_ref_and_folder_are_checked(client: TestClient) -> None:
    bad = post(client, {"url": URL, "format": "jpeg", "ref": "no spaces"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "ref"
    bad = post(client, {"url": URL, "format": "jpeg", "folder": "/abs"}, NEW)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "folder"


@pytest.mark.parametrize("path", ["/tasks", "/files", "/media", "/health", "/tasks/tsk_nope"])
def test_an_unknown_version_is_a_400_naming_the_supported_ones(
    client: TestClient, path: str
) -> None:
    response = client.get(path, headers={**A, "Accept-Version": "2023-01-01"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unsupported_version"
    assert "2024-08-21" in error["message"] and "2025-08-20" in error["message"]
    assert response.headers["Strobe-Version"] == "2024-08-21"


def test_errors_in_2025_are_bare_and_name_the_version(client: TestClient) -> None:
    response = client.get("/tasks/tsk_nope", headers={**A, **NEW})
    assert response.status_code == 404 and response.headers["Strobe-Version"] == "2025-08-20"
    assert response.json() == {
        "error": {"code": "not_found", "message": "no task with id 'tsk_nope'"},
        "status": 404,
    }
    assert client.get("/tasks", headers=NEW).json()["error"]["code"] == "unauthorized"
    # The SDKs send ACCEPT_VERSION too when built with `version=`.
    assert client.get("/health", headers={"ACCEPT_VERSION": "2025-08-20"}).json() == {
        "status": "ok"
    }


def test_2025_lists_are_bare_arrays_with_link_headers(client: TestClient) -> None:
    ids = [post(client, {"url": URL, "format": "jpeg"}).json()["data"]["id"] for _ in range(3)]
    response = client.get("/tasks?limit=2&page=1", headers={**A, **NEW})
    assert [t["id"] for t in response.json()] == ids[::-1][:2]
    assert response.headers["X-Total-Count"] == "3"
    links = response.headers["Link"]
    assert 'page=2&limit=2>; rel="next"' in links and 'rel="prev"' not in links
    last = client.get("/tasks?limit=2&page=2", headers={**A, **NEW})
    assert [t["id"] for t in last.json()] == [ids[0]]
    assert 'page=1&limit=2>; rel="prev"' in last.headers["Link"]
    old = client.get("/tasks?limit=2", headers=A).json()
    assert old["meta"]["total"] == 3 and old["links"]["next"].endswith("page=2")


def test_an_idempotent_retry_returns_the_first_task_and_creates_one(
    client: TestClient, store: Store
) -> None:
    body = {"url": URL, "format": "jpeg"}
    key = {"Idempotency-Key": "order-42", **NEW}
    first = post(client, body, key)
    again = post(client, body, key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert store.list_tasks("prj_a", TaskQuery()).total == 1
    other = post(client, {**body, "width": 10}, key)
    assert other.status_code == 422 and other.json()["error"]["field"] == "Idempotency-Key"
    # Keys are per project: B's same key makes B's own task.
    theirs = client.post("/tasks", json=body, headers={**B, **key})
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    assert store.list_tasks("prj_a", TaskQuery()).total == 1


def test_a_failed_request_is_not_remembered(client: TestClient, store: Store) -> None:
    key = {"Idempotency-Key": "k-1"}
    assert post(client, {"url": URL, "format": "gif"}, key).status_code == 422
    body = {"url": URL, "format": "jpeg"}
    # Same key, new body: the failed one left nothing behind, so this one runs.
    created = post(client, body, key)
    assert created.status_code == 201
    assert post(client, body, key).json() == created.json()
    assert store.list_tasks("prj_a", TaskQuery()).total == 1


def test_post_without_a_key_creates_each_time(client: TestClient, store: Store) -> None:
    raw = json.dumps({"url": URL, "format": "jpeg"})
    for _ in range(2):
        headers = {**A, "Content-Type": "application/json"}
        assert client.post("/tasks", content=raw, headers=headers).status_code == 201
    assert store.list_tasks("prj_a", TaskQuery()).total == 2
