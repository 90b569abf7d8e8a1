"""The store over one SQL database: a role object per port (sql*.py), each holding the same
`Database`, and `SqlStore`, which answers every `Store` method from the role it belongs to.
The SQLite and PostgreSQL adapters are an `SqlStore` over their own database (docs/
ARCHITECTURE.md, "A store adapter")."""

from __future__ import annotations

from typing import Any

from pipeline.store.database import Database
from pipeline.store.port import (
    AutomationRecord,
    EndpointRecord,
    EventRecord,
    FileRecord,
    HttpStep,
    Idempotent,
    MediaRecord,
    Page,
    RunRecord,
    TaskPage,
    TaskQuery,
    TaskRecord,
    WebhookEvent,
    WebhookSecret,
)
from pipeline.store.sql import SqlOutbox, SqlQueue, SqlTasks
from pipeline.store.sql_events import SqlEndpoints
from pipeline.store.sql_library import SqlIdempotency, SqlLibrary, insert_media, upsert_file
from pipeline.store.sql_runs import SqlAutomations, SqlRuns
from pipeline.store.sql_secrets import SqlWebhookSecrets
from pipeline.store.sql_workers import SqlWorkerReports


class SqlStore:
    """Every role over `database`. Its methods only say which role answers; `api_reads`
    is the adapter's (it depends on the driver)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.tasks = SqlTasks(database)
        self.queue = SqlQueue(database)
        self.workers = SqlWorkerReports(database)
        self.outbox = SqlOutbox(database)
        self.secrets = SqlWebhookSecrets(database)
        self.library = SqlLibrary(database)
        self.idempotency = SqlIdempotency(database)
        self.automations = SqlAutomations(database)
        self.runs = SqlRuns(database)
        self.endpoints = SqlEndpoints(database)

    # tasks --------------------------------------------------------------------

    def create_task(self, task: TaskRecord, media: MediaRecord | None = None) -> None:
        return self.tasks.create_task(task, media)

    def get_task(self, project_id: str, task_id: str) -> TaskRecord | None:
        return self.tasks.get_task(project_id, task_id)

    def get_task_with_input(
        self, project_id: str, task_id: str
    ) -> tuple[TaskRecord | None, FileRecord | None]:
        return self.tasks.get_task_with_input(project_id, task_id)

    def list_tasks(self, project_id: str, query: TaskQuery) -> TaskPage:
        return self.tasks.list_tasks(project_id, query)

    def cancel(self, project_id: str, task_id: str) -> TaskRecord | None:
        return self.tasks.cancel(project_id, task_id)

    # queue --------------------------------------------------------------------

    def lease(
        self, owner: str, kinds: list[str], limit: int, lease_s: float, max_attempts: int
    ) -> list[TaskRecord]:
        return self.queue.lease(owner, kinds, limit, lease_s, max_attempts)

    def heartbeat(self, task_id: str, owner: str, lease_s: float) -> bool:
        return self.queue.heartbeat(task_id, owner, lease_s)

    def complete(
        self, task_id: str, owner: str, output: FileRecord, ran_on: str | None = None
    ) -> bool:
        return self.queue.complete(task_id, owner, output, ran_on)

    def release(self, task_id: str, owner: str) -> bool:
        return self.queue.release(task_id, owner)

    def set_progress(self, task_id: str, owner: str, progress: int) -> bool:
        return self.queue.set_progress(task_id, owner, progress)

    def fail(
        self, task_id: str, owner: str, code: str, message: str, retry_in: float | None
    ) -> bool:
        return self.queue.fail(task_id, owner, code, message, retry_in)

    def queue_depth(self) -> dict[str, dict[str, int]]:
        return self.queue.queue_depth()

    # workers ------------------------------------------------------------------

    def report_worker(self, owner: str, state: dict[str, Any]) -> None:
        return self.workers.report_worker(owner, state)

    def worker_reports(self, max_age_s: float) -> list[dict[str, Any]]:
        return self.workers.worker_reports(max_age_s)

    def forget_worker(self, owner: str) -> None:
        return self.workers.forget_worker(owner)

    def count_errors(self, code: str) -> int:
        return self.workers.count_errors(code)

    # outbox -------------------------------------------------------------------

    def claim_webhooks(self, limit: int, lease_s: float) -> list[WebhookEvent]:
        return self.outbox.claim_webhooks(limit, lease_s)

    def webhook_sent(self, event_id: str) -> None:
        return self.outbox.webhook_sent(event_id)

    def webhook_failed(self, event_id: str, error: str, retry_in: float | None) -> None:
        return self.outbox.webhook_failed(event_id, error, retry_in)

    # secrets ------------------------------------------------------------------

    def webhook_secrets(self, project_id: str) -> list[WebhookSecret]:
        return self.secrets.webhook_secrets(project_id)

    def ensure_webhook_secret(
        self, project_id: str, secret: str, *, legacy: str | None, legacy_until: float
    ) -> list[WebhookSecret]:
        return self.secrets.ensure_webhook_secret(
            project_id, secret, legacy=legacy, legacy_until=legacy_until
        )

    def rotate_webhook_secret(
        self, project_id: str, secret: str, previous_until: float
    ) -> list[WebhookSecret]:
        return self.secrets.rotate_webhook_secret(project_id, secret, previous_until)

    # library ------------------------------------------------------------------

    def create_file(self, file: FileRecord) -> None:
        return self.library.create_file(file)

    def get_file(self, project_id: str | None, file_id: str) -> FileRecord | None:
        return self.library.get_file(project_id, file_id)

    def list_files(
        self, project_id: str, page: int, limit: int, media_id: str | None = None
    ) -> Page[FileRecord]:
        return self.library.list_files(project_id, page, limit, media_id)

    def find_file(self, project_id: str, folder: str | None, filename: str) -> FileRecord | None:
        return self.library.find_file(project_id, folder, filename)

    def update_file(
        self, project_id: str, file_id: str, changes: dict[str, Any]
    ) -> FileRecord | None:
        return self.library.update_file(project_id, file_id, changes)

    def delete_file(self, project_id: str, file_id: str) -> FileRecord | None:
        return self.library.delete_file(project_id, file_id)

    def original_file(self, project_id: str, media_id: str) -> FileRecord | None:
        return self.library.original_file(project_id, media_id)

    def create_media(self, media: MediaRecord) -> None:
        return self.library.create_media(media)

    def keep_source(
        self, file: FileRecord, media: MediaRecord | None, *, trigger: bool
    ) -> list[RunRecord]:
        # Library and runs in one transaction (a role each, one database).
        with self.database.transaction() as db:
            if media is not None:
                insert_media(self.database, db, media)
            upsert_file(self.database, db, file)
            return self.runs.start_triggered_runs(db, file) if trigger else []

    def get_media(self, project_id: str, media_id: str) -> MediaRecord | None:
        return self.library.get_media(project_id, media_id)

    def list_media(self, project_id: str, page: int, limit: int) -> Page[MediaRecord]:
        return self.library.list_media(project_id, page, limit)

    def update_media(
        self, project_id: str, media_id: str, changes: dict[str, Any]
    ) -> MediaRecord | None:
        return self.library.update_media(project_id, media_id, changes)

    def delete_media(self, project_id: str, media_id: str) -> MediaRecord | None:
        return self.library.delete_media(project_id, media_id)

    # idempotency --------------------------------------------------------------

    def claim_idempotency(
        self, project_id: str, key: str, fingerprint: str, ttl_s: float
    ) -> Idempotent | None:
        return self.idempotency.claim_idempotency(project_id, key, fingerprint, ttl_s)

    def finish_idempotency(
        self, project_id: str, key: str, status: int, body: bytes, content_type: str | None
    ) -> None:
        return self.idempotency.finish_idempotency(project_id, key, status, body, content_type)

    def release_idempotency(self, project_id: str, key: str) -> None:
        return self.idempotency.release_idempotency(project_id, key)

    # automations ----------------------------------------------------------------

    def create_automation(self, automation: AutomationRecord) -> None:
        return self.automations.create_automation(automation)

    def get_automation(self, project_id: str, automation_id: str) -> AutomationRecord | None:
        return self.automations.get_automation(project_id, automation_id)

    def list_automations(self, project_id: str, page: int, limit: int) -> Page[AutomationRecord]:
        return self.automations.list_automations(project_id, page, limit)

    def update_automation(
        self, project_id: str, automation_id: str, changes: dict[str, Any]
    ) -> AutomationRecord | None:
        return self.automations.update_automation(project_id, automation_id, changes)

    def delete_automation(self, project_id: str, automation_id: str) -> bool:
        return self.automations.delete_automation(project_id, automation_id)

    # runs -----------------------------------------------------------------------

    def start_run(self, run: RunRecord, input_file: FileRecord) -> RunRecord:
        return self.runs.start_run(run, input_file)

    def get_run(self, project_id: str, run_id: str) -> RunRecord | None:
        return self.runs.get_run(project_id, run_id)

    def run_tasks(self, run_id: str) -> list[TaskRecord]:
        return self.runs.run_tasks(run_id)

    def run_http_steps(self, run_id: str) -> dict[str, HttpStep]:
        return self.runs.run_http_steps(run_id)

    def list_runs(
        self, project_id: str, page: int, limit: int, automation_id: str | None = None
    ) -> Page[RunRecord]:
        return self.runs.list_runs(project_id, page, limit, automation_id)

    # webhook endpoints and events -------------------------------------------------

    def create_endpoint(self, endpoint: EndpointRecord) -> None:
        return self.endpoints.create_endpoint(endpoint)

    def get_endpoint(self, project_id: str | None, endpoint_id: str) -> EndpointRecord | None:
        return self.endpoints.get_endpoint(project_id, endpoint_id)

    def list_endpoints(self, project_id: str, page: int, limit: int) -> Page[EndpointRecord]:
        return self.endpoints.list_endpoints(project_id, page, limit)

    def delete_endpoint(self, project_id: str, endpoint_id: str) -> bool:
        return self.endpoints.delete_endpoint(project_id, endpoint_id)

    def list_events(
        self, project_id: str, page: int, limit: int, type_: str | None = None
    ) -> Page[EventRecord]:
        return self.endpoints.list_events(project_id, page, limit, type_)
