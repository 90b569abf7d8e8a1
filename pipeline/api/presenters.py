"""Stored records -> the `2024-08-21` wire objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.storage import Storage
from pipeline.storage.signing import content_url
from pipeline.store import FileRecord, TaskRecord

_FILE_INFO_FIELDS = (
    "format",
    "container",
    "codec",
    "width",
    "height",
    "duration",
    "fps",
    "bitrate",
)


@dataclass(frozen=True)
class Presenter:
    base_url: str
    secret: str
    storage: Storage
    url_ttl_s: int

    def task(self, task: TaskRecord) -> dict[str, Any]:
        if task.status == "ready" and task.output is not None:
            output = self.file(task.output)
        else:
            output = {"kind": task.kind, **task.options}
        error = None
        if task.status == "error":
            error = {"code": task.error_code, "message": task.error_message}
        return {
            "id": task.id,
            "object": "task",
            "kind": task.kind,
            "input": task.input_file_id or task.input_url,
            "output": output,
            "status": task.status,
            "progress": task.progress,
            "error": error,
            "created": timestamp(task.created),
            "updated": timestamp(task.updated),
        }

    def file(self, file: FileRecord) -> dict[str, Any]:
        url = self.storage.presigned_url(file.storage_key, self.url_ttl_s) or content_url(
            self.base_url, self.secret, file.id, self.url_ttl_s
        )
        return {
            "id": file.id,
            "object": file.object,
            "kind": file.kind,
            **{name: file.info.get(name) for name in _FILE_INFO_FIELDS},
            "mimetype": file.mimetype,
            "filename": file.filename,
            "filesize": file.filesize,
            "url": url,
            "task_id": file.task_id,
            "created": timestamp(file.created),
            "updated": timestamp(file.updated),
        }


def timestamp(stored: str) -> str:
    """`2026-01-02T03:04:05.678901Z` -> `2026-01-02T03:04:05.678Z` (ISO 8601, milliseconds)."""
    head, _, fraction = stored.rstrip("Z").partition(".")
    return f"{head}.{(fraction + '000')[:3]}Z"
