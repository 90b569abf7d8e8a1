"""The store port and its adapters."""

from __future__ import annotations

from pipeline.store.port import (
    FileRecord,
    Store,
    TaskPage,
    TaskQuery,
    TaskRecord,
    WebhookEvent,
)


def open_store(url: str) -> Store:
    """`sqlite:///path/strobe.db` -> SQLiteStore."""
    if url.startswith("sqlite:///"):
        from pipeline.store.sqlite import SQLiteStore

        return SQLiteStore(url.removeprefix("sqlite:///"))
    raise ValueError(f"STROBE_DATABASE_URL: unsupported database URL {url!r} (use sqlite:///…)")


__all__ = [
    "FileRecord",
    "Store",
    "TaskPage",
    "TaskQuery",
    "TaskRecord",
    "WebhookEvent",
    "open_store",
]
