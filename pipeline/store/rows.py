"""Row layouts, declared once: each table's columns in SELECT order, and the records they
make. The SQL modules build their SELECT, INSERT and RETURNING lists from these; a column
is added here (and in a migration, pipeline/store/migrations.py) and nowhere else.

A column's name is its record field's name. JSON columns hold dicts as text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pipeline.ids import now_iso
from pipeline.store.port import (
    AutomationRecord,
    EndpointRecord,
    EventRecord,
    FileRecord,
    MediaRecord,
    RunRecord,
    TaskRecord,
)

TASK_COLUMNS = (
    "id", "project_id", "kind", "status", "options", "created", "updated", "input_url",
    "input_file_id", "progress", "error_code", "error_message", "attempts", "lease_owner",
    "webhook_url", "ran_on", "media_id", "run_id", "parent_id", "step",
)  # fmt: skip
# What a new task is inserted with; the other columns start at their defaults.
NEW_TASK_COLUMNS = (
    "id", "project_id", "kind", "status", "input_url", "input_file_id", "options", "progress",
    "webhook_url", "created", "updated", "media_id", "run_id", "parent_id", "step",
)  # fmt: skip
FILE_COLUMNS = (
    "id", "project_id", "object", "kind", "filename", "mimetype", "filesize", "storage_key",
    "created", "updated", "info", "task_id", "media_id", "ref", "folder", "metadata",
)  # fmt: skip
MEDIA_COLUMNS = ("id", "project_id", "kind", "title", "alt", "metadata", "created", "updated")
AUTOMATION_COLUMNS = (
    "id", "project_id", "name", "description", "trigger", "workflow", "plan", "status",
    "created", "updated",
)  # fmt: skip
RUN_COLUMNS = (
    "id", "project_id", "automation_id", "plan", "file_id", "media_id", "status", "decisions",
    "created", "updated", "deferred",
)  # fmt: skip
ENDPOINT_COLUMNS = ("id", "project_id", "url", "topics", "secret", "description", "created")
EVENT_COLUMNS = ("id", "project_id", "type", "object_id", "created")
JSON_COLUMNS = frozenset(
    {
        "options",
        "info",
        "metadata",
        "trigger",
        "workflow",
        "plan",
        "decisions",
        "topics",
        "deferred",
    }
)

TASK_WIDTH = len(TASK_COLUMNS)  # where a joined row's file columns begin
FILE_WIDTH = len(FILE_COLUMNS)
NO_FILE = (None,) * FILE_WIDTH  # the file columns of a join without a file


def listed(columns: Sequence[str], alias: str = "") -> str:
    """`a.id, a.project_id, …` for a SELECT or RETURNING list."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + name for name in columns)


def insert(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({listed(columns)}) VALUES ({','.join('?' * len(columns))})"


def values(record: object, columns: Sequence[str]) -> tuple[Any, ...]:
    """The record's fields in `columns` order, JSON columns as text."""
    return tuple(
        json.dumps(getattr(record, name)) if name in JSON_COLUMNS else getattr(record, name)
        for name in columns
    )


def assignments(changes: dict[str, Any], allowed: tuple[str, ...]) -> tuple[str, list[Any]]:
    """`col = ?, …, updated = ?` and its values for an UPDATE; JSON columns as text."""
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    names = [name for name in allowed if name in changes]
    values = [json.dumps(changes[n]) if n in JSON_COLUMNS else changes[n] for n in names]
    sets = ", ".join([*(f"{name} = ?" for name in names), "updated = ?"])
    return sets, [*values, now_iso()]


def _fields(columns: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    return {
        name: json.loads(value) if name in JSON_COLUMNS else value
        for name, value in zip(columns, row, strict=True)
    }


def file_of(row: Sequence[Any]) -> FileRecord:
    fields = _fields(FILE_COLUMNS, row)
    fields["filesize"] = int(fields["filesize"])
    return FileRecord(**fields)


def task_of(row: Sequence[Any]) -> TaskRecord:
    """A task row followed by its output's file columns (all NULL when it has none)."""
    output = row[TASK_WIDTH:]
    return TaskRecord(
        **_fields(TASK_COLUMNS, row[:TASK_WIDTH]),
        output=file_of(output) if output[0] is not None else None,
    )


def media_of(row: Sequence[Any]) -> MediaRecord:
    return MediaRecord(**_fields(MEDIA_COLUMNS, row))


def automation_of(row: Sequence[Any]) -> AutomationRecord:
    return AutomationRecord(**_fields(AUTOMATION_COLUMNS, row))


def run_of(row: Sequence[Any]) -> RunRecord:
    return RunRecord(**_fields(RUN_COLUMNS, row))


def endpoint_of(row: Sequence[Any]) -> EndpointRecord:
    return EndpointRecord(**_fields(ENDPOINT_COLUMNS, row))


def event_of(row: Sequence[Any]) -> EventRecord:
    return EventRecord(**_fields(EVENT_COLUMNS, row))
