"""Limits on what a client sends (issue 13, finding 4), each test written as the attack:
bodies with no length streamed past the limit, a 95 MiB `metadata`, deep and wide metadata,
too many multipart fields, a self-referencing concat list uploaded to the API."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.api.limits import METADATA_MAX_DEPTH
from pipeline.config import Settings
from pipeline.storage import open_storage
from pipeline.store import open_store
from tests.support.api_server import send_chunked, serve_app
from tests.support.media import make_image

A = {"Authorization": "Bearer sk_a"}
MiB = 1 << 20
UPLOAD_LIMIT = 10 * MiB
# What an attacker streams: far past the limit (the report's 284 MiB for a 10 MiB limit).
ATTACK_BYTES = 300 * MiB
# Socket buffers on both ends hold a few MiB the server never read; anything near the
# attack size means the server kept reading.
IN_FLIGHT = 32 * MiB
BOUNDARY = "strobe-attack-boundary"


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return replace(settings, max_upload_bytes=UPLOAD_LIMIT)


def app_for(settings: Settings):  # type: ignore[no-untyped-def]
    return create_app(
        settings, open_store(settings.database_url), open_storage(settings.storage_url)
    )


@pytest.fixture
def client(limited: Settings) -> Iterator[TestClient]:
    with TestClient(app_for(limited)) as test_client:
        yield test_client


@pytest.fixture
def scratch(limited: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Where an upload could be spooled: the system temp folder (redirected to an empty one
    for the test) and the data dir's scratch space."""
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    return [system_tmp, limited.data_dir / "uploads"]


class PeakBytes:
    """The most bytes the folders held at once (`peak`, and `peaks` per folder), sampled
    every 5 ms."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders, self.peak = folders, 0
        self.peaks = [0] * len(folders)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> PeakBytes:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.is_set():
            sizes = [_bytes_under(folder) for folder in self.folders]
            self.peaks = [max(a, b) for a, b in zip(self.peaks, sizes, strict=True)]
            self.peak = max(self.peak, sum(sizes))
            time.sleep(0.005)


def _bytes_under(folder: Path) -> int:
    """Named files under `folder`, and files open in this process (the server runs in it)
    that were made there unnamed or deleted: what `tempfile.TemporaryFile` makes."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(f"{folder}/") and target.endswith("(deleted)"):
                total += os.stat(f"/proc/self/fd/{fd}").st_size
    return total


def chunks_of(total: int, head: bytes = b"", size: int = MiB) -> Iterator[bytes]:
    if head:
        yield head
    block = b"\0" * size
    for _ in range(total // size):
        yield block


def error_in(body: bytes) -> dict:  # type: ignore[type-arg]
    envelope = json.loads(body)
    assert envelope["data"] is None and envelope["meta"]["type"] == "error"
    return envelope["error"]  # type: ignore[no-any-return]


# --- bodies with no length, streamed past the limit --------------------------------------


def test_a_streamed_multipart_upload_with_no_length_is_cut_at_the_limit(
    limited: Settings, scratch: list[Path]
) -> None:
    part = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=file; filename=big.mp4\r\n"
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    headers = {**A, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    with serve_app(app_for(limited)) as base, PeakBytes(scratch) as disk:
        answer = send_chunked(base, "POST", "/files", headers, chunks_of(ATTACK_BYTES, part))
    assert answer.status == 413
    assert error_in(answer.body)["code"] == "payload_too_large"
    assert answer.sent < UPLOAD_LIMIT + IN_FLIGHT, "the server kept reading past the limit"
    assert disk.peak <= UPLOAD_LIMIT, f"{disk.peak} bytes written for a {UPLOAD_LIMIT} limit"
    assert disk.peaks[0] == 0, "nothing may be spooled to the system temp folder"
    assert not any(scratch[1].iterdir()), "the partial upload is removed"


def test_a_streamed_raw_upload_with_no_length_is_cut_at_the_limit(
    limited: Settings, scratch: list[Path]
) -> None:
    headers = {**A, "Content-Type": "application/octet-stream"}
    with serve_app(app_for(limited)) as base, PeakBytes(scratch) as disk:
        answer = send_chunked(
            base, "POST", "/files?filename=a.bin", headers, chunks_of(ATTACK_BYTES)
        )
    assert answer.status == 413 and error_in(answer.body)["code"] == "payload_too_large"
    assert answer.sent < UPLOAD_LIMIT + IN_FLIGHT
    assert disk.peak <= UPLOAD_LIMIT


def test_a_95_mib_metadata_streamed_with_no_length_is_refused_at_one_mib(
    limited: Settings,
) -> None:
    head = b'{"url": "https://example.com/a.mp4", "metadata": {"blob": "'
    filler = (b"A" * MiB for _ in range(95))
    body = iter([head, *filler, b'"}}'])
    headers = {**A, "Content-Type": "application/json"}
    with serve_app(app_for(limited)) as base:
        answer = send_chunked(base, "POST", "/files", headers, body)
    assert answer.status == 413 and error_in(answer.body)["code"] == "payload_too_large"
    assert answer.sent < limited.max_json_bytes + IN_FLIGHT


@pytest.mark.parametrize(
    ("path", "content_type", "size"),
    [
        ("/files?filename=a.bin", "application/octet-stream", UPLOAD_LIMIT + 1),
        ("/files", f"multipart/form-data; boundary={BOUNDARY}", 2 * UPLOAD_LIMIT),
        ("/tasks", "application/json", MiB + 1),
        ("/media", "application/json", MiB + 1),
    ],
)
def test_a_declared_length_over_the_limit_is_refused_before_reading(
    client: TestClient, path: str, content_type: str, size: int
) -> None:
    response = client.post(path, content=b"\0" * size, headers={**A, "Content-Type": content_type})
    assert response.status_code == 413
    assert error_in(response.content)["code"] == "payload_too_large"


def test_bodies_under_the_limits_still_work(client: TestClient, tmp_path: Path) -> None:
    picture = make_image(tmp_path / "p.png", width=64, height=48).read_bytes()
    raw = client.post("/files?filename=p.png", content=picture, headers=A)
    multi = client.post("/files", files={"file": ("m.png", picture, "image/png")}, headers=A)
    assert raw.status_code == multi.status_code == 201
    assert raw.json()["data"]["kind"] == multi.json()["data"]["kind"] == "image"
    task = client.post(
        "/tasks", json={"file_id": raw.json()["data"]["id"], "format": "jpeg"}, headers=A
    )
    assert task.status_code == 201


# --- metadata -----------------------------------------------------------------------------


def nested(depth: int) -> dict:  # type: ignore[type-arg]
    value: dict = {}  # type: ignore[type-arg]
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        ({"blob": "x" * (100 << 10)}, "bytes"),
        (nested(METADATA_MAX_DEPTH + 1), "levels"),
        ({f"k{i}": i for i in range(5000)}, "keys"),
        ({"list": [[1] * 10 for _ in range(200)]}, "keys"),
    ],
    ids=["100-kib", "too-deep", "5000-keys", "2200-entries"],
)
def test_metadata_over_the_limits_is_refused_everywhere_it_is_accepted(
    client: TestClient,
    metadata: dict,
    words: str,  # type: ignore[type-arg]
) -> None:
    uploaded = client.post("/files?filename=a.bin", content=b"data", headers=A).json()["data"]
    attempts = [
        client.post("/media", json={"metadata": metadata}, headers=A),
        client.patch(f"/files/{uploaded['id']}", json={"metadata": metadata}, headers=A),
        client.post(
            "/files", json={"url": "https://example.com/a", "metadata": metadata}, headers=A
        ),
    ]
    for response in attempts:
        assert response.status_code == 422, response.text
        error = error_in(response.content)
        assert error["code"] == "invalid_request" and error["field"] == "metadata"
        assert words in error["message"]
    stored = client.get(f"/files/{uploaded['id']}", headers=A).json()["data"]
    assert not stored.get("metadata")


def test_metadata_at_the_limits_is_kept(client: TestClient) -> None:
    metadata = {"deep": nested(METADATA_MAX_DEPTH - 1), "text": "é" * 1000}
    response = client.post("/media", json={"metadata": metadata}, headers=A)
    assert response.status_code == 201 and response.json()["data"]["metadata"] == metadata


def test_json_nested_a_million_levels_is_a_400_not_a_crash(client: TestClient) -> None:
    body = "[" * 500_000 + "]" * 500_000  # under 1 MiB
    response = client.post(
        "/tasks", content=body, headers={**A, "Content-Type": "application/json"}
    )
    assert response.status_code == 400 and error_in(response.content)["code"] == "invalid_request"


# --- multipart field counts ------------------------------------------------------------


def multipart(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, value in parts:
        disposition = f"form-data; name={name}" + (f"; filename={filename}" if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize(
    ("parts", "words"),
    [
        ([(f"f{i}", None, b"v") for i in range(5000)] + [("file", "a.bin", b"x")], "at most"),
        ([("file", "a.bin", b"x"), ("file", "b.bin", b"y")], "only one"),
        ([("note", None, b"n" * (200 << 10)), ("file", "a.bin", b"x")], "over"),
        ([("note", None, b"no file here")], "needs"),
    ],
    ids=["5000-fields", "two-files", "200-kib-field", "no-file"],
)
def test_multipart_field_counts_and_sizes_are_limited(
    client: TestClient, parts: list[tuple[str, str | None, bytes]], words: str
) -> None:
    response = client.post(
        "/files",
        content=multipart(parts),
        headers={**A, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert response.status_code == 422, response.text
    error = error_in(response.content)
    assert error["code"] == "invalid_request" and words in error["message"]


# --- an indirection uploaded to the API ----------------------------------------------------


def test_an_uploaded_concat_list_naming_itself_is_kept_as_a_plain_file(
    client: TestClient,
) -> None:
    # The upload is written to `upload` in a scratch folder and probed there: this list
    # names that very file, so a demuxer that follows it opens itself again and again.
    body = b"ffconcat version 1.0\n" + b"file upload\n" * 8
    fds = len(os.listdir("/proc/self/fd"))
    started = time.monotonic()
    response = client.post("/files?filename=list.txt", content=body, headers=A)
    assert time.monotonic() - started < 5
    assert len(os.listdir("/proc/self/fd")) <= fds + 4, "the probe leaked descriptors"
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["kind"] is None  # not media: stored, and a task on it fails input_unreadable
    health = client.get("/health")
    assert health.status_code == 200


def test_an_uploaded_hls_playlist_is_not_probed_as_media(client: TestClient) -> None:
    body = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nupload\n#EXT-X-ENDLIST\n"
    response = client.post("/files?filename=list.m3u8", content=body, headers=A)
    assert response.status_code == 201 and response.json()["data"]["kind"] is None


def test_a_streamed_upload_without_a_key_is_refused_before_its_body_is_read(
    limited: Settings, scratch: list[Path]
) -> None:
    headers = {"Content-Type": "application/octet-stream"}
    with serve_app(app_for(limited)) as base, PeakBytes(scratch) as disk:
        answer = send_chunked(
            base, "POST", "/files?filename=a.bin", headers, chunks_of(ATTACK_BYTES)
        )
    assert answer.status == 401 and error_in(answer.body)["code"] == "unauthorized"
    assert answer.headers.get("connection") == "close"
    assert answer.sent < IN_FLIGHT and disk.peak == 0
