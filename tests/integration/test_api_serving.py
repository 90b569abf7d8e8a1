"""Files served over HTTP as an origin would: Range, HEAD, validators, caching and CORS,
against the real app on local storage, with a real media file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.storage import Storage, open_storage
from pipeline.storage.s3 import S3Storage
from pipeline.store import open_store
from tests.integration.conftest import Samples
from tests.support.s3 import new_bucket

A = {"Authorization": "Bearer sk_a"}
WEB_APP = "http://127.0.0.1:8765"


def make_client(settings: Settings, storage: Storage | None = None, **changes: Any) -> TestClient:
    settings = replace(settings, **changes)
    storage = storage or open_storage(settings.storage_url)
    return TestClient(create_app(settings, open_store(settings.database_url), storage))


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with make_client(settings) as test_client:
        yield test_client


@pytest.fixture
def video(client: TestClient, samples: Samples) -> tuple[dict[str, Any], bytes]:
    """An uploaded MP4 in folder `clips` and its bytes."""
    data = samples.clip_with_audio.read_bytes()
    response = client.post("/files?filename=clip.mp4&folder=clips", content=data, headers=A)
    assert response.status_code == 201, response.text
    return response.json()["data"], data


def urls(client: TestClient, file: dict[str, Any]) -> dict[str, str]:
    """The file through each route: keyed, signed link, signed folder path."""
    signed = client.post("/signatures", json={"filename": "clip.mp4", "folder": "clips"}, headers=A)
    assert signed.status_code == 201, signed.text
    return {
        "keyed": f"/files/{file['id']}/content",
        "link": file["url"],
        "folder": signed.json()["data"]["url"],
    }


@pytest.mark.parametrize("route", ["keyed", "link", "folder"])
@pytest.mark.parametrize(
    ("range_", "start", "stop"),
    [
        ("bytes=0-99", 0, 100),  # the first bytes
        ("bytes=1000-1999", 1000, 2000),  # the middle
        ("bytes=-500", -500, None),  # the suffix
        ("bytes=100-", 100, None),  # open-ended
    ],
)
def test_a_range_is_answered_206_with_exactly_its_bytes(
    client: TestClient,
    video: tuple[dict[str, Any], bytes],
    route: str,
    range_: str,
    start: int,
    stop: int | None,
) -> None:
    file, data = video
    response = client.get(urls(client, file)[route], headers={**A, "Range": range_})
    assert response.status_code == 206, response.text
    expected = data[start:stop]
    assert response.content == expected
    first = start % len(data)
    assert response.headers["content-range"] == (
        f"bytes {first}-{first + len(expected) - 1}/{len(data)}"
    )
    assert response.headers["content-length"] == str(len(expected))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("range_", ["bytes=999999-", "bytes=99999999999999999999-", "bytes=-0"])
def test_a_range_beyond_the_end_is_416_naming_the_size(
    client: TestClient, video: tuple[dict[str, Any], bytes], range_: str
) -> None:
    file, data = video
    response = client.get(file["url"], headers={"Range": range_})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(data)}"
    assert response.json()["error"]["code"] == "range_not_satisfiable"


@pytest.mark.parametrize(
    "range_",
    [
        "bytes=5-1",
        "bytes=abc",
        "lines=1-2",
        "bytes=0-1,5-9",
        "bytes=" + ",".join(f"{i}-{i}" for i in range(2000)),
    ],
)
def test_a_malformed_or_multiple_range_gets_the_whole_file(
    client: TestClient, video: tuple[dict[str, Any], bytes], range_: str
) -> None:
    file, data = video
    response = client.get(file["url"], headers={"Range": range_})
    assert response.status_code == 200 and response.content == data
    assert "content-range" not in response.headers


@pytest.mark.parametrize("route", ["keyed", "link", "folder"])
def test_head_has_the_get_headers_and_no_body(
    client: TestClient, video: tuple[dict[str, Any], bytes], route: str
) -> None:
    file, data = video
    url = urls(client, file)[route]
    got, head = client.get(url, headers=A), client.head(url, headers=A)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(data)) == got.headers["content-length"]
    for name in ("accept-ranges", "etag", "last-modified", "content-type", "content-disposition"):
        assert head.headers[name] == got.headers[name], name
    partial = client.head(url, headers={**A, "Range": "bytes=10-19"})
    assert partial.status_code == 206 and partial.headers["content-length"] == "10"


def test_head_checks_the_key_and_the_signature_like_get(
    client: TestClient, video: tuple[dict[str, Any], bytes]
) -> None:
    file, _ = video
    assert client.head(f"/files/{file['id']}/content").status_code == 401
    assert client.head(file["url"].replace("signature=", "signature=0")).status_code == 401


@pytest.mark.parametrize("route", ["keyed", "link", "folder"])
def test_a_conditional_get_of_an_unchanged_file_is_304(
    client: TestClient, video: tuple[dict[str, Any], bytes], route: str
) -> None:
    file, _ = video
    url = urls(client, file)[route]
    first = client.get(url, headers=A)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    for condition in ({"If-None-Match": etag}, {"If-Modified-Since": modified}):
        again = client.get(url, headers={**A, **condition})
        assert again.status_code == 304 and again.content == b"", condition
        assert again.headers["etag"] == etag
    changed = client.get(url, headers={**A, "If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.content == first.content


def test_if_range_keeps_the_range_only_for_the_same_version(
    client: TestClient, video: tuple[dict[str, Any], bytes]
) -> None:
    file, data = video
    etag = client.head(file["url"]).headers["etag"]
    same = client.get(file["url"], headers={"Range": "bytes=0-9", "If-Range": etag})
    assert same.status_code == 206 and same.content == data[:10]
    other = client.get(file["url"], headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert other.status_code == 200 and other.content == data


def test_a_replaced_file_has_a_new_etag(client: TestClient) -> None:
    def put(data: bytes) -> str:
        response = client.post("/files?filename=n.txt&folder=f", content=data, headers=A)
        assert response.status_code == 201
        signed = client.post("/signatures", json={"filename": "n.txt", "folder": "f"}, headers=A)
        return client.head(signed.json()["data"]["url"]).headers["etag"]

    assert put(b"first version") != put(b"second version, longer")


def test_cache_control_lasts_until_the_signature_expires(
    client: TestClient, video: tuple[dict[str, Any], bytes]
) -> None:
    file, _ = video
    expiry = int(time.time()) + 600
    body = {"filename": "clip.mp4", "folder": "clips", "expiry": expiry}
    signed = client.post("/signatures", json=body, headers=A).json()["data"]["url"]
    link_expiry = int(file["url"].partition("expires=")[2].partition("&")[0])
    for url, expires in ((signed, expiry), (file["url"], link_expiry)):
        before = time.time()
        cache_control = client.head(url).headers["cache-control"]
        assert cache_control.startswith("private, max-age="), url
        left = expires - before
        assert left - 5 <= int(cache_control.rpartition("=")[2]) <= left, url
    keyed = client.head(f"/files/{file['id']}/content", headers=A)
    assert keyed.headers["cache-control"] == "private, no-cache"


def test_without_cors_origins_no_origin_is_allowed(
    client: TestClient, video: tuple[dict[str, Any], bytes]
) -> None:
    file, _ = video
    preflight = client.options(
        file["url"], headers={"Origin": WEB_APP, "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    response = client.get(file["url"], headers={"Origin": WEB_APP, "Range": "bytes=0-9"})
    assert response.status_code == 206 and "access-control-allow-origin" not in response.headers


def test_a_configured_origin_may_read_outputs_with_range(
    settings: Settings, samples: Samples
) -> None:
    with make_client(settings, cors_origins=(WEB_APP,)) as client:
        upload = client.post(
            "/files?filename=clip.mp4", content=samples.clip.read_bytes(), headers=A
        )
        url = upload.json()["data"]["url"]
        asked = {"Origin": WEB_APP, "Access-Control-Request-Method": "GET"}
        preflight = client.options(
            url, headers={**asked, "Access-Control-Request-Headers": "range"}
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == WEB_APP
        assert {"GET", "HEAD"} <= _listed(preflight.headers["access-control-allow-methods"])
        assert "range" in _listed(preflight.headers["access-control-allow-headers"].lower())

        response = client.get(url, headers={"Origin": WEB_APP, "Range": "bytes=0-9"})
        assert response.status_code == 206
        assert response.headers["access-control-allow-origin"] == WEB_APP
        exposed = _listed(response.headers["access-control-expose-headers"])
        assert {"Content-Range", "Content-Length", "Accept-Ranges", "ETag"} <= exposed

        stranger = {"Origin": "http://127.0.0.1:9999", "Access-Control-Request-Method": "GET"}
        assert "access-control-allow-origin" not in client.options(url, headers=stranger).headers


def test_a_configured_origin_may_call_the_api_with_its_key(settings: Settings) -> None:
    with make_client(settings, cors_origins=(WEB_APP,)) as client:
        asked = {
            "Origin": WEB_APP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        }
        preflight = client.options("/tasks", headers=asked)
        assert preflight.status_code == 204
        assert "authorization" in _listed(preflight.headers["access-control-allow-headers"].lower())
        assert "POST" in _listed(preflight.headers["access-control-allow-methods"])
        listed = client.get("/tasks", headers={**A, "Origin": WEB_APP})
        assert listed.status_code == 200
        assert listed.headers["access-control-allow-origin"] == WEB_APP


def test_any_origin_with_a_star(settings: Settings) -> None:
    with make_client(settings, cors_origins=("*",)) as client:
        upload = client.post("/files?filename=n.txt", content=b"notes", headers=A)
        response = client.get(upload.json()["data"]["url"], headers={"Origin": "https://x.example"})
        assert response.headers["access-control-allow-origin"] == "*"


def _listed(header: str) -> set[str]:
    return {part.strip() for part in header.split(",")}


def test_s3_objects_are_served_alike_through_the_api(
    settings: Settings, s3_endpoint: str, samples: Samples
) -> None:
    storage = S3Storage(new_bucket(s3_endpoint), "strobe", s3_endpoint)
    data = samples.clip.read_bytes()
    with make_client(settings, storage=storage) as client:
        response = client.post("/files?filename=clip.mp4&folder=clips", content=data, headers=A)
        assert response.status_code == 201, response.text
        found = urls(client, response.json()["data"])
        for route in ("keyed", "folder"):  # the file's own link is presigned, to the bucket
            url = found[route]
            part = client.get(url, headers={**A, "Range": "bytes=-300"})
            assert part.status_code == 206 and part.content == data[-300:], route
            assert (
                part.headers["content-range"]
                == f"bytes {len(data) - 300}-{len(data) - 1}/{len(data)}"
            )
            head = client.head(url, headers=A)
            assert head.headers["content-length"] == str(len(data)) and head.content == b""
            again = client.get(url, headers={**A, "If-None-Match": head.headers["etag"]})
            assert again.status_code == 304, route
            beyond = client.get(url, headers={**A, "Range": f"bytes={len(data)}-"})
            assert beyond.status_code == 416, route


def test_the_openapi_describes_ranges_on_the_byte_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/files/{file_id}/content",
        "/files/{file_id}/t/{expires}/{signature}/{name}",
        "/signed/{project_id}/{path}",
    ):
        get = paths[path]["get"]
        assert {"200", "206", "304", "416"} <= set(get["responses"]), path
        assert "Range" in {p["name"] for p in get["parameters"]}, path
        assert "head" not in paths[path], path  # HEAD answers as GET; not listed twice
    put = paths["/signed/{project_id}/{path}"]["put"]  # a signed upload: JSON back, not bytes
    assert {"201", "403", "413", "422"} <= set(put["responses"])
    assert "application/json" in put["responses"]["201"]["content"]
    assert "video/*" in put["requestBody"]["content"]
