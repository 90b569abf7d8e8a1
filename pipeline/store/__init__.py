"""The store port and its adapters."""

from __future__ import annotations

from pipeline.store.port import (
    ApiReads,
    AutomationRecord,
    AutomationsPort,
    EndpointRecord,
    EndpointsPort,
    EventRecord,
    FileRecord,
    HttpStep,
    IdempotencyPort,
    Idempotent,
    LibraryPort,
    MediaRecord,
    OutboxPort,
    Page,
    Position,
    QueuePort,
    RunRecord,
    RunsPort,
    Store,
    StoreUnavailable,
    TaskPage,
    TaskQuery,
    TaskRecord,
    TasksPort,
    WebhookEvent,
    WebhookSecret,
    WebhookSecretsPort,
    WorkerReportsPort,
    position_of,
)


def open_store(url: str) -> Store:
    """`sqlite:///path/strobe.db` -> SQLiteStore; `postgresql://…` (or `postgres://…`) ->
    PostgresStore, which raises DatabaseUnavailable within seconds if the server is down."""
    if url.startswith("sqlite:///"):
        from pipeline.store.sqlite import SQLiteStore

        return SQLiteStore(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from pipeline.store.postgres import PostgresStore

        return PostgresStore(url)
    scheme = url.split("://", 1)[0] if "://" in url else url[:20]
    raise ValueError(
        f"STROBE_DATABASE_URL: unsupported database URL scheme {scheme!r} "
        "(use sqlite:///path or postgresql://user:password@host/db)"
    )


__all__ = [
    "ApiReads",
    "AutomationRecord",
    "AutomationsPort",
    "EndpointRecord",
    "EndpointsPort",
    "EventRecord",
    "FileRecord",
    "HttpStep",
    "IdempotencyPort",
    "Idempotent",
    "LibraryPort",
    "MediaRecord",
    "OutboxPort",
    "Page",
    "Position",
    "QueuePort",
    "RunRecord",
    "RunsPort",
    "Store",
    "StoreUnavailable",
    "TaskPage",
    "TaskQuery",
    "TaskRecord",
    "TasksPort",
    "WebhookEvent",
    "WebhookSecret",
    "WebhookSecretsPort",
    "WorkerReportsPort",
    "open_store",
    "position_of",
]
