"""Object storage for inputs and outputs, behind one port."""

from __future__ import annotations

from pipeline.storage.local import LocalStorage
from pipeline.storage.port import Storage, StorageError


def open_storage(url: str, endpoint_url: str | None = None) -> Storage:
    """`file:///path` -> LocalStorage. (`s3://bucket/prefix` arrives with the S3 adapter.)"""
    if url.startswith("file://"):
        return LocalStorage(url.removeprefix("file://"))
    raise StorageError(f"STROBE_STORAGE_URL: unsupported scheme in {url!r} (use file://…)")


__all__ = ["LocalStorage", "Storage", "StorageError", "open_storage"]
