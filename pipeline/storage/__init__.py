"""Object storage for inputs and outputs, behind one port."""

from __future__ import annotations

from urllib.parse import urlsplit

from pipeline.storage.local import LocalStorage
from pipeline.storage.port import Storage, StorageError


def open_storage(url: str, endpoint_url: str | None = None) -> Storage:
    """`file:///path` -> LocalStorage; `s3://bucket/optional/prefix` -> S3Storage.

    `endpoint_url` is the S3-compatible server (MinIO, R2, Ceph…); None means AWS.
    """
    if url.startswith("file://"):
        return LocalStorage(url.removeprefix("file://"))
    if url.startswith("s3://"):
        from pipeline.storage.s3 import S3Storage  # boto3 only where S3 is used

        parts = urlsplit(url)
        return S3Storage(parts.netloc, parts.path, endpoint_url)
    raise StorageError(
        f"STROBE_STORAGE_URL: unsupported scheme in {url!r} (use file://… or s3://bucket/prefix)"
    )


__all__ = ["LocalStorage", "Storage", "StorageError", "open_storage"]
