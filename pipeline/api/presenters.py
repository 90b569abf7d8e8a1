"""Stored records -> the `2024-08-21` wire objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.storage import Storage
from pipeline.storage.signing import content_url, folder_url
from pipeline.store import FileRecord, TaskRecord

_RESOLVED = ("assets", "urls", "links")  # asset names in the record, URLs on the wire
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
        info = file.info
        extra = {k: v for k, v in info.items() if k not in _RESOLVED and k not in _FILE_INFO_FIELDS}
        wire: dict[str, Any] = {
            "id": file.id,
            "object": file.object,
            "kind": file.kind,
            **{name: info.get(name) for name in _FILE_INFO_FIELDS},
            **extra,
            "mimetype": file.mimetype,
            "filename": file.filename,
            "filesize": file.filesize,
            "url": self._main_url(file),
            "task_id": file.task_id,
            "created": timestamp(file.created),
            "updated": timestamp(file.updated),
        }
        if "urls" in info:
            wire["urls"] = [self._asset_url(file, name) for name in info["urls"]]
        if "links" in info:
            wire["links"] = {
                key: self._asset_url(file, name) for key, name in info["links"].items()
            }
        return wire

    def _main_url(self, file: FileRecord) -> str:
        if file.info.get("assets"):
            # Served from its folder, so a playlist's relative references resolve.
            return self._asset_url(file, file.filename)
        presigned = self.storage.presigned_url(file.storage_key, self.url_ttl_s)
        return presigned or content_url(self.base_url, self.secret, file.id, self.url_ttl_s)

    def _asset_url(self, file: FileRecord, name: str) -> str:
        return folder_url(self.base_url, self.secret, file.id, name, self.url_ttl_s)


def timestamp(stored: str) -> str:
    """`2026-01-02T03:04:05.678901Z` -> `2026-01-02T03:04:05.678Z` (ISO 8601, milliseconds)."""
    head, _, fraction = stored.rstrip("Z").partition(".")
    return f"{head}.{(fraction + '000')[:3]}Z"
