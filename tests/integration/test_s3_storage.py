"""What only S3 storage does, against a real S3-compatible server (moto over HTTP).

The shared storage contract (tests/contract/test_storage.py) runs on S3 too; these are the
extras: multipart uploads, the prefix, content types, start-up checks, key rules.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Generator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from pipeline.storage import StorageError, open_storage
from pipeline.storage.s3 import MULTIPART_THRESHOLD, S3Storage
from tests.support.s3 import enforced_auth, iam_access_key, list_keys, new_bucket, s3_client

MiB = 1024 * 1024
PREFIX = "media/strobe"


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    return new_bucket(s3_endpoint)


@pytest.fixture
def storage(s3_endpoint: str, bucket: str) -> S3Storage:
    return S3Storage(bucket, PREFIX, s3_endpoint)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_file_above_the_threshold_goes_up_in_parts(
    s3_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    storage = S3Storage(bucket, PREFIX, s3_endpoint, multipart_threshold=5 * MiB, part_size=5 * MiB)
    payload = os.urandom(11 * MiB)
    assert storage.put_file("prj_a/big.bin", write(tmp_path / "big", payload), "video/mp4") == len(
        payload
    )
    client, name = s3_client(s3_endpoint), f"{PREFIX}/prj_a/big.bin"
    assert client.head_object(Bucket=bucket, Key=name, PartNumber=1)["PartsCount"] == 3
    assert client.head_object(Bucket=bucket, Key=name)["ETag"].strip('"').endswith("-3")
    storage.get_file("prj_a/big.bin", tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == payload
    assert b"".join(storage.iter_bytes("prj_a/big.bin")) == payload


def test_a_file_below_the_threshold_is_one_put(
    s3_endpoint: str, bucket: str, storage: S3Storage, tmp_path: Path
) -> None:
    assert storage.transfer.multipart_threshold == MULTIPART_THRESHOLD == 16 * MiB
    storage.put_file("prj_a/small.bin", write(tmp_path / "small", os.urandom(6 * MiB)), "a/b")
    head = s3_client(s3_endpoint).head_object(Bucket=bucket, Key=f"{PREFIX}/prj_a/small.bin")
    assert "-" not in head["ETag"]


def test_objects_live_under_the_prefix_with_their_content_type(
    s3_endpoint: str, bucket: str, storage: S3Storage, tmp_path: Path
) -> None:
    storage.put_file("prj_a/tsk_1/poster.jpg", write(tmp_path / "a", b"jpeg"), "image/jpeg")
    storage.put_file("prj_b/x", write(tmp_path / "b", b"x"), "text/plain")
    assert list_keys(s3_endpoint, bucket) == [
        f"{PREFIX}/prj_a/tsk_1/poster.jpg",
        f"{PREFIX}/prj_b/x",
    ]
    head = s3_client(s3_endpoint).head_object(Bucket=bucket, Key=f"{PREFIX}/prj_a/tsk_1/poster.jpg")
    assert head["ContentType"] == "image/jpeg"
    # Another prefix in the same bucket is another storage.
    assert not S3Storage(bucket, "elsewhere", s3_endpoint).exists("prj_b/x")


def test_presigned_urls_carry_the_expiry(storage: S3Storage, tmp_path: Path) -> None:
    # (moto does not enforce the expiry itself, so the signed parameter is what is checked)
    storage.put_file("prj_a/x", write(tmp_path / "a", b"data"), "text/plain")
    url = storage.presigned_url("prj_a/x", 3600)
    assert url is not None
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["3600"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert urlsplit(url).path.endswith(f"/{PREFIX}/prj_a/x")
    assert httpx.get(url).content == b"data"


def test_presigned_urls_serve_the_recorded_type_and_disposition(
    storage: S3Storage, tmp_path: Path
) -> None:
    # Stored as HTML (what a client claimed), linked as the type Strobe recorded, as a download.
    page = b"<html><script>alert(1)</script></html>"
    storage.put_file("prj_a/x", write(tmp_path / "a", page), "text/html")
    disposition = "attachment; filename=\"x.html\"; filename*=UTF-8''x.html"
    url = storage.presigned_url(
        "prj_a/x", 60, content_type="application/octet-stream", content_disposition=disposition
    )
    assert url is not None
    response = httpx.get(url)
    assert response.content == page
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == disposition
    # Query parameters, so inside what SigV4 signs (moto cannot check presigned signatures).
    query = parse_qs(urlsplit(url).query)
    assert query["response-content-disposition"] == [disposition]


def test_keys_are_refused_not_normalised_and_never_leave_the_prefix(
    s3_endpoint: str, bucket: str, storage: S3Storage, tmp_path: Path
) -> None:
    source = write(tmp_path / "in", b"data")
    storage.put_file("prj_a/x", source, "text/plain")
    # `prj_a/tmp/../x` would be `prj_a/x` once normalised: refused as it is, like on disk.
    for key in ["prj_a/tmp/../x", "../x", "prj_a/../../x", "/x", "..", "prj_a/../..", "prj_a//x"]:
        with pytest.raises(StorageError, match="object key"):
            storage.put_file(key, source, "text/plain")
        with pytest.raises(StorageError, match="object key"):
            storage.presigned_url(key, 60)
    assert list_keys(s3_endpoint, bucket) == [f"{PREFIX}/prj_a/x"]


def test_a_missing_object_leaves_no_local_file(storage: S3Storage, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no object at 'prj_a/missing'"):
        storage.get_file("prj_a/missing", tmp_path / "copy")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StorageError, match="no object"):
        storage.iter_bytes("prj_a/missing")  # fails when opened, before any byte is streamed


def test_streaming_reads_chunk_by_chunk(storage: S3Storage, tmp_path: Path) -> None:
    payload = os.urandom(3 * MiB)
    storage.put_file("prj_a/x", write(tmp_path / "a", payload), "application/octet-stream")
    chunks = storage.iter_bytes("prj_a/x", chunk_size=64 * 1024)
    assert next(chunks) == payload[: 64 * 1024]
    assert isinstance(chunks, Generator)
    chunks.close()  # a client that goes away: the connection is released


def test_writing_into_a_missing_bucket_is_a_storage_error(s3_endpoint: str, tmp_path: Path) -> None:
    storage = S3Storage("strobe-no-such-bucket", "", s3_endpoint)
    with pytest.raises(StorageError, match="strobe-no-such-bucket"):
        storage.put_file("prj_a/x", write(tmp_path / "a", b"data"), "text/plain")
    with pytest.raises(StorageError, match="does not exist"):
        storage.iter_bytes("prj_a/x")


def test_check_on_a_missing_bucket(s3_endpoint: str) -> None:
    storage = S3Storage("strobe-no-such-bucket", "", s3_endpoint)
    with pytest.raises(StorageError) as caught:
        storage.check()
    message = str(caught.value)
    assert "'strobe-no-such-bucket' does not exist" in message and s3_endpoint in message


@pytest.mark.parametrize("wrong", ["secret", "key id"])
def test_check_with_wrong_credentials(
    s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch, wrong: str
) -> None:
    key_id, secret = iam_access_key(s3_endpoint)
    with enforced_auth(s3_endpoint):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        S3Storage(bucket, PREFIX, s3_endpoint).check()  # the right ones pass
        if wrong == "secret":
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        else:
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
        with pytest.raises(StorageError) as caught:
            S3Storage(bucket, PREFIX, s3_endpoint).check()
    message = str(caught.value)
    assert "denied" in message and "AWS_ACCESS_KEY_ID" in message and bucket in message


def test_check_without_credentials(
    s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(StorageError, match="no S3 credentials.*AWS_ACCESS_KEY_ID"):
        S3Storage(bucket, PREFIX, s3_endpoint).check()


def test_check_on_an_endpoint_where_nothing_listens() -> None:
    started = time.monotonic()
    with pytest.raises(StorageError, match="cannot reach the S3 endpoint"):
        S3Storage("bucket", "", "http://127.0.0.1:9").check()  # discard port
    assert time.monotonic() - started < 15


def test_open_storage_reads_the_url(s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    storage = open_storage(f"s3://{bucket}/{PREFIX}/", s3_endpoint)
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix, storage.endpoint_url) == (bucket, PREFIX, s3_endpoint)
    storage.check()
    assert open_storage(f"s3://{bucket}").prefix == ""  # type: ignore[attr-defined]
    assert open_storage(f"s3://{bucket}").endpoint_url is None  # type: ignore[attr-defined]
    with pytest.raises(StorageError, match="needs a bucket"):
        open_storage("s3:///prefix")
    with pytest.raises(StorageError, match="s3://bucket/prefix"):
        open_storage("gs://bucket")


def test_a_used_storage_pickles_and_the_copy_works(storage: S3Storage, tmp_path: Path) -> None:
    storage.put_file("prj_a/x", write(tmp_path / "a", b"data"), "text/plain")  # client made
    copy = pickle.loads(pickle.dumps(storage))
    assert b"".join(copy.iter_bytes("prj_a/x")) == b"data"
