"""Conditional reads of the JSON API, as a poller uses them: the tag it holds answers 304 while
nothing has changed (even though every answer's links are signed anew), and 200 with a new tag
as soon as something has. Against the real app, store and local storage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.api.conditional import weak_etag
from pipeline.config import Settings
from pipeline.storage import open_storage
from pipeline.store import open_store
from tests.integration.conftest import Samples

A = {"Authorization": "Bearer sk_a"}
B = {"Authorization": "Bearer sk_b"}
V2025 = {"Accept-Version": "2025-08-20"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    settings = replace(settings, cors_origins=("http://console.test",))
    app = create_app(
        settings, open_store(settings.database_url), open_storage(settings.storage_url)
    )
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def uploaded(client: TestClient, samples: Samples) -> dict[str, Any]:
    data = samples.clip.read_bytes()
    response = client.post("/files?filename=clip.mp4", content=data, headers=A)
    assert response.status_code == 201, response.text
    file: dict[str, Any] = response.json()["data"]
    return file


def resigned(client: TestClient, path: str, before: str, headers: dict[str, str]) -> Any:
    """GET `path` until its file link is signed differently from `before` (the expiry counts
    in whole seconds), so the test sees two answers that differ only in their signatures."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = client.get(path, headers=headers)
        if before not in response.text:
            return response
        time.sleep(0.2)
    raise AssertionError("the link was never signed again")


@pytest.mark.parametrize(("path", "headers"), [("/files", A), ("/files", {**A, **V2025})])
def test_an_unchanged_list_is_304_though_its_links_were_signed_again(
    client: TestClient, uploaded: dict[str, Any], path: str, headers: dict[str, str]
) -> None:
    first = client.get(path, headers=headers)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    assert first.headers["Vary"] == "Authorization, Accept-Version"  # a cache keys on both
    again = resigned(client, path, uploaded["url"], {**headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag

    renamed = client.patch(f"/files/{uploaded['id']}", json={"filename": "renamed.mp4"}, headers=A)
    assert renamed.status_code == 200, renamed.text
    changed = client.get(path, headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert "renamed.mp4" in changed.text
    assert changed.headers["ETag"] != etag


def test_a_task_polled_with_its_tag_is_304_until_its_status_changes(
    client: TestClient, uploaded: dict[str, Any]
) -> None:
    made = client.post("/tasks", json={"kind": "image", "file_id": uploaded["id"]}, headers=A)
    path = f"/tasks/{made.json()['data']['id']}"
    etag = client.get(path, headers=A).headers["ETag"]
    for _ in range(3):
        assert client.get(path, headers={**A, "If-None-Match": etag}).status_code == 304
    listed = client.get("/tasks", headers=A).headers["ETag"]
    assert client.get("/tasks", headers={**A, "If-None-Match": listed}).status_code == 304

    assert client.delete(path, headers=A).status_code == 200  # cancelled: status error
    after = client.get(path, headers={**A, "If-None-Match": etag})
    assert after.status_code == 200
    assert after.json()["data"]["status"] == "error"
    assert client.get("/tasks", headers={**A, "If-None-Match": listed}).status_code == 200


def test_a_tag_from_one_query_or_project_does_not_answer_another(
    client: TestClient, uploaded: dict[str, Any]
) -> None:
    etag = client.get("/files", headers=A).headers["ETag"]
    other_page = client.get("/files?limit=5", headers={**A, "If-None-Match": etag})
    assert other_page.status_code == 200
    other_project = client.get("/files", headers={**B, "If-None-Match": etag})
    assert other_project.status_code == 200
    assert other_project.json()["data"] == []
    assert client.get("/files", headers={**A, "If-None-Match": "*"}).status_code == 304
    # The same file in the other dialect is another body (bare, not in an envelope).
    path = f"/files/{uploaded['id']}"
    tag_2024 = client.get(path, headers=A).headers["ETag"]
    other_dialect = client.get(path, headers={**A, **V2025, "If-None-Match": tag_2024})
    assert other_dialect.status_code == 200 and "meta" not in other_dialect.json()


def test_writes_errors_and_other_tags_are_answered_in_full(
    client: TestClient, uploaded: dict[str, Any]
) -> None:
    path = f"/files/{uploaded['id']}"
    etag = client.get(path, headers=A).headers["ETag"]
    assert client.get(path, headers={**A, "If-None-Match": 'W/"other", "x"'}).status_code == 200
    missing = client.get("/files/file_missing", headers={**A, "If-None-Match": etag})
    assert missing.status_code == 404 and "ETag" not in missing.headers
    made = client.post("/tasks", json={"kind": "image", "file_id": uploaded["id"]}, headers=A)
    assert made.status_code == 201 and "ETag" not in made.headers
    refused = client.get(path, headers={"If-None-Match": etag})  # no key: 401, not 304
    assert refused.status_code == 401


def test_a_browser_on_an_allowed_origin_may_send_if_none_match(client: TestClient) -> None:
    preflight = client.options(
        "/tasks",
        headers={
            "Origin": "http://console.test",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, if-none-match",
        },
    )
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "if-none-match" in allowed
    answer = client.get("/tasks", headers={**A, "Origin": "http://console.test"})
    assert "etag" in answer.headers["access-control-expose-headers"].lower()


def test_the_tag_turns_over_each_quarter_of_the_links_lifetime() -> None:
    said = {"url": "https://x/files/file_1/content?expires=10&signature=s"}
    signed = {said["url"]: "<file_1>"}
    resigned_said = {"url": "https://x/files/file_1/content?expires=11&signature=t"}
    resigned_map = {resigned_said["url"]: "<file_1>"}
    at = 1_000_000.0
    assert weak_etag(said, signed, 3600, now=at) == weak_etag(
        resigned_said, resigned_map, 3600, now=at + 1
    )
    # A client answered 304 holds links signed at most 900 s (a quarter of 3600) before.
    assert weak_etag(said, signed, 3600, now=at) != weak_etag(said, signed, 3600, now=at + 900)
    assert weak_etag(said, signed, 3600, now=at) != weak_etag({"url": "other"}, {}, 3600, now=at)
