"""Objects as files under one directory (the embedded default)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pipeline.storage.keys import check_key
from pipeline.storage.port import StorageError


class LocalStorage:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def put_file(self, key: str, path: Path, content_type: str) -> int:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy beside the target then rename, so readers never see half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target.stat().st_size

    def get_file(self, key: str, path: Path) -> None:
        shutil.copyfile(self._existing(key), path)

    def iter_bytes(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        # Open now, so a missing object fails here rather than mid-response.
        source = self._existing(key).open("rb")

        def chunks() -> Iterator[bytes]:
            with source:
                while chunk := source.read(chunk_size):
                    yield chunk

        return chunks()

    def object_stat(self, key: str) -> tuple[int, int]:
        """The object's size and modification time (ns): what an HTTP ETag is made from."""
        info = self._existing(key).stat()
        return info.st_size, info.st_mtime_ns

    def iter_range(
        self, key: str, start: int, stop: int, chunk_size: int = 256 * 1024
    ) -> Iterator[bytes]:
        """Stream bytes [start, stop) of the object (a Range request), chunk by chunk."""
        source = self._existing(key).open("rb")
        source.seek(start)

        def chunks() -> Iterator[bytes]:
            left = stop - start
            with source:
                while left > 0 and (chunk := source.read(min(chunk_size, left))):
                    left -= len(chunk)
                    yield chunk

        return chunks()

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_file():
            path.unlink()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"{self.root} is not writable")

    def presigned_url(
        self,
        key: str,
        expires_in: int,
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
    ) -> str | None:
        return None

    def _existing(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise StorageError(f"no object at {key!r}")
        return path

    def _path(self, key: str) -> Path:
        # Refused, never normalised: `a/../b` is not another spelling of `b` here.
        path = self.root / check_key(key)
        if not path.resolve().is_relative_to(self.root):  # a link placed inside the root
            raise StorageError(f"object key {key!r} leads out of the storage root")
        return path
