"""Resumable uploads held on the API's disk until they are whole (the tus protocol's state;
the routes are pipeline/api/routes_uploads.py).

Each upload is two files under `{root}/{project}/`: `{id}.json` (what was declared: length,
file name and type, expiry; then the stored file's ids) and `{id}.part` (the bytes so far;
its size is the offset). A write holds an exclusive lock on the `.part` file, so two PATCHes
of one upload cannot interleave. Ids are made here and checked by pattern before any path
is built from one; uploads not finished within `ttl_s` are removed.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import BinaryIO

from pipeline.ids import new_id
from pipeline.storage.keys import name_problem

_ID = re.compile(r"upl_[a-z0-9]{12,40}")
SWEEP_EVERY_S = 60.0  # how often expired uploads are looked for (a sweep reads every record)


class UploadBusy(Exception):
    """Another request is writing this upload now."""


@dataclass(frozen=True)
class Upload:
    id: str
    project_id: str
    length: int
    filename: str
    filetype: str | None
    expires: float  # Unix time
    file_id: str | None = None  # once whole: the stored file and its media
    media_id: str | None = None


class ResumableUploads:
    def __init__(self, root: Path, ttl_s: float = 24 * 3600) -> None:
        self.root, self.ttl_s = root, ttl_s

    def create(self, project_id: str, length: int, filename: str, filetype: str | None) -> Upload:
        self.sweep_now_and_then()
        upload = Upload(
            id=new_id("upl"),
            project_id=project_id,
            length=length,
            filename=filename,
            filetype=filetype,
            expires=time.time() + self.ttl_s,
        )
        folder = self._folder(project_id)
        folder.mkdir(parents=True, exist_ok=True)
        self.data(upload).touch()
        self._save(upload)
        return upload

    def get(self, project_id: str, upload_id: str) -> Upload | None:
        """The project's upload, or None (unknown, another project's, or expired)."""
        if not _ID.fullmatch(upload_id) or name_problem(project_id):
            return None
        try:
            found = Upload(
                **json.loads((self._folder(project_id) / f"{upload_id}.json").read_text())
            )
        except (OSError, ValueError, TypeError):
            return None
        if found.file_id is None and found.expires < time.time():
            self.delete(found)
            return None
        return found

    def offset(self, upload: Upload) -> int:
        try:
            return self.data(upload).stat().st_size
        except FileNotFoundError:
            return upload.length if upload.file_id else 0

    def data(self, upload: Upload) -> Path:
        return self._folder(upload.project_id) / f"{upload.id}.part"

    @contextmanager
    def writing(self, upload: Upload) -> Iterator[BinaryIO]:
        """The `.part` file open for appending, locked; UploadBusy if another holds it. What
        is written is on disk (fsync) before the lock is let go, even when the request
        breaks off half way: those bytes are the offset a client resumes from."""
        with self.data(upload).open("ab") as out:
            try:
                fcntl.flock(out, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadBusy(upload.id) from None
            try:
                yield out
            finally:
                out.flush()
                os.fsync(out.fileno())

    def truncate(self, upload: Upload, offset: int) -> None:
        with self.data(upload).open("r+b") as out:
            out.truncate(offset)

    def finished(self, upload: Upload, file_id: str, media_id: str | None) -> Upload:
        """Record the stored file; the bytes, now in storage, are let go."""
        done = replace(upload, file_id=file_id, media_id=media_id)
        self._save(done)
        self.data(upload).unlink(missing_ok=True)
        return done

    def delete(self, upload: Upload) -> None:
        self.data(upload).unlink(missing_ok=True)
        (self._folder(upload.project_id) / f"{upload.id}.json").unlink(missing_ok=True)

    def sweep_now_and_then(self) -> None:
        """`sweep`, at most once a `SWEEP_EVERY_S` for all API processes on this disk: the
        marker file's modification time is when the last one began."""
        marker = self.root / ".swept"
        try:
            if time.time() - marker.stat().st_mtime < SWEEP_EVERY_S:
                return
        except FileNotFoundError:
            self.root.mkdir(parents=True, exist_ok=True)
        marker.touch()
        self.sweep()

    def sweep(self) -> None:
        """Remove uploads past their expiry (a finished one's record too, a day later)."""
        now = time.time()
        for record in self.root.glob("*/upl_*.json"):
            try:
                upload = Upload(**json.loads(record.read_text()))
            except (OSError, ValueError, TypeError):
                continue
            if upload.expires + (self.ttl_s if upload.file_id else 0) < now:
                self.delete(upload)

    def _folder(self, project_id: str) -> Path:
        return self.root / project_id

    def _save(self, upload: Upload) -> None:
        record = self._folder(upload.project_id) / f"{upload.id}.json"
        partial = record.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(upload)))
        os.replace(partial, record)
