"""Turn an uploaded file on local disk into a stored, probed `source` file (its bytes in
storage, its record for the caller to insert: pipeline/library.py keeps it with its media)."""

from __future__ import annotations

from pathlib import Path

from pipeline.content_types import probed_mimetype
from pipeline.contract.errors import TaskError
from pipeline.contract.media import MediaInfo
from pipeline.ids import new_id, now_iso
from pipeline.media.containers import describe, probe
from pipeline.storage import Storage
from pipeline.storage.keys import upload_key
from pipeline.store import FileRecord


def stored_upload(
    path: Path,
    *,
    filename: str,
    content_type: str | None,
    project_id: str,
    storage: Storage,
    max_pixels: int,
) -> FileRecord:
    try:
        info: MediaInfo | None = probe(path, max_pixels=max_pixels)
    except TaskError:
        info = None  # kept as a plain file; a task on it fails with a clear error
    mimetype = probed_mimetype(info, filename, content_type)
    file_id = new_id("file")
    key = upload_key(project_id, file_id, filename)  # UnsafeName for a name that is not plain
    size = storage.put_file(key, path, mimetype)
    stamp = now_iso()
    record = FileRecord(
        id=file_id,
        project_id=project_id,
        object="source",
        kind=_kind(info),
        filename=filename,
        mimetype=mimetype,
        filesize=size,
        storage_key=key,
        created=stamp,
        updated=stamp,
        info=describe(info) if info else {},
    )
    return record


def _kind(info: MediaInfo | None) -> str | None:
    if info is None:
        return None
    if info.is_image:
        return "image"
    return "video" if info.has_video else "audio"
