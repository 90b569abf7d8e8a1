"""Webhook endpoints and events in SQL.

An event is the end of a task or a run, listed from their rows (`list_events`).
`record_event` runs inside the transaction that ends one: for each of the project's
endpoints subscribed to its type it writes a delivery row in the outbox (the `webhooks`
table, with the endpoint's id), which the sender signs the Standard Webhooks way
(pipeline/webhooks.py). A task's own `webhook_url` keeps its own rows.
"""

from __future__ import annotations

import time

from pipeline.contract.events import RUN_FAILED, RUN_SUCCEEDED, TASK_FAILED, TASK_SUCCEEDED
from pipeline.ids import new_id
from pipeline.store.database import Connection, Database
from pipeline.store.port import EndpointRecord, EventRecord, Page
from pipeline.store.rows import (
    ENDPOINT_COLUMNS,
    EVENT_COLUMNS,
    endpoint_of,
    event_of,
    insert,
    listed,
    values,
)
from pipeline.store.sql_paging import newest_first

EVENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    url TEXT NOT NULL,
    topics TEXT NOT NULL,
    secret TEXT NOT NULL,
    description TEXT,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_endpoints_project ON webhook_endpoints (project_id, created);
ALTER TABLE webhooks ADD COLUMN endpoint_id TEXT;
ALTER TABLE webhooks ADD COLUMN step TEXT;
CREATE INDEX IF NOT EXISTS webhooks_run_step ON webhooks (task_id) WHERE step IS NOT NULL;
"""
_ENDPOINT_SELECT = f"SELECT {listed(ENDPOINT_COLUMNS)} FROM webhook_endpoints"
# The events are the ends of tasks and runs, read from their rows: an event costs a task's
# completion no write of its own (the queue's throughput is what pays for one).
_EVENTS = (
    "SELECT 'evt_' || id AS id, project_id, CASE status WHEN 'ready' THEN ? ELSE ? END AS type, "
    "id AS object_id, updated AS created FROM {table} "
    "WHERE project_id = ? AND status IN ('ready', 'error')"
)


class SqlEndpoints:
    """`EndpointsPort`."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def create_endpoint(self, endpoint: EndpointRecord) -> None:
        with self.database.transaction() as db:
            self.database.run(
                db,
                insert("webhook_endpoints", ENDPOINT_COLUMNS),
                values(endpoint, ENDPOINT_COLUMNS),
            )

    def get_endpoint(self, project_id: str | None, endpoint_id: str) -> EndpointRecord | None:
        """`project_id` None: any project's (the sender reads an outbox row's endpoint)."""
        clause, params = "id=?", [endpoint_id]
        if project_id is not None:
            clause, params = "id=? AND project_id=?", [endpoint_id, project_id]
        with self.database.connect() as db:
            row = self.database.run(db, f"{_ENDPOINT_SELECT} WHERE {clause}", params).fetchone()
        return endpoint_of(row) if row else None

    def list_endpoints(self, project_id: str, page: int, limit: int) -> Page[EndpointRecord]:
        columns = listed(ENDPOINT_COLUMNS)
        with self.database.connect() as db:
            rows, total = newest_first(
                self.database, db, "webhook_endpoints", columns, "project_id=?", [project_id],
                page, limit,
            )  # fmt: skip
        return Page([endpoint_of(r) for r in rows], total)

    def delete_endpoint(self, project_id: str, endpoint_id: str) -> bool:
        """Deliveries still due to it are given up by the sender."""
        with self.database.transaction() as db:
            cur = self.database.run(
                db,
                "DELETE FROM webhook_endpoints WHERE id=? AND project_id=?",
                (endpoint_id, project_id),
            )
            return cur.rowcount == 1

    def list_events(
        self, project_id: str, page: int, limit: int, type_: str | None = None
    ) -> Page[EventRecord]:
        parts, params = [], []
        for table, (ready, failed) in (
            ("tasks", (TASK_SUCCEEDED, TASK_FAILED)),
            ("runs", (RUN_SUCCEEDED, RUN_FAILED)),
        ):
            if type_ is None or type_ in (ready, failed):
                parts.append(_EVENTS.format(table=table))
                params += [ready, failed, project_id]
        union = f"({' UNION ALL '.join(parts)}) e"
        clause, kept = ("1=1", params) if type_ is None else ("type = ?", [*params, type_])
        with self.database.connect() as db:
            rows, total = newest_first(
                self.database, db, union, listed(EVENT_COLUMNS), clause, kept, page, limit
            )
        return Page([event_of(r) for r in rows], total)


def record_event(
    database: Database, db: Connection, project_id: str, type_: str, object_id: str, stamp: str
) -> None:
    """A delivery of the event to each endpoint subscribed to it, in the caller's commit: one
    write and no read, so a caller can send it pipelined with its own."""
    database.run(
        db,
        "INSERT INTO webhooks (id, task_id, project_id, url, event, due, created, endpoint_id) "
        "SELECT ? || '_' || e.id, ?, ?, e.url, ?, ?, ?, e.id FROM webhook_endpoints e "
        "WHERE e.project_id = ? AND e.topics LIKE ?",
        (
            new_id("msg"),  # and the endpoint's id: one delivery each
            object_id,
            project_id,
            type_,
            time.time(),
            stamp,
            project_id,
            f'%"{type_}"%',  # topics is a JSON list of plain names
        ),
    )
