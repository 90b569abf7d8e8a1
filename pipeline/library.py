"""Files and media as a library: ingest from a URL, group into media, delete with the object.

The API's routes call these; they know the store and storage ports, not HTTP.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from operators.catalog import KINDS
from pipeline.config import Settings
from pipeline.fetch import download
from pipeline.ids import new_id, now_iso
from pipeline.storage import Storage, StorageError
from pipeline.storage.keys import name_or_fallback
from pipeline.store import FileRecord, LibraryPort, MediaRecord, TaskRecord
from pipeline.uploads import stored_upload


@dataclass(frozen=True)
class Labels:
    """What the client names a file with; all optional."""

    media_id: str | None = None
    ref: str | None = None
    folder: str | None = None
    metadata: dict[str, Any] | None = None


def media_record(project_id: str, kind: str | None = None, **fields: Any) -> MediaRecord:
    """A new media, not yet stored."""
    stamp = now_iso()
    return MediaRecord(
        id=new_id("med"), project_id=project_id, created=stamp, updated=stamp, kind=kind, **fields
    )


def new_media(
    store: LibraryPort, project_id: str, kind: str | None = None, **fields: Any
) -> MediaRecord:
    media = media_record(project_id, kind, **fields)
    store.create_media(media)
    return media


def keep_upload(
    path: Path,
    *,
    filename: str,
    content_type: str | None,
    project_id: str,
    labels: Labels,
    store: LibraryPort,
    storage: Storage,
    settings: Settings,
    start_automations: bool = False,
) -> FileRecord:
    """Store and probe a received file, and put it in its media (a new one unless named).
    A new media is the `media.created` event: with `start_automations`, the runs it
    triggers start in the same transaction as the file and media are written, so a crash
    leaves all of them or none."""
    record = stored_upload(
        path,
        filename=filename,
        content_type=content_type,
        project_id=project_id,
        storage=storage,
        max_pixels=settings.max_input_pixels,
    )
    media = media_record(project_id, record.kind) if labels.media_id is None else None
    kept = replace(
        record,
        media_id=labels.media_id or (media.id if media else None),
        ref=labels.ref,
        folder=labels.folder,
        metadata=labels.metadata if labels.metadata is not None else record.metadata,
    )
    store.keep_source(kept, media, trigger=start_automations and media is not None)
    return kept


def ingest_url(
    url: str,
    *,
    filename: str | None,
    project_id: str,
    labels: Labels,
    store: LibraryPort,
    storage: Storage,
    settings: Settings,
    start_automations: bool = False,
) -> FileRecord:
    """Download `url` (public addresses only, within the input limits), probe and keep it.

    Raises `pipeline.contract.errors.TaskError` (`input_unreachable`, `input_forbidden`,
    `input_too_large`) when the download fails."""
    work = settings.data_dir / "uploads"
    work.mkdir(parents=True, exist_ok=True)
    name = filename or _name_in(url)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        path = Path(tmp) / "download"
        download(
            url,
            path,
            max_bytes=settings.max_input_bytes,
            timeout_s=settings.fetch_timeout_s,
            allow_private=settings.allow_private_urls,
        )
        return keep_upload(
            path,
            filename=name,
            content_type=None,
            project_id=project_id,
            labels=labels,
            store=store,
            storage=storage,
            settings=settings,
            start_automations=start_automations,
        )


def remove_file(
    store: LibraryPort, storage: Storage, project_id: str, file_id: str
) -> FileRecord | None:
    """Delete the file's row, then its object; None when the project has no such file."""
    record = store.delete_file(project_id, file_id)
    if record is not None:
        with contextlib.suppress(StorageError):  # already gone; the row is what clients see
            storage.delete(record.storage_key)
    return record


def findings_for(store: LibraryPort, task: TaskRecord) -> tuple[tuple[str, str], ...]:
    """(kind, storage key) of the newest output of each kind the task's kind reads from the
    input's media (`KindSpec.reads_findings`); none for other kinds."""
    wanted = KINDS[task.kind].reads_findings
    if not wanted or task.media_id is None:
        return ()
    newest: dict[str, str] = {}
    for file in media_files(store, task.project_id, task.media_id):  # newest first
        if file.kind in wanted and file.task_id not in (None, task.id):
            newest.setdefault(file.kind, file.storage_key)
    return tuple(sorted(newest.items()))


def media_files(store: LibraryPort, project_id: str, media_id: str) -> list[FileRecord]:
    return store.list_files(project_id, page=1, limit=1000, media_id=media_id).items


def _name_in(url: str) -> str:
    """The URL's last path segment, decoded, when that is one plain name (`a%2F..%2Fb`
    decodes to `a/../b`: its last part `b` is kept); `download` otherwise."""
    return name_or_fallback(unquote(urlsplit(url).path.rsplit("/", 1)[-1]))
