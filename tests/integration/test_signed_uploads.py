"""Signed PUT uploads (POST /signatures with `method: "put"`): a client with no API key
stores a file at the signed path, then a task runs on it; forged, expired, GET-signed,
oversized or non-media uploads are refused and store nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.storage import LocalStorage, open_storage
from pipeline.store import Store, open_store
from tests.integration.conftest import Samples

A = {"Authorization": "Bearer sk_a", "Accept-Version": "2025-08-20"}
LIMIT = 200_000  # bytes: the sample clip fits, a padded one does not


@pytest.fixture
def small_limit(settings: Settings) -> Settings:
    # JSON bodies far smaller than the upload limit: a signed PUT counts as an upload.
    return replace(settings, max_upload_bytes=LIMIT, max_json_bytes=1024)


@pytest.fixture
def storage(small_limit: Settings) -> LocalStorage:
    found = open_storage(small_limit.storage_url)
    assert isinstance(found, LocalStorage)
    return found


@pytest.fixture
def store(small_limit: Settings) -> Store:
    return open_store(small_limit.database_url)


@pytest.fixture
def client(small_limit: Settings, store: Store, storage: LocalStorage) -> Iterator[TestClient]:
    with TestClient(create_app(small_limit, store, storage)) as c:
        yield c


def put_url(client: TestClient, **body: Any) -> str:
    signed = client.post("/signatures", json={"method": "put", **body}, headers=A)
    assert signed.status_code == 201, signed.text
    assert signed.json()["method"] == "put"
    return str(signed.json()["url"])


def stored(storage: LocalStorage, store: Store) -> tuple[list[Path], int]:
    objects = [p for p in storage.root.rglob("*") if p.is_file()]
    return objects, store.list_files("prj_a", 1, 100).total


def test_a_signed_put_stores_the_file_without_the_key_and_a_task_runs_on_it(
    client: TestClient, samples: Samples, store: Store
) -> None:
    url = put_url(client, filename="clip.mp4", folder="phone/uploads")
    body = samples.clip.read_bytes()
    assert len(body) > 1024  # over the JSON limit, under the upload limit
    answer = client.put(url, content=body, headers={"Content-Type": "video/mp4"})  # no key
    assert answer.status_code == 201, answer.text
    file = answer.json()["data"]
    assert (file["kind"], file["filename"], file["folder"]) == (
        "video",
        "clip.mp4",
        "phone/uploads",
    )
    assert (file["width"], file["height"], file["filesize"]) == (160, 90, len(body))
    assert client.get(file["url"]).content == body  # the bytes as sent
    # The same path signed for GET serves it; a task takes it by id.
    got = client.post(
        "/signatures", json={"filename": "clip.mp4", "folder": "phone/uploads"}, headers=A
    ).json()["url"]
    assert client.get(got).content == body
    key_only = {"Authorization": A["Authorization"]}  # the task in the default dialect
    task = client.post("/tasks", json={"file_id": file["id"], "kind": "image"}, headers=key_only)
    assert task.status_code == 201, task.text
    assert store.get_task("prj_a", task.json()["data"]["id"]) is not None


def test_a_browser_on_another_origin_may_put(settings: Settings, samples: Samples) -> None:
    """The preflight for a cross-origin PUT with a Content-Type is answered."""
    on_cors = replace(settings, cors_origins=("https://app.example",))
    app = create_app(on_cors, open_store(on_cors.database_url), open_storage(on_cors.storage_url))
    with TestClient(app) as client:
        url = put_url(client, filename="clip.mp4")
        preflight = client.options(
            url,
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code in (200, 204), preflight.text
        assert "PUT" in preflight.headers["access-control-allow-methods"]
        assert "content-type" in preflight.headers["access-control-allow-headers"].lower()


def test_forged_expired_or_get_signed_urls_are_403_and_store_nothing(
    client: TestClient, samples: Samples, storage: LocalStorage, store: Store
) -> None:
    url = put_url(client, filename="clip.mp4")
    get_signed = client.post("/signatures", json={"filename": "clip.mp4"}, headers=A).json()
    soon = put_url(client, filename="clip.mp4", expiry=int(time.time()) + 1)
    time.sleep(max(0.0, int(soon.split("expiry=")[1].split("&")[0]) + 1.05 - time.time()))
    refused = [
        url.replace("clip.mp4", "other.mp4"),  # another path
        url.replace("/prj_a/", "/prj_b/"),  # another project
        url[:-1] + ("0" if url[-1] != "0" else "1"),  # the signature itself
        url.replace("expiry=", "expiry=9"),  # a later expiry
        get_signed["url"],  # signed for GET
        get_signed["url"].replace("method=get", "method=put"),
        soon,  # expired
    ]
    for bad in refused:
        answer = client.put(
            bad, content=samples.clip.read_bytes(), headers={"Content-Type": "video/mp4"}
        )
        assert answer.status_code == 403, (bad, answer.text)
        assert answer.json()["error"]["code"] == "forbidden"
    assert stored(storage, store) == ([], 0)


def test_oversized_uploads_are_413_and_store_nothing(
    client: TestClient, samples: Samples, storage: LocalStorage, store: Store
) -> None:
    url = put_url(client, filename="big.mp4")
    padded = samples.clip.read_bytes() + b"\0" * LIMIT
    declared = client.put(url, content=padded, headers={"Content-Type": "video/mp4"})
    assert declared.status_code == 413, declared.text

    def trickle() -> Iterator[bytes]:  # no Content-Length: the limit holds while it streams
        for start in range(0, len(padded), 16_384):
            yield padded[start : start + 16_384]

    streamed = client.put(url, content=trickle(), headers={"Content-Type": "video/mp4"})
    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["error"]["code"] == "payload_too_large"
    assert stored(storage, store) == ([], 0)
    assert not any((storage.root.parent / "uploads").glob("*/upload"))  # no temp file left


@pytest.mark.parametrize("content_type", ["text/html", "application/json", ""])
def test_non_media_content_types_are_refused(
    client: TestClient, content_type: str, storage: LocalStorage, store: Store
) -> None:
    url = put_url(client, filename="page.mp4")
    headers = {"Content-Type": content_type} if content_type else {}
    answer = client.put(url, content=b"<html>hi</html>", headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "content-type"
    assert stored(storage, store) == ([], 0)


def test_an_unsafe_name_cannot_be_signed_or_put(client: TestClient) -> None:
    for name in ("../escape.mp4", ".hidden", "a\\b.mp4"):
        signed = client.post("/signatures", json={"method": "put", "filename": name}, headers=A)
        assert signed.status_code == 422, (name, signed.text)
    forged = client.put(
        "/signed/prj_a/..%2F..%2Fescape.mp4?expiry=9999999999&method=put&signature=x",
        content=b"x",
        headers={"Content-Type": "video/mp4"},
    )
    assert forged.status_code == 403
