"""The object storage contract, run against every storage adapter."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from pipeline.storage import Storage, StorageError
from tests.contract.conftest import StorageAdapter

KEY = "prj_a/tsk_1/out.bin"


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def payload() -> bytes:
    return os.urandom(2_500_000)  # several default-size chunks


def test_put_then_get_and_stream_the_same_bytes(
    storage: Storage, tmp_path: Path, payload: bytes
) -> None:
    size = storage.put_file(KEY, write(tmp_path / "in.bin", payload), "application/octet-stream")
    assert size == len(payload)
    assert storage.exists(KEY)

    storage.get_file(KEY, tmp_path / "copy.bin")
    assert (tmp_path / "copy.bin").read_bytes() == payload

    assert b"".join(storage.iter_bytes(KEY)) == payload
    chunks = list(storage.iter_bytes(KEY, chunk_size=100_000))
    assert b"".join(chunks) == payload
    assert len(chunks) == 25 and all(len(c) <= 100_000 for c in chunks)


def test_an_empty_object(storage: Storage, tmp_path: Path) -> None:
    assert storage.put_file(KEY, write(tmp_path / "empty", b""), "text/plain") == 0
    assert storage.exists(KEY)
    assert b"".join(storage.iter_bytes(KEY)) == b""


def test_put_overwrites(storage: Storage, tmp_path: Path) -> None:
    storage.put_file(KEY, write(tmp_path / "a", b"first version, longer"), "text/plain")
    assert storage.put_file(KEY, write(tmp_path / "b", b"second"), "text/plain") == 6
    storage.get_file(KEY, tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == b"second"


def test_keys_are_independent(storage: Storage, tmp_path: Path) -> None:
    storage.put_file("prj_a/x", write(tmp_path / "a", b"a"), "text/plain")
    storage.put_file("prj_b/x", write(tmp_path / "b", b"b"), "text/plain")
    assert b"".join(storage.iter_bytes("prj_a/x")) == b"a"
    assert b"".join(storage.iter_bytes("prj_b/x")) == b"b"
    assert not storage.exists("prj_c/x")


def test_delete(storage: Storage, tmp_path: Path) -> None:
    storage.put_file(KEY, write(tmp_path / "a", b"data"), "text/plain")
    storage.delete(KEY)
    assert not storage.exists(KEY)
    storage.delete(KEY)  # deleting again is fine
    storage.delete("prj_a/never-was")


def test_reading_a_missing_object_is_a_storage_error(storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        storage.get_file("prj_a/missing", tmp_path / "copy")
    with pytest.raises(StorageError):
        list(storage.iter_bytes("prj_a/missing"))


ESCAPING_KEYS = ["../x", "../../etc/passwd", "prj_a/../../x", "/etc/passwd", "/tmp/x", "", "."]
# Keys that a normaliser would fold into another, valid key: refused as they are.
UNPLAIN_KEYS = [
    "prj_a/x/../y",
    "prj_a/./y",
    "prj_a//y",
    "prj_a/y/",
    "prj_a/..\\..\\y",
    "prj_a/y\x00.txt",
    "prj_a/y\n.txt",
]


@pytest.mark.parametrize("key", ESCAPING_KEYS + UNPLAIN_KEYS)
def test_keys_that_escape_the_root_are_refused(storage: Storage, tmp_path: Path, key: str) -> None:
    source = write(tmp_path / "in", b"data")
    with pytest.raises(StorageError):
        storage.put_file(key, source, "text/plain")
    with pytest.raises(StorageError):
        storage.get_file(key, tmp_path / "copy")
    with pytest.raises(StorageError):
        list(storage.iter_bytes(key))
    with pytest.raises(StorageError):
        storage.exists(key)
    with pytest.raises(StorageError):
        storage.delete(key)
    assert not (tmp_path / "x").exists()
    assert source.read_bytes() == b"data"


def test_presigned_urls(storage: Storage, storage_adapter: StorageAdapter, tmp_path: Path) -> None:
    storage.put_file(KEY, write(tmp_path / "a", b"a"), "text/plain")
    url = storage.presigned_url(KEY, 60)
    if storage_adapter.presigns:
        assert url is not None and url.startswith(("http://", "https://"))
        response = httpx.get(url)  # a plain HTTP GET, no credentials
        assert response.status_code == 200, response.text
        assert response.content == b"a"
        assert response.headers["content-type"] == "text/plain"
    else:
        assert url is None


def test_check_passes_on_a_usable_storage(storage: Storage) -> None:
    storage.check()


def test_deleting_a_key_that_is_only_a_prefix_is_a_no_op(storage: Storage, tmp_path: Path) -> None:
    # `exists("prj_a")` is False here, so deleting it should be as harmless as any missing key.
    storage.put_file("prj_a/x", write(tmp_path / "a", b"a"), "text/plain")
    assert not storage.exists("prj_a")
    storage.delete("prj_a")
    assert storage.exists("prj_a/x")


def test_a_name_that_climbs_into_another_project_cannot_touch_its_object(
    storage: Storage, tmp_path: Path
) -> None:
    # The key project A's upload named `x/../../../../prj_b/uploads/file_1/v.mp4` got (a URL
    # ingest used to decode `%2F` into such a name): normalised, it is B's object.
    victim = "prj_b/uploads/file_1/v.mp4"
    storage.put_file(victim, write(tmp_path / "victim", b"victim's bytes"), "video/mp4")
    attack = "prj_a/uploads/file_2/x/../../../../prj_b/uploads/file_1/v.mp4"
    with pytest.raises(StorageError):
        storage.put_file(attack, write(tmp_path / "attacker", b"attacker's bytes"), "video/mp4")
    with pytest.raises(StorageError):
        storage.delete(attack)
    with pytest.raises(StorageError):
        list(storage.iter_bytes(attack))
    assert b"".join(storage.iter_bytes(victim)) == b"victim's bytes"


def test_stat_and_ranges_of_an_object(storage: Storage, tmp_path: Path, payload: bytes) -> None:
    before = time.time_ns()
    storage.put_file(KEY, write(tmp_path / "in.bin", payload), "application/octet-stream")
    size, mtime_ns = storage.object_stat(KEY)
    assert size == len(payload)
    assert before - 2_000_000_000 <= mtime_ns <= time.time_ns() + 2_000_000_000
    for start, stop in [(0, 100), (1_000_000, 2_100_000), (len(payload) - 7, len(payload))]:
        chunks = list(storage.iter_range(KEY, start, stop, chunk_size=300_000))
        assert b"".join(chunks) == payload[start:stop]
        assert all(len(chunk) <= 300_000 for chunk in chunks)
    assert b"".join(storage.iter_range(KEY, 5, 5)) == b""


def test_stat_or_range_of_a_missing_object_is_a_storage_error(storage: Storage) -> None:
    with pytest.raises(StorageError):
        storage.object_stat("prj_a/tsk_1/missing.bin")
    with pytest.raises(StorageError):
        storage.iter_range("prj_a/tsk_1/missing.bin", 0, 10)
