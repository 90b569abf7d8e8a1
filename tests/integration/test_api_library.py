"""Files (ingest from a URL, list, patch, delete), media and signatures, in-process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.storage import LocalStorage, open_storage
from pipeline.store import Store, open_store
from tests.integration.conftest import Samples

A = {"Authorization": "Bearer sk_a"}
B = {"Authorization": "Bearer sk_b"}
NEW = {"Accept-Version": "2025-08-20"}
A_NEW = {**A, **NEW}
FILE_FIELDS = {
    "id", "media_id", "object", "kind", "type", "codec", "container", "width", "height",
    "duration", "fps", "frames", "bitrate", "filesize", "ref", "folder", "filename", "url",
    "metadata", "created", "updated",
}  # fmt: skip


@pytest.fixture
def open_settings(settings: Settings) -> Settings:
    return replace(settings, allow_private_urls=True)  # the media server is on loopback


@pytest.fixture
def storage(open_settings: Settings) -> LocalStorage:
    found = open_storage(open_settings.storage_url)
    assert isinstance(found, LocalStorage)
    return found


@pytest.fixture
def store(open_settings: Settings) -> Store:
    return open_store(open_settings.database_url)


@pytest.fixture
def client(open_settings: Settings, store: Store, storage: LocalStorage) -> Iterator[TestClient]:
    with TestClient(create_app(open_settings, store, storage)) as c:
        yield c


def upload(client: TestClient, path: Path, query: str = "", headers: Any = A_NEW) -> Any:
    response = client.post(
        f"/files?filename={path.name}{query}", content=path.read_bytes(), headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_ingest_from_a_url_probes_and_groups_into_a_media(
    client: TestClient, samples: Samples, http_base: str
) -> None:
    url = f"{http_base}/integration/clip.mp4"
    body = {"url": url, "ref": "original", "folder": "in", "metadata": {"by": "me"}}
    file = client.post("/files", json=body, headers=A_NEW).json()
    assert set(file) >= FILE_FIELDS
    assert (file["object"], file["kind"], file["type"]) == ("source", "video", "video/mp4")
    assert (file["width"], file["height"], file["codec"]) == (160, 90, "h264")
    assert file["frames"] == 50 and file["filename"] == "clip.mp4"
    assert (file["ref"], file["folder"], file["metadata"]) == ("original", "in", {"by": "me"})
    assert client.get(file["url"]).content == samples.clip.read_bytes()
    media = client.get(f"/media/{file['media_id']}", headers=A_NEW).json()
    assert [f["id"] for f in media["files"]] == [file["id"]]
    # The link is signed again on each read (its expiry moves on): compare what it points at.
    assert list(media["urls"]) == ["original"] and media["width"] == 160
    assert urlsplit(media["urls"]["original"]).path == urlsplit(file["url"]).path
    assert client.get(f"/media/{file['media_id']}", headers=B).status_code == 404


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/integration/missing.mp4", 422, "input_unreachable"),
        ("http://10.0.0.1/a.mp4", 422, "input_forbidden"),
    ],
)
def test_ingest_failures_are_clear(
    client: TestClient,
    open_settings: Settings,
    store: Store,
    storage: LocalStorage,
    http_base: str,
    url: str,
    status: int,
    code: str,
) -> None:
    guarded = replace(open_settings, allow_private_urls=url.startswith("/"))
    with TestClient(create_app(guarded, store, storage)) as strict:
        full = f"{http_base}{url}" if url.startswith("/") else url
        response = strict.post("/files", json={"url": full}, headers=A)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_list_patch_and_delete_files(
    client: TestClient, samples: Samples, storage: LocalStorage, store: Store
) -> None:
    photo = upload(client, samples.photo, "&ref=poster")
    clip = upload(client, samples.clip)
    listed = client.get("/files?limit=1", headers=A_NEW)
    assert [f["id"] for f in listed.json()] == [clip["id"]]
    assert listed.headers["X-Total-Count"] == "2"
    assert client.get("/files", headers=B).json()["meta"]["total"] == 0
    old = client.get("/files", headers=A).json()
    assert [f["id"] for f in old["data"]] == [clip["id"], photo["id"]]
    change = {"ref": "cover", "folder": "a/b", "filename": "cover.jpg", "metadata": {"x": 1}}
    assert client.patch(f"/files/{photo['id']}", json=change, headers=B).status_code == 404
    patched = client.patch(f"/files/{photo['id']}", json=change, headers=A_NEW).json()
    assert {k: patched[k] for k in change} == change and patched["updated"] > photo["updated"]
    bad = client.patch(f"/files/{photo['id']}", json={"filename": "../x"}, headers=A)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "filename"
    record = store.get_file("prj_a", photo["id"])
    assert record is not None and storage.exists(record.storage_key)
    assert client.delete(f"/files/{photo['id']}", headers=B).status_code == 404
    gone = client.delete(f"/files/{photo['id']}", headers=A_NEW)
    assert gone.status_code == 200 and gone.json()["message"] == f"file {photo['id']} deleted"
    assert not storage.exists(record.storage_key)
    assert client.get(f"/files/{photo['id']}", headers=A).status_code == 404


def test_media_routes(client: TestClient, samples: Samples) -> None:
    made = client.post("/media", json={"title": "Intro", "metadata": {"k": 1}}, headers=A_NEW)
    assert made.status_code == 201
    media = made.json()
    assert media["id"].startswith("med_") and media["object"] == "media"
    assert (media["title"], media["files"], media["urls"]) == ("Intro", [], {})
    file = upload(client, samples.photo, f"&media_id={media['id']}&ref=still")
    assert file["media_id"] == media["id"]
    got = client.get(f"/media/{media['id']}", headers=A_NEW).json()
    assert got["urls"] == {"still": file["url"]} and got["width"] == 400
    patched = client.patch(f"/media/{media['id']}", json={"alt": "a still"}, headers=A_NEW)
    assert patched.json()["alt"] == "a still" and patched.json()["title"] == "Intro"
    listed = client.get("/media", headers=A).json()
    assert media["id"] in [m["id"] for m in listed["data"]]
    assert client.get("/media", headers=B).json()["data"] == []
    for method in ("patch", "delete"):
        kwargs: dict[str, Any] = {"json": {"alt": "x"}} if method == "patch" else {}
        other = client.request(method, f"/media/{media['id']}", headers=B, **kwargs)
        assert other.status_code == 404
    assert client.delete(f"/media/{media['id']}", headers=A_NEW).status_code == 200
    assert client.get(f"/media/{media['id']}", headers=A).status_code == 404
    assert client.get(f"/files/{file['id']}", headers=A_NEW).json()["media_id"] is None
    unknown = client.post(f"/files?filename=x.jpg&media_id={media['id']}", content=b"x", headers=A)
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "media_id"


def test_a_task_on_a_file_shares_its_media_and_shows_the_input(
    client: TestClient, samples: Samples
) -> None:
    file = upload(client, samples.photo)
    task = client.post(
        "/tasks", json={"file_id": file["id"], "format": "png", "ref": "png"}, headers=A_NEW
    ).json()
    assert task["input"]["id"] == file["id"] and task["input"]["media_id"] == file["media_id"]
    from_b = client.post("/tasks", json={"file_id": file["id"], "format": "png"}, headers=B)
    assert from_b.status_code == 422


def sign(client: TestClient, headers: Any = A_NEW, **body: Any) -> Any:
    response = client.post("/signatures", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_signed_url_serves_the_file_without_the_key(client: TestClient, samples: Samples) -> None:
    upload(client, samples.photo, "&folder=shots")
    signed = sign(client, filename="photo.jpg", folder="shots")
    assert set(signed) == {"domain", "filename", "folder", "expiry", "method", "signature", "url"}
    assert signed["method"] == "get" and signed["expiry"] > time.time()
    query = parse_qs(urlsplit(signed["url"]).query)
    assert query["expiry"] == [str(signed["expiry"])] and query["method"] == ["get"]
    response = client.get(signed["url"])  # no Authorization header
    assert response.status_code == 200 and response.content == samples.photo.read_bytes()
    assert response.headers["content-type"] == "image/jpeg"


def test_tampered_expired_or_foreign_signatures_are_refused(
    client: TestClient, samples: Samples
) -> None:
    upload(client, samples.photo, "&folder=shots")
    upload(client, samples.clip, "&folder=shots")
    signed = sign(client, filename="photo.jpg", folder="shots")["url"]
    tampered = [
        signed.replace("photo.jpg", "clip.mp4"),  # another file
        signed.replace("expiry=", "expiry=9"),  # a later expiry
        signed[:-1] + ("0" if signed[-1] != "0" else "1"),  # the signature itself
        signed.replace("/prj_a/", "/prj_b/"),  # another project
    ]
    for url in tampered:
        assert client.get(url).status_code == 401, url
    soon = sign(client, filename="photo.jpg", folder="shots", expiry=int(time.time()) + 1)
    time.sleep(max(0.0, soon["expiry"] + 1.05 - time.time()))
    assert client.get(soon["url"]).status_code == 401  # expired
    past = client.post("/signatures", json={"filename": "a.jpg", "expiry": 1}, headers=A)
    assert past.status_code == 422 and past.json()["error"]["field"] == "expiry"
    # B's key signs for B's project: A's file is not found there.
    theirs = sign(client, headers={**B, **NEW}, filename="photo.jpg", folder="shots")
    assert client.get(theirs["url"]).status_code == 404
    assert client.post("/signatures", json={"filename": "a.jpg"}).status_code == 401
