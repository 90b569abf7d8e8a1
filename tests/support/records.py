"""Stored records for store, dispatcher and presenter tests, with explicit timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.ids import new_id
from pipeline.store import FileRecord, TaskRecord

_EPOCH = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def stamp(n: int = 0) -> str:
    """The n-th of a series of stored timestamps, one millisecond apart, in store format."""
    return (_EPOCH + timedelta(milliseconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def task_record(
    *,
    n: int = 0,
    project_id: str = "prj_a",
    kind: str = "image",
    status: str = "waiting",
    options: dict[str, Any] | None = None,
    input_url: str | None = "https://example.com/input.jpg",
    input_file_id: str | None = None,
    updated: str | None = None,
) -> TaskRecord:
    """A new task, created at `stamp(n)`."""
    return TaskRecord(
        id=new_id("tsk"),
        project_id=project_id,
        kind=kind,
        status=status,
        options={"format": "jpeg"} if options is None else options,
        created=stamp(n),
        updated=updated or stamp(n),
        input_url=None if input_file_id else input_url,
        input_file_id=input_file_id,
    )


def file_record(
    *,
    file_id: str | None = None,
    project_id: str = "prj_a",
    task_id: str | None = None,
    filesize: int = 1234,
    kind: str | None = "image",
    object_: str = "source",
    filename: str = "out.jpg",
    info: dict[str, Any] | None = None,
) -> FileRecord:
    file_id = file_id or new_id("file")
    return FileRecord(
        id=file_id,
        project_id=project_id,
        object=object_,
        kind=kind,
        filename=filename,
        mimetype="image/jpeg",
        filesize=filesize,
        storage_key=f"{project_id}/{task_id or file_id}/{filename}",
        created=stamp(),
        updated=stamp(),
        info={"format": "jpeg", "width": 64, "height": 48} if info is None else info,
        task_id=task_id,
    )


def output_for(task: TaskRecord, filesize: int = 1234) -> FileRecord:
    """The output file a worker would record for `task`."""
    return file_record(
        file_id="file_" + task.id.removeprefix("tsk_"),
        project_id=task.project_id,
        task_id=task.id,
        filesize=filesize,
        kind=task.kind,
    )
