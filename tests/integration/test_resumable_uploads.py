"""Resumable uploads by tus, through a real uvicorn server on loopback: the `tuspy` client
uploads and resumes; raw requests attack each rule."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from tusclient.client import TusClient

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.resumable import ResumableUploads
from pipeline.storage import open_storage
from pipeline.store import open_store
from tests.integration.conftest import Samples
from tests.support.api_server import serve_app

KEY = {"Authorization": "Bearer sk_a"}
TUS = {**KEY, "Tus-Resumable": "1.0.0"}
CHUNK = {**TUS, "Content-Type": "application/offset+octet-stream"}


@pytest.fixture
def api(settings: Settings) -> Iterator[str]:
    store, storage = open_store(settings.database_url), open_storage(settings.storage_url)
    with serve_app(create_app(settings, store, storage)) as url:
        yield url


@pytest.fixture
def http(api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api, timeout=30) as client:
        yield client


def metadata(**pairs: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


def create(http: httpx.Client, length: int, **pairs: str) -> str:
    answer = http.post(
        "/uploads",
        headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata(**pairs)},
    )
    assert answer.status_code == 201, answer.text
    return urlsplit(answer.headers["Location"]).path


def offset(http: httpx.Client, where: str, headers: dict[str, str] = TUS) -> httpx.Response:
    return http.head(where, headers=headers)


def test_tuspy_uploads_in_chunks_and_resumes_after_stopping(
    api: str, http: httpx.Client, samples: Samples
) -> None:
    data = samples.clip_with_audio.read_bytes()
    client = TusClient(f"{api}/uploads", headers=KEY)
    first = client.uploader(
        file_path=str(samples.clip_with_audio),
        chunk_size=16 * 1024,
        metadata={"filename": "clip.mp4", "filetype": "video/mp4"},
    )
    first.upload(stop_at=32 * 1024)  # the client stops half way (a closed laptop)
    assert first.url is not None
    where = urlsplit(first.url).path
    assert offset(http, where).headers["Upload-Offset"] == str(32 * 1024)

    again = client.uploader(
        file_path=str(samples.clip_with_audio), url=first.url, chunk_size=16 * 1024
    )
    again.upload()  # resumes from the server's offset
    done = offset(http, where)
    assert done.headers["Upload-Offset"] == str(len(data)) == done.headers["Upload-Length"]
    file_id = done.headers["Strobe-File-Id"]
    file = http.get(f"/files/{file_id}", headers=KEY).json()["data"]
    assert (file["kind"], file["width"], file["filename"]) == ("video", 160, "clip.mp4")
    assert file["media_id"] == done.headers["Strobe-Media-Id"]
    assert http.get(f"/files/{file_id}/content", headers=KEY).content == data


def test_bytes_of_a_patch_cut_off_half_way_are_kept(api: str, http: httpx.Client) -> None:
    where = create(http, 100_000, filename="big.bin")
    host, port = urlsplit(api).hostname or "", urlsplit(api).port or 0
    head = (
        f"PATCH {where} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer sk_a\r\n"
        "Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"
        "Upload-Offset: 0\r\nContent-Length: 100000\r\n\r\n"
    )
    with socket.create_connection((host, port), timeout=10) as raw:
        raw.sendall(head.encode() + b"x" * 30_000)
    deadline_tries = 50
    while offset(http, where).headers["Upload-Offset"] != "30000" and deadline_tries:
        deadline_tries -= 1
        httpx.get(f"{api}/health")  # let the server notice the closed connection
    assert offset(http, where).headers["Upload-Offset"] == "30000"
    rest = http.patch(where, headers={**CHUNK, "Upload-Offset": "30000"}, content=b"y" * 70_000)
    assert rest.status_code == 204 and rest.headers["Upload-Offset"] == "100000"
    assert "Strobe-File-Id" in rest.headers  # not media, kept as a plain file like POST /files


def test_each_rule_refuses_and_loses_nothing(http: httpx.Client, settings: Settings) -> None:
    where = create(http, 10, filename="ten.bin")
    cases = [
        ({**CHUNK, "Upload-Offset": "3"}, b"abc", 409),  # not where the upload is
        ({**TUS, "Content-Type": "text/plain", "Upload-Offset": "0"}, b"abc", 415),
        ({**CHUNK, "Upload-Offset": "0"}, b"x" * 11, 413),  # beyond the declared length
        ({**KEY, "Content-Type": CHUNK["Content-Type"], "Upload-Offset": "0"}, b"abc", 412),
        ({**CHUNK, "Upload-Offset": "-1"}, b"abc", 422),
        ({**CHUNK, "Authorization": "Bearer sk_b", "Upload-Offset": "0"}, b"abc", 404),
    ]
    for headers, body, status in cases:
        answer = http.patch(where, headers=headers, content=body)
        assert answer.status_code == status, (headers, answer.text)
        assert offset(http, where).headers["Upload-Offset"] == "0", headers
    with ResumableUploads(settings.data_dir / "uploads" / "resumable").writing(
        ResumableUploads(settings.data_dir / "uploads" / "resumable").get(
            "prj_a", where.split("/")[-1]
        )  # type: ignore[arg-type]
    ):  # another request holds the upload
        busy = http.patch(where, headers={**CHUNK, "Upload-Offset": "0"}, content=b"abc")
    assert busy.status_code == 409 and "another request" in busy.json()["error"]["message"]
    ok = http.patch(where, headers={**CHUNK, "Upload-Offset": "0"}, content=b"0123456789")
    assert ok.status_code == 204 and "Strobe-File-Id" in ok.headers
    late = http.patch(where, headers={**CHUNK, "Upload-Offset": "10"}, content=b"more")
    assert late.status_code == 409  # finished: nothing more is taken


@pytest.mark.parametrize(
    ("headers", "status", "field"),
    [
        ({"Upload-Length": str(3 * 1024**3)}, 413, None),
        ({"Upload-Length": "ten"}, 422, "upload-length"),
        ({"Upload-Defer-Length": "1"}, 422, "upload-defer-length"),
        ({"Upload-Length": "5", "Upload-Metadata": metadata(filename="../../etc/passwd")}, 422,
         "upload-metadata"),
        ({"Upload-Length": "5", "Upload-Metadata": "filename !!notbase64"}, 422, "upload-metadata"),
        ({"Upload-Length": "5", "Upload-Metadata": "x" * 5000}, 422, "upload-metadata"),
    ],
)  # fmt: skip
def test_a_bad_creation_is_refused(
    http: httpx.Client, headers: dict[str, str], status: int, field: str | None
) -> None:
    answer = http.post("/uploads", headers={**TUS, **headers})
    assert answer.status_code == status, answer.text
    assert answer.json()["error"].get("field") == field


def test_ids_that_are_not_ours_and_expired_uploads_are_not_found(
    http: httpx.Client, settings: Settings
) -> None:
    for bad in ("upl_..%2F..%2Fetc", "%2E%2E", "upl_ABC", "upl_" + "a" * 60):
        assert offset(http, f"/uploads/{bad}").status_code == 404, bad
    where = create(http, 4, filename="a.bin")
    assert offset(http, where, {**TUS, "Authorization": "Bearer sk_b"}).status_code == 404
    record = settings.data_dir / "uploads" / "resumable" / "prj_a" / f"{where.split('/')[-1]}.json"
    expired = json.loads(record.read_text()) | {"expires": 1.0}
    record.write_text(json.dumps(expired))
    assert offset(http, where).status_code == 404
    assert not record.exists()
    gone = create(http, 4, filename="b.bin")
    assert http.delete(gone, headers=TUS).status_code == 204
    assert offset(http, gone).status_code == 404


def test_a_finished_upload_starts_the_automations(http: httpx.Client, samples: Samples) -> None:
    made = http.post("/automations", headers=KEY, json={"workflow": [{"kind": "image"}]})
    assert made.status_code == 201
    data = samples.photo.read_bytes()
    where = create(http, len(data), filename="photo.jpg", filetype="image/jpeg")
    done = http.patch(where, headers={**CHUNK, "Upload-Offset": "0"}, content=data)
    (run,) = http.get("/runs", headers=KEY).json()
    assert run["input"]["file_id"] == done.headers["Strobe-File-Id"]
    options = http.options("/uploads", headers=KEY)
    assert options.status_code == 204 and options.headers["Tus-Version"] == "1.0.0"
    assert options.headers["Tus-Max-Size"] == str(2 * 1024**3)


def test_expired_uploads_are_swept_at_most_once_a_minute(settings: Settings) -> None:
    """Creating an upload reads every record to find expired ones; not on every creation."""
    uploads = ResumableUploads(settings.data_dir / "sweep")
    first = uploads.create("prj_a", 10, "a.bin", None)
    record = uploads.root / "prj_a" / f"{first.id}.json"
    record.write_text(json.dumps(json.loads(record.read_text()) | {"expires": 1.0}))
    uploads.create("prj_a", 10, "b.bin", None)  # within the minute: not swept yet
    assert record.exists() and uploads.data(first).exists()
    marker = uploads.root / ".swept"
    an_hour_ago = time.time() - 3600
    os.utime(marker, (an_hour_ago, an_hour_ago))
    uploads.create("prj_a", 10, "c.bin", None)
    assert not record.exists() and not uploads.data(first).exists()
    assert len(list((uploads.root / "prj_a").glob("*.json"))) == 2
