"""A request body that stops arriving is cut, not waited on: the attack is a client that sends
a little and then holds the connection open. Against the real app served by uvicorn, with a
raw socket client (tests/support/api_server.py) and a 1 s idle deadline."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlsplit

import httpx
import pytest

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.storage import open_storage
from pipeline.store import open_store
from tests.support.api_server import send_chunked, serve_app

A = {"Authorization": "Bearer sk_a"}
IDLE_S = 1.0


@pytest.fixture
def api(settings: Settings) -> Iterator[str]:
    settings = replace(settings, body_idle_s=IDLE_S)
    store, storage = open_store(settings.database_url), open_storage(settings.storage_url)
    with serve_app(create_app(settings, store, storage)) as url:
        yield url


def stalling(*chunks: bytes, silence_s: float = IDLE_S + 2) -> Iterator[bytes]:
    """The chunks, then nothing for `silence_s`, then one more byte (never sent: the server
    has answered by then)."""
    yield from chunks
    time.sleep(silence_s)
    yield b"x"


def test_an_upload_that_stops_arriving_is_408_and_keeps_nothing(api: str) -> None:
    headers = {**A, "Content-Type": "application/octet-stream"}
    started = time.monotonic()
    answer = send_chunked(api, "POST", "/files?filename=a.bin", headers, stalling(b"a" * 65536))
    assert answer.status == 408, answer
    assert json.loads(answer.body)["error"]["code"] == "request_timeout"
    assert answer.headers.get("connection") == "close"
    assert time.monotonic() - started < IDLE_S + 2.5
    with httpx.Client(base_url=api, headers=A) as client:
        assert client.get("/files").json()["data"] == []  # nothing half-kept
        assert client.get("/health").status_code == 200  # and the server carries on


def test_a_json_body_that_stops_arriving_is_408(api: str) -> None:
    headers = {**A, "Content-Type": "application/json"}
    answer = send_chunked(api, "POST", "/tasks", headers, stalling(b'{"kind": "ima'))
    assert answer.status == 408
    assert json.loads(answer.body)["error"]["code"] == "request_timeout"
    with httpx.Client(base_url=api, headers=A) as client:
        assert client.get("/tasks").json()["data"] == []


def test_a_slow_but_steady_upload_is_kept(api: str) -> None:
    """The deadline is on silence, not on the whole body: 6 chunks 0.5 s apart (3 s in all,
    three times the idle deadline) arrive whole."""

    def steady() -> Iterator[bytes]:
        for _ in range(6):
            yield b"b" * 1000
            time.sleep(IDLE_S / 2)

    headers = {**A, "Content-Type": "application/octet-stream"}
    answer = send_chunked(api, "POST", "/files?filename=steady.bin", headers, steady())
    assert answer.status == 201, answer
    assert json.loads(answer.body)["data"]["filesize"] == 6000


def test_a_stalled_resumable_patch_keeps_what_arrived(api: str) -> None:
    tus = {**A, "Tus-Resumable": "1.0.0"}
    with httpx.Client(base_url=api, headers=tus) as client:
        made = client.post("/uploads", headers={"Upload-Length": "100000"})
        where = urlsplit(made.headers["Location"]).path
        headers = {**tus, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
        answer = send_chunked(api, "PATCH", where, headers, stalling(b"c" * 30000))
        assert answer.status == 408
        assert client.head(where).headers["Upload-Offset"] == "30000"  # resume from there
        rest = client.patch(
            where,
            headers={"Content-Type": "application/offset+octet-stream", "Upload-Offset": "30000"},
            content=b"d" * 70000,
        )
        assert rest.status_code == 204 and rest.headers["Upload-Offset"] == "100000"
