"""The HTTP API in-process (real SQLite store and local storage, no workers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.storage import open_storage
from pipeline.store import open_store
from tests.support.media import make_image

A = {"Authorization": "Bearer sk_a"}
B = {"Authorization": "Bearer sk_b"}
VIDEO_URL = "https://media.example.com/video.mp4"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(
        settings, open_store(settings.database_url), open_storage(settings.storage_url)
    )
    with TestClient(app) as test_client:
        yield test_client


def post_task(client: TestClient, body: object, headers: dict[str, str] = A):  # type: ignore[no-untyped-def]
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.post(
        "/tasks", content=raw, headers={**headers, "Content-Type": "application/json"}
    )


def error_of(response) -> dict:  # type: ignore[no-untyped-def]
    body = response.json()
    assert body["data"] is None
    assert body["meta"]["type"] == "error"
    assert body["meta"]["status"] == response.status_code
    return body["error"]


def test_spec_example_answers_201_with_the_envelope(client: TestClient) -> None:
    response = post_task(
        client, {"url": VIDEO_URL, "format": "jpeg", "filename": "poster.jpg", "width": 640}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"meta", "data", "links"}
    meta, task = body["meta"], body["data"]
    assert meta["id"].startswith("req_") and meta["version"] == "2024-08-21"
    assert meta["type"] == "object" and meta["method"] == "POST" and meta["path"] == "/tasks"
    assert meta["project_id"] == "prj_a"
    assert task["id"].startswith("tsk_") and task["object"] == "task"
    assert task["status"] == "waiting" and task["kind"] == "image"
    assert {"kind": "image", "filename": "poster.jpg", "width": 640}.items() <= task[
        "output"
    ].items()
    assert body["links"]["self"].endswith(f"/tasks/{task['id']}")
    assert body["links"]["parent"].endswith("/tasks")
    again = client.get(f"/tasks/{task['id']}", headers=A).json()["data"]
    assert again == task


def test_kind_is_inferred_from_format_or_filename(client: TestClient) -> None:
    by_format = post_task(client, {"url": VIDEO_URL, "format": "webp"}).json()["data"]
    by_name = post_task(client, {"url": VIDEO_URL, "filename": "still.png"}).json()["data"]
    assert (by_format["kind"], by_format["output"]["format"]) == ("image", "webp")
    assert (by_name["kind"], by_name["output"]["format"]) == ("image", "png")


def test_missing_or_wrong_key_is_401(client: TestClient) -> None:
    assert error_of(client.get("/tasks"))["code"] == "unauthorized"
    wrong = client.get("/tasks", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and error_of(wrong)["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("body", "status", "field", "words"),
    [
        ("{not json", 400, None, ["malformed JSON"]),
        ("[1, 2]", 400, None, ["JSON object"]),
        ({"format": "jpeg"}, 422, "url", ["url or file_id"]),
        ({"url": VIDEO_URL, "file_id": "file_x", "format": "jpeg"}, 422, "url", ["exactly one"]),
        ({"url": VIDEO_URL, "kind": "hologram"}, 422, "kind", ["'image'", "'video'"]),
        ({"url": VIDEO_URL, "format": "bmp"}, 422, "format", ["'jpeg'", "'png'"]),
        ({"url": VIDEO_URL, "kind": "image", "format": "mp3"}, 422, "format", ["jpeg, png"]),
        ({"url": VIDEO_URL, "format": "jpeg", "width": -5}, 422, "width", ["greater than"]),
        ({"url": VIDEO_URL, "format": "jpeg", "width": "abc"}, 422, "width", ["integer"]),
        ({"url": VIDEO_URL, "format": "jpeg", "width": 100000}, 422, "width", ["less than"]),
        ({"url": VIDEO_URL, "format": "jpeg", "quality": 0}, 422, "quality", ["greater"]),
        ({"url": VIDEO_URL, "format": "jpeg", "fit": "squash"}, 422, "fit", ["'cover'"]),
        ({"url": VIDEO_URL, "format": "mp4", "codec": "vp9"}, 422, "codec", ["h264, hevc"]),
        ({"url": VIDEO_URL, "format": "jpeg", "widht": 5}, 422, "widht", ["unknown field"]),
        (
            {"url": VIDEO_URL, "format": "jpeg", "confidence": 0.5},
            422,
            "confidence",
            ["does not apply", "width"],
        ),
        ({"url": VIDEO_URL, "kind": "speech", "language": "english"}, 422, "language", ["match"]),
        ({"url": VIDEO_URL, "filename": "../etc/passwd.jpg"}, 422, "filename", ["plain file"]),
        ({"url": VIDEO_URL, "filename": "a/b.jpg"}, 422, "filename", ["plain file"]),
        ({"url": VIDEO_URL, "format": "jpeg", "filename": "x.png"}, 422, "filename", ["png"]),
        ({"url": "ftp://example.com/a.mp4", "format": "jpeg"}, 422, "url", ["http"]),
        ({"url": "http://127.0.0.1/a.mp4", "format": "jpeg"}, 422, "url", ["private"]),
        ({"url": "http://[::1]/a.mp4", "format": "jpeg"}, 422, "url", ["private"]),
        ({"file_id": "file_doesnotexist", "format": "jpeg"}, 422, "file_id", ["no file"]),
    ],
)
def test_bad_requests_name_the_field_and_reason(
    client: TestClient, body: object, status: int, field: str | None, words: list[str]
) -> None:
    response = post_task(client, body)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert error.get("field") == field
    for word in words:
        assert word in error["message"], error["message"]
    assert client.get("/tasks", headers=A).json()["meta"]["total"] == 0  # nothing was created


def test_pagination_over_30_tasks(client: TestClient) -> None:
    ids = [
        post_task(client, {"url": VIDEO_URL, "format": "jpeg"}).json()["data"]["id"]
        for _ in range(30)
    ]
    first = client.get("/tasks", headers=A).json()
    assert first["meta"].items() >= {"total": 30, "limit": 12, "page": 1, "pages": 3}.items()
    assert len(first["data"]) == 12 and first["links"]["prev"] is None
    assert [t["id"] for t in first["data"]] == ids[::-1][:12]  # newest first by default
    last = client.get(first["links"]["next"].replace("page=2", "page=3"), headers=A).json()
    assert len(last["data"]) == 6 and last["links"]["next"] is None
    assert "page=2" in last["links"]["prev"]
    oldest = client.get("/tasks?order=asc&limit=5&page=2", headers=A).json()
    assert [t["id"] for t in oldest["data"]] == ids[5:10]
    assert "limit=5" in oldest["links"]["next"] and "order=asc" in oldest["links"]["next"]
    assert client.get("/tasks?status=ready", headers=A).json()["meta"]["total"] == 0
    assert client.get("/tasks?kind=image&status=waiting", headers=A).json()["meta"]["total"] == 30


@pytest.mark.parametrize(
    "query",
    ["limit=101", "limit=0", "page=0", "sort=size", "order=up", "status=done", "kind=hologram"],
)
def test_bad_list_parameters_are_422(client: TestClient, query: str) -> None:
    response = client.get(f"/tasks?{query}", headers=A)
    assert response.status_code == 422
    assert error_of(response)["field"] == query.split("=")[0]


def test_projects_see_only_their_own_tasks_and_files(client: TestClient, tmp_path: Path) -> None:
    task = post_task(client, {"url": VIDEO_URL, "format": "jpeg"}).json()["data"]
    picture = make_image(tmp_path / "p.png").read_bytes()
    file = client.post("/files?filename=p.png", content=picture, headers=A).json()["data"]
    for path in (f"/tasks/{task['id']}", f"/files/{file['id']}", f"/files/{file['id']}/content"):
        response = client.get(path, headers=B)
        assert response.status_code == 404 and error_of(response)["code"] == "not_found"
        assert client.get(path, headers=A).status_code == 200
    assert client.get("/tasks", headers=B).json()["meta"]["total"] == 0
    other = post_task(client, {"file_id": file["id"], "format": "jpeg"}, headers=B)
    assert other.status_code == 422 and error_of(other)["field"] == "file_id"


def test_upload_raw_and_multipart_then_download(client: TestClient, tmp_path: Path) -> None:
    picture = make_image(tmp_path / "p.png", width=64, height=48).read_bytes()
    raw = client.post(
        "/files?filename=p.png", content=picture, headers={**A, "Content-Type": "image/png"}
    )
    assert raw.status_code == 201
    data = raw.json()["data"]
    assert data["id"].startswith("file_") and data["object"] == "source"
    assert (data["kind"], data["width"], data["height"]) == ("image", 64, 48)
    assert data["filesize"] == len(picture) and data["mimetype"] == "image/png"
    multi = client.post("/files", files={"file": ("m.png", picture, "image/png")}, headers=A)
    assert multi.status_code == 201 and multi.json()["data"]["filename"] == "m.png"
    content = client.get(f"/files/{data['id']}/content", headers=A)
    assert content.content == picture and content.headers["content-type"] == "image/png"
    signed = client.get(data["url"])  # no API key: the signature is the credential
    assert signed.status_code == 200 and signed.content == picture
    tampered = client.get(data["url"].replace("signature=", "signature=0"))
    assert tampered.status_code == 401


def test_expired_link_is_refused(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    from pipeline.storage.signing import sign

    picture = make_image(tmp_path / "p.png").read_bytes()
    file_id = client.post("/files?filename=p.png", content=picture, headers=A).json()["data"]["id"]
    expired = 1_000_000_000
    signature = sign(settings.secret_key, file_id, expired)
    url = f"/files/{file_id}/content?expires={expired}&signature={signature}"
    assert client.get(url).status_code == 401


def test_upload_limits_and_unsafe_names(settings: Settings, tmp_path: Path) -> None:
    from dataclasses import replace

    small = replace(settings, max_upload_bytes=1000)
    app = create_app(small, open_store(small.database_url), open_storage(small.storage_url))
    with TestClient(app) as client:
        too_big = client.post("/files?filename=a.bin", content=b"x" * 5000, headers=A)
        assert too_big.status_code == 413 and error_of(too_big)["code"] == "payload_too_large"
        sneaky = client.post("/files?filename=../../escape.png", content=b"x", headers=A)
        assert sneaky.status_code == 422 and error_of(sneaky)["field"] == "filename"
        assert not list(tmp_path.rglob("escape.png"))


def test_unknown_routes_and_health(client: TestClient) -> None:
    assert error_of(client.get("/nope", headers=A))["code"] == "not_found"
    assert error_of(client.get("/tasks/tsk_missing", headers=A))["code"] == "not_found"
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["data"]["status"] == "ok"
    schema = client.get("/openapi.json").json()
    assert {"/tasks", "/tasks/{task_id}", "/files", "/files/{file_id}"} <= set(schema["paths"])


def test_delete_cancels_a_waiting_task(client: TestClient) -> None:
    task = post_task(client, {"url": VIDEO_URL, "format": "jpeg"}).json()["data"]
    cancelled = client.delete(f"/tasks/{task['id']}", headers=A)
    assert cancelled.status_code == 200
    data = cancelled.json()["data"]
    assert data["status"] == "error"
    assert data["error"]["code"] == "cancelled"
    assert client.delete(f"/tasks/{task['id']}", headers=A).status_code == 200  # idempotent
    assert client.get(f"/tasks/{task['id']}", headers=A).json()["data"]["status"] == "error"
    assert client.delete(f"/tasks/{task['id']}", headers=B).status_code == 404
    assert client.delete("/tasks/tsk_missing", headers=A).status_code == 404


def test_a_ready_task_cannot_be_cancelled(client: TestClient, settings: Settings) -> None:
    from tests.support.records import output_for

    task_id = post_task(client, {"url": VIDEO_URL, "format": "jpeg"}).json()["data"]["id"]
    store = open_store(settings.database_url)
    [leased] = store.lease("w1", ["image"], 1, 60, 3)
    assert store.complete(task_id, "w1", output_for(leased))
    response = client.delete(f"/tasks/{task_id}", headers=A)
    assert response.status_code == 409
    assert client.get(f"/tasks/{task_id}", headers=A).json()["data"]["status"] == "ready"


@pytest.mark.parametrize(
    ("webhook_url", "words"),
    [("ftp://hooks.example.com/x", "http"), ("http://10.0.0.5/hook", "private")],
)
def test_webhook_url_is_checked(client: TestClient, webhook_url: str, words: str) -> None:
    response = post_task(client, {"url": VIDEO_URL, "format": "jpeg", "webhook_url": webhook_url})
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == "webhook_url" and words in error["message"]
    ok = post_task(
        client,
        {"url": VIDEO_URL, "format": "jpeg", "webhook_url": "https://hooks.example.com/strobe"},
    )
    assert ok.status_code == 201 and "webhook_url" not in ok.json()["data"]["output"]


def test_content_of_a_vanished_object_is_404(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    picture = make_image(tmp_path / "p.png").read_bytes()
    file_id = client.post("/files?filename=p.png", content=picture, headers=A).json()["data"]["id"]
    record = open_store(settings.database_url).get_file("prj_a", file_id)
    assert record is not None
    open_storage(settings.storage_url).delete(record.storage_key)
    response = client.get(f"/files/{file_id}/content", headers=A)
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_an_unexpected_failure_is_a_500_envelope(settings: Settings) -> None:
    class BrokenStore:
        def __getattr__(self, name: str) -> object:
            def fail(*args: object, **kwargs: object) -> None:
                raise RuntimeError("database went away")

            return fail

    app = create_app(settings, BrokenStore(), open_storage(settings.storage_url))  # type: ignore[arg-type]
    broken = TestClient(app, raise_server_exceptions=False)  # no lifespan: reads on a thread
    response = broken.get("/tasks/tsk_x", headers=A)
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal"
    assert "database went away" not in response.text  # details go to the log only


def test_a_kind_without_an_operator_is_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.api.app as app_module

    served = {k: v for k, v in app_module.OPERATORS.items() if k != "outline"}
    monkeypatch.setattr(app_module, "OPERATORS", served)
    client = TestClient(
        create_app(settings, open_store(settings.database_url), open_storage(settings.storage_url))
    )
    with client:
        response = post_task(client, {"url": VIDEO_URL, "kind": "outline"})
    assert response.status_code == 422
    assert "not available" in error_of(response)["message"]
