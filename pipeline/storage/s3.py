"""Objects in an S3-compatible bucket (AWS, MinIO, R2, Ceph…) through boto3.

Credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID…, profiles, instance roles).
The client is created on first use, so building an S3Storage (in the API, or inside a Ray
actor from the storage URL) touches neither the network nor the credential chain.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from pipeline.storage.keys import check_key
from pipeline.storage.port import StorageError

MiB = 1024 * 1024
MULTIPART_THRESHOLD = 16 * MiB  # files at least this large go up in parts…
PART_SIZE = 16 * MiB  # …of this size (S3 needs at least 5 MiB for all but the last)
_MISSING = {"404", "NoSuchKey", "NotFound"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
_TRANSIENT = {"SlowDown", "RequestTimeout", "ServiceUnavailable", "InternalError", "Throttling"}


class S3Storage:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        *,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
    ) -> None:
        if not bucket:
            raise StorageError("an S3 storage URL needs a bucket: s3://bucket/optional/prefix")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=part_size
        )
        self._client: Any = None
        self._lock = threading.Lock()

    def put_file(self, key: str, path: Path, content_type: str) -> int:
        name = self._object_key(key)
        upload = self._s3().upload_file
        extra = {"ContentType": content_type}
        self._call(key, upload, str(path), self.bucket, name, ExtraArgs=extra, Config=self.transfer)
        return path.stat().st_size

    def get_file(self, key: str, path: Path) -> None:
        name = self._object_key(key)
        self._call(
            key, self._s3().download_file, self.bucket, name, str(path), Config=self.transfer
        )

    def iter_bytes(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        # Open the object now, so a missing one fails here rather than mid-stream.
        name = self._object_key(key)
        body = self._call(key, self._s3().get_object, Bucket=self.bucket, Key=name)["Body"]
        return _stream(body, chunk_size)

    def object_stat(self, key: str) -> tuple[int, int]:
        """The object's size and modification time (ns, whole seconds on S3)."""
        name = self._object_key(key)
        head = self._call(key, self._s3().head_object, Bucket=self.bucket, Key=name)
        return int(head["ContentLength"]), int(head["LastModified"].timestamp()) * 1_000_000_000

    def iter_range(
        self, key: str, start: int, stop: int, chunk_size: int = 256 * 1024
    ) -> Iterator[bytes]:
        """Stream bytes [start, stop) of the object with one ranged GET."""
        if stop <= start:
            return iter(())
        name = self._object_key(key)
        span = f"bytes={start}-{stop - 1}"
        got = self._call(key, self._s3().get_object, Bucket=self.bucket, Key=name, Range=span)
        return _stream(got["Body"], chunk_size)

    def delete(self, key: str) -> None:
        name = self._object_key(key)
        self._call(key, self._s3().delete_object, Bucket=self.bucket, Key=name)

    def exists(self, key: str) -> bool:
        name = self._object_key(key)
        try:
            self._s3().head_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            raise self._error(key, exc) from exc
        except BotoCoreError as exc:
            raise self._error(key, exc) from exc
        return True

    def check(self) -> None:
        try:
            self._s3().head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(None, exc) from exc

    def presigned_url(
        self,
        key: str,
        expires_in: int,
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
    ) -> str | None:
        params = {"Bucket": self.bucket, "Key": self._object_key(key)}
        # S3's response-* overrides: part of the signature, so a client cannot change them.
        if content_type:
            params["ResponseContentType"] = content_type
        if content_disposition:
            params["ResponseContentDisposition"] = content_disposition
        url: str = self._s3().generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_in
        )
        return url

    def _object_key(self, key: str) -> str:
        """The same keys as LocalStorage: plain parts only, refused rather than normalised
        (S3 itself would store `a/../b` as a key of its own)."""
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                # Path-style addressing: custom endpoints (MinIO, Ceph, an IP) rarely have
                # per-bucket DNS names.
                style = "path" if self.endpoint_url else "auto"
                config = Config(
                    s3={"addressing_style": style},
                    signature_version="s3v4",
                    connect_timeout=5,
                    read_timeout=30,  # a stalled call fails (and is retried), never hangs
                    retries={"mode": "standard", "max_attempts": 3},
                )
                session = boto3.session.Session()  # one per client: sessions are not thread-safe
                self._client = session.client("s3", endpoint_url=self.endpoint_url, config=config)
            return self._client

    def _call(self, key: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (ClientError, BotoCoreError, Boto3Error) as exc:  # Boto3Error: failed uploads
            raise self._error(key, exc) from exc

    def _error(self, key: str | None, exc: Exception) -> StorageError:
        where = f"s3://{self.bucket}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")
        code = _code(exc) if isinstance(exc, ClientError) else ""
        if isinstance(exc, NoCredentialsError):
            return StorageError(
                f"no S3 credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(or a profile / instance role)"
            )
        if isinstance(exc, EndpointConnectionError | ConnectionClosedError | ReadTimeoutError):
            return StorageError(f"cannot reach the S3 endpoint for {where}: {exc}", retryable=True)
        if code in _DENIED:
            return StorageError(
                f"access to {where} was denied ({code}): check AWS_ACCESS_KEY_ID, "
                "AWS_SECRET_ACCESS_KEY and the bucket's permissions"
            )
        if code in _MISSING | {"NoSuchBucket"}:
            if key is None or code == "NoSuchBucket":
                return StorageError(f"bucket {self.bucket!r} does not exist ({where})")
            return StorageError(f"no object at {key!r}")
        transient = code in _TRANSIENT or _status(exc) >= 500
        return StorageError(f"{where}: {exc}", retryable=transient)

    def __getstate__(self) -> dict[str, Any]:
        # The client and lock stay behind; a copy makes its own on first use.
        return {k: v for k, v in self.__dict__.items() if k not in {"_client", "_lock"}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _client=None, _lock=threading.Lock())


def _status(exc: Exception) -> int:
    if not isinstance(exc, ClientError):
        return 0
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _stream(body: Any, chunk_size: int) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()
