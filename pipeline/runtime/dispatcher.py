"""The worker loop: lease as many tasks as there are free actors, run, record, repeat."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from pipeline.executor import Job, JobResult
from pipeline.runtime.retry import RetryPolicy
from pipeline.store import Store, TaskRecord

log = logging.getLogger(__name__)


class ActorPool(Protocol):
    def free_slots(self, kind: str) -> int: ...

    def submit(self, job: Job) -> None: ...

    def wait(self, timeout_s: float) -> list[JobResult]:
        """Results of jobs that finished, waiting up to `timeout_s` for the first one."""
        ...


class Dispatcher:
    def __init__(
        self,
        store: Store,
        pool: ActorPool,
        *,
        owner: str,
        kinds: list[str],
        lease_s: float,
        retry: RetryPolicy,
        poll_s: float = 0.25,
    ) -> None:
        self.store, self.pool, self.owner, self.kinds = store, pool, owner, kinds
        self.lease_s, self.retry, self.poll_s = lease_s, retry, poll_s
        self.running: dict[str, TaskRecord] = {}
        self._last_heartbeat = time.monotonic()

    def run(self, should_stop: Callable[[], bool]) -> None:
        log.info("dispatcher %s serving kinds %s", self.owner, ", ".join(self.kinds))
        while not should_stop():
            leased = self.lease()
            for result in self.pool.wait(0.0 if leased else self.poll_s):
                self.record(result)
            self.heartbeat_if_due()
        self.release_all()

    def lease(self) -> int:
        leased = 0
        for kind in self.kinds:
            free = self.pool.free_slots(kind)
            if free <= 0:
                continue
            tasks = self.store.lease(
                self.owner, [kind], free, self.lease_s, self.retry.max_attempts
            )
            for task in tasks:
                job = self._job(task)
                if job is None:
                    continue
                self.running[task.id] = task
                self.pool.submit(job)
                leased += 1
        return leased

    def record(self, result: JobResult) -> None:
        task = self.running.pop(result.task_id, None)
        if task is None:
            return
        if result.output is not None:
            if not self.store.complete(task.id, self.owner, result.output):
                log.warning("task %s finished after its lease was lost; result dropped", task.id)
            return
        error = result.error
        delay = self.retry.delay_after(task.attempts) if error.get("retryable") else None
        self.store.fail(task.id, self.owner, error["code"], error["message"], delay)
        log.info(
            "task %s failed (%s): %s%s",
            task.id,
            error["code"],
            error["message"],
            "" if delay is None else f"; retrying in {delay:g} s",
        )

    def heartbeat_if_due(self) -> None:
        if time.monotonic() - self._last_heartbeat < self.lease_s / 3:
            return
        self._last_heartbeat = time.monotonic()
        for task_id in list(self.running):
            if not self.store.heartbeat(task_id, self.owner, self.lease_s):
                log.warning("lost the lease on task %s", task_id)

    def release_all(self) -> None:
        """On shutdown, hand running tasks back to the queue for another worker."""
        for task_id in list(self.running):
            self.store.fail(task_id, self.owner, "interrupted", "the worker stopped", 0.0)
        self.running.clear()

    def _job(self, task: TaskRecord) -> Job | None:
        input_key = None
        if task.input_file_id:
            source = self.store.get_file(task.project_id, task.input_file_id)
            if source is None:
                self.store.fail(
                    task.id,
                    self.owner,
                    "input_unreadable",
                    f"file {task.input_file_id} no longer exists",
                    None,
                )
                return None
            input_key = source.storage_key
        return Job(
            task_id=task.id,
            project_id=task.project_id,
            kind=task.kind,
            options=task.options,
            input_url=task.input_url,
            input_key=input_key,
        )
