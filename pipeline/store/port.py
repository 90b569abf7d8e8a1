"""The store: tasks (which are also the durable queue) and files.

Records here are the stored shapes; the API's wire shapes live in `pipeline.api`.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pipeline.ids import new_id, now_iso

T = TypeVar("T")
STATUSES = ("waiting", "processing", "ready", "error")
SORTS = ("created", "updated", "filesize")
ORDERS = ("asc", "desc")


@dataclass(frozen=True)
class FileRecord:
    id: str
    project_id: str
    object: str  # source | track | intelligence
    kind: str | None
    filename: str
    mimetype: str
    filesize: int
    storage_key: str
    created: str
    updated: str
    info: dict[str, Any] = field(default_factory=dict)  # probed: format, codec, width, …
    task_id: str | None = None
    media_id: str | None = None  # the media object the file belongs to
    ref: str | None = None  # the client's name for the file within its media
    folder: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # the client's, stored as given


@dataclass(frozen=True)
class TaskRecord:
    id: str
    project_id: str
    kind: str
    status: str
    options: dict[str, Any]
    created: str
    updated: str
    input_url: str | None = None
    input_file_id: str | None = None
    progress: int = 0
    error_code: str | None = None
    error_message: str | None = None
    attempts: int = 0
    lease_owner: str | None = None
    webhook_url: str | None = None
    ran_on: str | None = None  # the Ray node that produced the output
    media_id: str | None = None  # the input's media; the output joins it
    run_id: str | None = None  # the workflow run the task is a step of
    parent_id: str | None = None  # the step task whose output is this task's input
    step: str | None = None  # its step's path in the run's workflow (pipeline/workflow.py)
    output: FileRecord | None = None


@dataclass(frozen=True)
class AutomationRecord:
    """A workflow and the event that starts it; `plan` is the workflow resolved and checked
    (pipeline/workflow.py), `workflow` what the client sent, echoed back as sent."""

    id: str
    project_id: str
    name: str | None
    description: str | None
    trigger: dict[str, Any]
    workflow: list[Any]
    plan: list[Any]
    status: str  # active | paused
    created: str
    updated: str


@dataclass(frozen=True)
class RunRecord:
    """One run of a workflow on one input file. It carries its own copy of the plan, so a
    changed or deleted automation leaves its runs in flight alone."""

    id: str
    project_id: str
    automation_id: str | None
    plan: list[Any]
    file_id: str
    media_id: str | None
    status: str  # processing | ready | error
    decisions: dict[str, bool]  # a conditions step's path key -> whether its tests held
    created: str
    updated: str
    # `last` steps (a description) held until all else has ended: {step, input, parent}
    deferred: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def begin(
        cls, project_id: str, automation_id: str | None, plan: list[Any], file: FileRecord
    ) -> RunRecord:
        """A new run of `plan` on `file`, before its first steps are queued."""
        stamp = now_iso()
        return cls(
            id=new_id("run"),
            project_id=project_id,
            automation_id=automation_id,
            plan=plan,
            file_id=file.id,
            media_id=file.media_id,
            status="processing",
            decisions={},
            created=stamp,
            updated=stamp,
        )


@dataclass(frozen=True)
class HttpStep:
    """A workflow's http step, as its delivery in the outbox stands."""

    status: str  # processing (due or retrying) | ready (delivered) | error (given up)
    attempts: int
    error: str | None


@dataclass(frozen=True)
class WebhookEvent:
    """One notification in the outbox: written with the task's final state, sent later."""

    id: str
    task_id: str
    project_id: str
    url: str
    event: str  # task.ready | task.error; or an endpoint's event type (contract/events.py)
    attempts: int
    created: str
    endpoint_id: str | None = None  # a webhook endpoint's delivery; None: a task's webhook_url
    step: str | None = None  # a workflow's http step (its path key); `task_id` is the run's id


@dataclass(frozen=True)
class EndpointRecord:
    """A webhook endpoint: where a project's events of the subscribed types are sent."""

    id: str
    project_id: str
    url: str
    topics: list[str]
    secret: str  # Standard Webhooks `whsec_…` (pipeline/standard_webhooks.py)
    description: str | None
    created: str


@dataclass(frozen=True)
class EventRecord:
    id: str
    project_id: str
    type: str  # pipeline/contract/events.py
    object_id: str  # the task or run it is about
    created: str


@dataclass(frozen=True)
class WebhookSecret:
    """A project's webhook signing secret: the current one, or the one it replaced."""

    secret: str
    created: str
    expires: float | None = None  # Unix time it stops signing; None: the current secret


@dataclass(frozen=True)
class MediaRecord:
    """Groups an input file and the outputs made from it."""

    id: str
    project_id: str
    created: str
    updated: str
    kind: str | None = None
    title: str | None = None
    alt: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int


@dataclass(frozen=True)
class Idempotent:
    """A POST remembered under its `Idempotency-Key`; `status` is None while it runs."""

    fingerprint: str
    status: int | None
    body: bytes
    content_type: str | None
    created: float


@dataclass(frozen=True)
class Position:
    """A row's place in a sorted list: its sort value and its id (which breaks ties).

    The value is the `created` or `updated` stamp, or the output's filesize (None for a task
    with no output yet, listed after those that have one)."""

    value: str | int | None
    id: str


def position_of(task: TaskRecord, sort: str) -> Position:
    if sort == "filesize":
        return Position(task.output.filesize if task.output else None, task.id)
    return Position(task.updated if sort == "updated" else task.created, task.id)


@dataclass(frozen=True)
class TaskQuery:
    """One page of a project's tasks: by number (`page`), or the `limit` rows right after
    or right before a position (keyset paging: as fast at any depth, stable under inserts)."""

    page: int = 1
    limit: int = 12
    sort: str = "created"
    order: str = "desc"
    kind: str | None = None
    status: str | None = None
    after: Position | None = None
    before: Position | None = None


@dataclass(frozen=True)
class TaskPage:
    items: list[TaskRecord]
    total: int  # every task matching the filters, whatever the page
    more_before: bool = False  # rows precede the first item
    more_after: bool = False  # rows follow the last item


class StoreUnavailable(RuntimeError):
    """The database could not be reached, or did not answer, within its deadline. Nothing was
    written unless the operation says otherwise; the caller may retry later (the API answers
    503 with Retry-After)."""


class ApiReads(Protocol):
    """The reads the API makes on its event loop, with no hop to a worker thread: the hot
    reads by primary key (see docs/ARCHITECTURE.md, "The request path"). Each adapter has
    one (SQLite reads its local file directly; PostgreSQL uses an async connection pool)."""

    async def task_with_input(
        self, project_id: str, task_id: str
    ) -> tuple[TaskRecord | None, FileRecord | None]:
        """The task (with its output) and its input file, in one read; (None, None) when
        the project has no such task."""
        ...


class TasksPort(Protocol):
    """The tasks as the API sees them: create, read, list, cancel."""

    def api_reads(self) -> AbstractAsyncContextManager[ApiReads]:
        """Open the API's event-loop reads for the life of the running event loop (the app's
        lifespan); whatever they hold (a pool) is closed on exit, in the same loop."""
        ...

    def create_task(self, task: TaskRecord, media: MediaRecord | None = None) -> None:
        """Insert a waiting task; `media`, a new media its output will join, is inserted in
        the same transaction (one commit for a URL task)."""
        ...

    def get_task(self, project_id: str, task_id: str) -> TaskRecord | None: ...

    def get_task_with_input(
        self, project_id: str, task_id: str
    ) -> tuple[TaskRecord | None, FileRecord | None]:
        """The task and its input file in one query (what ApiReads.task_with_input returns)."""
        ...

    def list_tasks(self, project_id: str, query: TaskQuery) -> TaskPage: ...

    def cancel(self, project_id: str, task_id: str) -> TaskRecord | None:
        """Turn a waiting or processing task into `error` / `cancelled`; None if not found.
        A task already finished is returned unchanged."""
        ...


class QueuePort(Protocol):
    """The queue as a worker's dispatcher sees it: lease, renew, finish."""

    def lease(
        self, owner: str, kinds: list[str], limit: int, lease_s: float, max_attempts: int
    ) -> list[TaskRecord]:
        """Claim up to `limit` runnable tasks: waiting ones whose time has come, and
        processing ones whose lease expired (their worker died). Tasks that expired
        with no attempts left turn `error` / `worker_lost` instead."""
        ...

    def heartbeat(self, task_id: str, owner: str, lease_s: float) -> bool:
        """Extend the lease; False when `owner` no longer holds it."""
        ...

    def complete(
        self, task_id: str, owner: str, output: FileRecord, ran_on: str | None = None
    ) -> bool:
        """Record the output file and mark the task ready, if `owner` still holds it."""
        ...

    def release(self, task_id: str, owner: str) -> bool:
        """Give a task back to the queue unrun (worker shutdown); the attempt does not count."""
        ...

    def set_progress(self, task_id: str, owner: str, progress: int) -> bool:
        """0-100 while running; False when `owner` no longer holds the task."""
        ...

    def fail(
        self, task_id: str, owner: str, code: str, message: str, retry_in: float | None
    ) -> bool:
        """Mark the task `error`, or with `retry_in` put it back to wait that long."""
        ...

    def queue_depth(self) -> dict[str, dict[str, int]]:
        """Tasks not finished, per kind, over all projects: `{kind: {"waiting": n,
        "processing": n}}` (kinds with neither are left out). A task whose lease expired
        counts as waiting: any worker may claim it. The autoscaling signal."""
        ...


class WorkerReportsPort(Protocol):
    """What the workers run, reported by their dispatchers and read for /metrics."""

    def report_worker(self, owner: str, state: dict[str, Any]) -> None:
        """Record what a worker runs now (its actors, running tasks), replacing its last."""
        ...

    def worker_reports(self, max_age_s: float) -> list[dict[str, Any]]:
        """The states of workers that reported within `max_age_s` seconds."""
        ...

    def forget_worker(self, owner: str) -> None: ...

    def count_errors(self, code: str) -> int:
        """Tasks whose last attempt ended with `code` (finished, or waiting to retry)."""
        ...


class OutboxPort(Protocol):
    """Webhook notifications waiting to be sent (written with the task that finishes)."""

    def claim_webhooks(self, limit: int, lease_s: float) -> list[WebhookEvent]:
        """Take up to `limit` due notifications for `lease_s` seconds (other senders skip them)."""
        ...

    def webhook_sent(self, event_id: str) -> None: ...

    def webhook_failed(self, event_id: str, error: str, retry_in: float | None) -> None:
        """Record a failed delivery; send again after `retry_in` s, or give up when None."""
        ...


class WebhookSecretsPort(Protocol):
    """Each project's webhook signing secrets."""

    def webhook_secrets(self, project_id: str) -> list[WebhookSecret]:
        """The project's signing secrets still valid: the current one first, then the one it
        replaced while that one's overlap lasts. Empty when the project has none yet."""
        ...

    def ensure_webhook_secret(
        self, project_id: str, secret: str, *, legacy: str | None, legacy_until: float
    ) -> list[WebhookSecret]:
        """Give a project with no valid secret `secret` as its current one (and `legacy`,
        valid until `legacy_until`, as the one it replaced); returns the valid secrets,
        whoever created them."""
        ...

    def rotate_webhook_secret(
        self, project_id: str, secret: str, previous_until: float
    ) -> list[WebhookSecret]:
        """Make `secret` the current one; the one it replaces stays valid until
        `previous_until` (Unix time; not at all if past), any older one stops now."""
        ...


class LibraryPort(Protocol):
    """Files (uploads and outputs) and the media that group them."""

    def create_file(self, file: FileRecord) -> None: ...

    def keep_source(
        self, file: FileRecord, media: MediaRecord | None, *, trigger: bool
    ) -> list[RunRecord]:
        """A received file, with its new `media` when it starts one, in one transaction; with
        `trigger` (the `media.created` event), in the same transaction a run of each of the
        project's active automations on it (returned). A crash leaves all or nothing."""
        ...

    def get_file(self, project_id: str | None, file_id: str) -> FileRecord | None:
        """A project's file; `project_id=None` only for links whose signature was checked."""
        ...

    def list_files(
        self, project_id: str, page: int, limit: int, media_id: str | None = None
    ) -> Page[FileRecord]:
        """Newest first; with `media_id`, that media's files only."""
        ...

    def find_file(self, project_id: str, folder: str | None, filename: str) -> FileRecord | None:
        """The newest file of the project stored under `folder`/`filename`."""
        ...

    def update_file(
        self, project_id: str, file_id: str, changes: dict[str, Any]
    ) -> FileRecord | None:
        """Set any of `ref`, `folder`, `filename`, `metadata`, `media_id`; None if not found."""
        ...

    def delete_file(self, project_id: str, file_id: str) -> FileRecord | None:
        """Remove the row and return what it was (the caller removes the object)."""
        ...

    def original_file(self, project_id: str, media_id: str) -> FileRecord | None:
        """The media's first uploaded file (not a task's output), if it has one."""
        ...

    def create_media(self, media: MediaRecord) -> None: ...

    def get_media(self, project_id: str, media_id: str) -> MediaRecord | None: ...

    def list_media(self, project_id: str, page: int, limit: int) -> Page[MediaRecord]: ...

    def update_media(
        self, project_id: str, media_id: str, changes: dict[str, Any]
    ) -> MediaRecord | None:
        """Set any of `title`, `alt`, `metadata`, `kind`; None if not found."""
        ...

    def delete_media(self, project_id: str, media_id: str) -> MediaRecord | None:
        """Remove the media; its files stay, no longer grouped. None if not found."""
        ...


class AutomationsPort(Protocol):
    """Automations, as the API keeps them."""

    def create_automation(self, automation: AutomationRecord) -> None: ...

    def get_automation(self, project_id: str, automation_id: str) -> AutomationRecord | None: ...

    def list_automations(
        self, project_id: str, page: int, limit: int
    ) -> Page[AutomationRecord]: ...

    def update_automation(
        self, project_id: str, automation_id: str, changes: dict[str, Any]
    ) -> AutomationRecord | None: ...

    def delete_automation(self, project_id: str, automation_id: str) -> bool:
        """Runs already started finish; none start after."""
        ...


class RunsPort(Protocol):
    """Workflow runs. A run advances in the transaction of each step task that ends: a
    ready step's `next` tasks are inserted with it, and the run settles with its last task
    (pipeline/store/sql_runs.py)."""

    def start_run(self, run: RunRecord, input_file: FileRecord) -> RunRecord:
        """Insert the run and its first steps' tasks in one transaction."""
        ...

    def get_run(self, project_id: str, run_id: str) -> RunRecord | None: ...

    def run_tasks(self, run_id: str) -> list[TaskRecord]: ...

    def run_http_steps(self, run_id: str) -> dict[str, HttpStep]:
        """The run's http steps by path key: how their POST went."""
        ...

    def list_runs(
        self, project_id: str, page: int, limit: int, automation_id: str | None = None
    ) -> Page[RunRecord]: ...


class EndpointsPort(Protocol):
    """Webhook endpoints, and the events recorded for them (pipeline/store/sql_events.py)."""

    def create_endpoint(self, endpoint: EndpointRecord) -> None: ...

    def get_endpoint(self, project_id: str | None, endpoint_id: str) -> EndpointRecord | None: ...

    def list_endpoints(self, project_id: str, page: int, limit: int) -> Page[EndpointRecord]: ...

    def delete_endpoint(self, project_id: str, endpoint_id: str) -> bool: ...

    def list_events(
        self, project_id: str, page: int, limit: int, type_: str | None = None
    ) -> Page[EventRecord]: ...


class IdempotencyPort(Protocol):
    """Idempotency-Key records: a POST's answer kept for its retries."""

    def claim_idempotency(
        self, project_id: str, key: str, fingerprint: str, ttl_s: float
    ) -> Idempotent | None:
        """None: the key is new (or its record older than `ttl_s`) and is now held by the
        caller. Otherwise the record already there: finished, or still running."""
        ...

    def finish_idempotency(
        self, project_id: str, key: str, status: int, body: bytes, content_type: str | None
    ) -> None: ...

    def release_idempotency(self, project_id: str, key: str) -> None:
        """Forget a held key whose request did not succeed, so a retry runs again."""
        ...


class Store(
    TasksPort,
    QueuePort,
    WorkerReportsPort,
    OutboxPort,
    WebhookSecretsPort,
    LibraryPort,
    IdempotencyPort,
    AutomationsPort,
    RunsPort,
    EndpointsPort,
    Protocol,
):
    """Every role, over one database: what `open_store` returns. A part of Strobe that needs
    one role takes that port, so its dependency on the store is as small as its use."""
