"""Names, downloads and links as an attacker tries them: in-process API, real storage."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.storage import LocalStorage, Storage, open_storage
from pipeline.storage.s3 import S3Storage
from pipeline.store import open_store
from tests.integration.conftest import Samples
from tests.support.s3 import new_bucket

A = {"Authorization": "Bearer sk_a"}
B = {"Authorization": "Bearer sk_b"}
LONG_NAME = "é" * 128 + ".jpg"  # 132 characters, 260 bytes in UTF-8


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, settings: Settings) -> Storage:
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        return S3Storage(new_bucket(endpoint), "strobe", endpoint)
    local = open_storage(settings.storage_url)
    assert isinstance(local, LocalStorage)
    return local


def make_client(settings: Settings, storage: Storage, **changes: Any) -> TestClient:
    # Private URLs allowed: the media server of these tests is on loopback.
    settings = replace(settings, allow_private_urls=True, **changes)
    return TestClient(create_app(settings, open_store(settings.database_url), storage))


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    local = open_storage(settings.storage_url)
    with make_client(settings, local) as test_client:
        yield test_client


def upload(client: TestClient, data: bytes, name: str, headers: Any = A, **extra: Any) -> Any:
    response = client.post(
        f"/files?filename={quote(name)}", content=data, headers={**headers, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def error_of(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    if field is not None:
        assert error["field"] == field, error
    return error


# --- storage keys ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def any_path(samples: Samples) -> Iterator[str]:
    """A loopback server that answers every path with the clip: the URL's path is the name."""
    body = samples.clip.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_url_named_into_another_project_cannot_touch_its_file(
    settings: Settings, storage: Storage, samples: Samples, any_path: str
) -> None:
    with make_client(settings, storage) as client:
        victim = upload(client, samples.photo.read_bytes(), "v.jpg", B)
        # A's URL: its last segment decodes to `x/../../../../prj_b/uploads/<B's id>/v.jpg`,
        # which, joined to A's upload folder and normalised, is the key of B's file.
        crafted = quote(f"x/../../../../prj_b/uploads/{victim['id']}/v.jpg", safe="")
        response = client.post("/files", json={"url": f"{any_path}/{crafted}"}, headers=A)
        assert response.status_code == 201, response.text
        theirs = response.json()["data"]
        assert theirs["filename"] == "v.jpg"  # the last part of the decoded name, nothing above
        mine = client.get(f"/files/{theirs['id']}/content", headers=A)
        assert mine.content == samples.clip.read_bytes()
        assert client.delete(f"/files/{theirs['id']}", headers=A).status_code == 200

        content = client.get(f"/files/{victim['id']}/content", headers=B)
        assert content.status_code == 200
        assert content.content == samples.photo.read_bytes()  # B's bytes, still there


@pytest.mark.parametrize(
    ("segment", "name"),
    [
        ("..", "download"),
        ("%2E%2E", "download"),
        ("a%2Fb%2F..", "download"),
        ("%2E%2Fx.mp4", "x.mp4"),
        ("a%5C..%5Cb.mp4", "b.mp4"),
        ("%00", "download"),
        ("a%0Ab.mp4", "download"),
        (".hidden", "download"),
        ("", "download"),
        ("%C3%A9" * 128, "download"),  # 256 bytes once decoded
        ("clip%20%C3%A9t%C3%A9.mp4", "clip été.mp4"),
    ],
)
def test_a_url_names_its_file_with_one_plain_name_or_download(
    client: TestClient, any_path: str, segment: str, name: str
) -> None:
    response = client.post("/files", json={"url": f"{any_path}/in/{segment}"}, headers=A)
    assert response.status_code == 201, response.text
    file = response.json()["data"]
    assert (file["filename"], file["kind"]) == (name, "video")


@pytest.mark.parametrize(
    "request_args",
    [
        {"url": f"/files?filename={quote(LONG_NAME)}", "content": b"data"},
        {"url": "/files", "files": {"file": (LONG_NAME, b"data", "image/jpeg")}},
        {"url": "/files", "json": {"url": "https://example.com/a.jpg", "filename": LONG_NAME}},
        {"url": "/tasks", "json": {"url": "https://example.com/a.mp4", "filename": LONG_NAME}},
        {"url": "/signatures", "json": {"filename": LONG_NAME}},
    ],
    ids=["raw-upload", "multipart", "ingest", "task", "signature"],
)
def test_a_file_name_over_255_bytes_is_a_422_naming_the_field(
    client: TestClient, request_args: dict[str, Any]
) -> None:
    url = request_args.pop("url")
    error = error_of(client.post(url, headers=A, **request_args), 422, "filename")
    assert error["code"] == "invalid_request" and "255 bytes" in error["message"]


def test_renaming_a_file_checks_the_name_too(client: TestClient) -> None:
    file = upload(client, b"data", "notes.txt")
    for name in (LONG_NAME, "../x", "a\\b", "a\x01b"):
        response = client.patch(f"/files/{file['id']}", json={"filename": name}, headers=A)
        error_of(response, 422, "filename")


@pytest.mark.parametrize("folder", ["..", "a/..", "./a", "a/./b", ".git"])
def test_a_folder_with_dot_parts_is_refused(client: TestClient, folder: str) -> None:
    task = {"url": "https://example.com/a.mp4", "kind": "image", "folder": folder}
    error_of(client.post("/tasks", json=task, headers=A), 422, "folder")
    error_of(client.post("/signatures", json={"filename": "a", "folder": folder}, headers=A), 422)
    error_of(client.post(f"/files?folder={quote(folder)}", content=b"x", headers=A), 422)


# --- serving ----------------------------------------------------------------------------


def test_an_html_upload_never_renders_on_the_api_origin(client: TestClient) -> None:
    page = b"<html><script>alert(document.cookie)</script></html>"
    file = upload(client, page, "page.html", **{"Content-Type": "text/html"})
    for response in (
        client.get(f"/files/{file['id']}/content", headers=A),
        client.get(file["url"]),  # the signed link, no key needed
    ):
        assert response.status_code == 200 and response.content == page
        assert response.headers["content-disposition"].startswith("attachment;")
        assert response.headers["x-content-type-options"] == "nosniff"


def test_media_is_shown_inline_with_its_recorded_type(client: TestClient, samples: Samples) -> None:
    # Sent with curl's default type for a raw body: recorded (and served) as what it is.
    file = upload(client, samples.photo.read_bytes(), "photo", **{"Content-Type": "text/html"})
    assert file["mimetype"] == "image/jpeg"
    response = client.get(file["url"])
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-disposition"].startswith("inline;")
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "fallback", "encoded"),
    [
        ("отчёт 2024.txt", "_____ 2024.txt", "%D0%BE%D1%82%D1%87%D1%91%D1%82%202024.txt"),
        ('say "hi".txt', "say _hi_.txt", "say%20%22hi%22.txt"),
        ("雪.txt", "_.txt", "%E9%9B%AA.txt"),
        ("back\\slash.txt", None, None),  # refused at upload: not a plain name
    ],
)
def test_download_names_are_encoded_for_the_header(
    client: TestClient, name: str, fallback: str | None, encoded: str | None
) -> None:
    response = client.post(f"/files?filename={quote(name)}", content=b"text", headers=A)
    if fallback is None:
        error_of(response, 422, "filename")
        return
    file = response.json()["data"]
    content = client.get(f"/files/{file['id']}/content", headers=A)
    assert content.status_code == 200 and content.content == b"text"
    assert content.headers["content-disposition"] == (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    )


def test_non_ascii_signatures_are_refused_not_a_500(client: TestClient, samples: Samples) -> None:
    file = upload(client, samples.photo.read_bytes(), "photo.jpg", folder="shots")
    signed = client.post(
        "/signatures", json={"filename": "photo.jpg", "folder": "shots"}, headers=A
    ).json()["data"]
    path = urlsplit(signed["url"]).path
    for url in (
        f"{path}?expiry={signed['expiry']}&method=get&signature=é{signed['signature'][1:]}",
        f"/files/{file['id']}/content?expires=9999999999&signature=ü",
        f"/files/{file['id']}/t/9999999999/ü/photo.jpg",
    ):
        error = error_of(client.get(url), 401)
        assert error["code"] == "unauthorized"


# --- options -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("width", True), ("quality", False), ("width", "320"), ("width", 320.0), ("start", True)],
)
def test_a_number_option_takes_a_number_only(client: TestClient, field: str, value: Any) -> None:
    task = {"url": "https://example.com/a.mp4", "kind": "image", field: value}
    error = error_of(client.post("/tasks", json=task, headers=A), 422, field)
    assert field in error["message"]


def test_a_signature_expiry_takes_a_number_only(client: TestClient) -> None:
    body = {"filename": "a.jpg", "expiry": True}
    error_of(client.post("/signatures", json=body, headers=A), 422, "expiry")


# --- links -------------------------------------------------------------------------------


def test_links_are_built_on_the_public_url_whatever_the_host_header(
    settings: Settings, samples: Samples
) -> None:
    local = open_storage(settings.storage_url)
    public = "https://media.example.com"
    forged = {**A, "Host": "evil.example"}
    with make_client(settings, local, public_url=public) as client:
        file = upload(client, samples.photo.read_bytes(), "photo.jpg", forged)
        assert file["url"].startswith(f"{public}/files/{file['id']}/content?")
        shown = client.get(f"/files/{file['id']}?x=1", headers=forged).json()
        assert shown["links"]["self"] == f"{public}/files/{file['id']}"
        listed = client.get("/files?limit=1", headers=forged).json()
        assert all(link.startswith(public) for link in listed["links"].values() if link)
        missing = client.get("/files/file_nope?x=1", headers=forged).json()
        assert missing["links"]["self"] == f"{public}/files/file_nope?x=1"
        assert "evil.example" not in str([shown, listed, missing])
    with make_client(settings, local) as client:  # unset: the request's host, as before
        file = upload(client, samples.photo.read_bytes(), "photo.jpg", forged)
        assert file["url"].startswith("http://evil.example/files/")
