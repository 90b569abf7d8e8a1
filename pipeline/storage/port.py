"""What the API and the workers need from object storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol


class StorageError(Exception):
    """The object is missing, the key is not allowed, or the storage is unavailable.

    `retryable` marks failures that may pass on a later try (endpoint down, throttling).
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class Storage(Protocol):
    def put_file(self, key: str, path: Path, content_type: str) -> int:
        """Store the file at `path` under `key` (overwriting) and return its size."""
        ...

    def get_file(self, key: str, path: Path) -> None:
        """Copy the object to a local file."""
        ...

    def iter_bytes(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream the object's bytes."""
        ...

    def object_stat(self, key: str) -> tuple[int, int]:
        """The object's size and modification time in ns (an HTTP ETag's parts)."""
        ...

    def iter_range(
        self, key: str, start: int, stop: int, chunk_size: int = 256 * 1024
    ) -> Iterator[bytes]:
        """Stream bytes [start, stop) of the object (a Range request)."""
        ...

    def delete(self, key: str) -> None: ...

    def check(self) -> None:
        """Raise StorageError now if the storage cannot be used (missing bucket, bad keys)."""
        ...

    def exists(self, key: str) -> bool: ...

    def presigned_url(
        self,
        key: str,
        expires_in: int,
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
    ) -> str | None:
        """A direct download URL, or None when downloads go through the API (local disk).

        The response headers given are signed into the URL, so the object is served with the
        recorded type and disposition whatever it was stored with."""
        ...
