"""The event types a webhook endpoint subscribes to, and `GET /events` lists.

Each is the end of a task or a run; its deliveries to endpoints are written in the
transaction that ends it, so an endpoint is never told of a change that did not commit,
nor a committed change left untold.
"""

from __future__ import annotations

TASK_SUCCEEDED = "task.succeeded"
TASK_FAILED = "task.failed"
RUN_SUCCEEDED = "run.succeeded"
RUN_FAILED = "run.failed"
TOPICS = (TASK_SUCCEEDED, TASK_FAILED, RUN_SUCCEEDED, RUN_FAILED)
