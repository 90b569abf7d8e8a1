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
STORE_RETRY_S = 1.0
ROOM_CHECK_S = 1.0


class ActorPool(Protocol):
    def free_slots(self, kind: str) -> int: ...

    def submit(self, job: Job) -> None: ...

    def wait(self, timeout_s: float) -> list[JobResult]:
        """Results of jobs that finished, waiting up to `timeout_s` for the first one."""
        ...

    def make_room(self, kind: str) -> None:
        """`kind` has waiting tasks but no free slot: free capacity held by idle actors of
        other kinds, if the pool can."""
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
        poll_s: float = 0.02,
        max_poll_s: float = 0.5,
    ) -> None:
        self.store, self.pool, self.owner, self.kinds = store, pool, owner, kinds
        self.lease_s, self.retry = lease_s, retry
        # Poll the queue quickly while work flows, backing off to max_poll_s when idle.
        self.poll_s, self.max_poll_s, self._idle_s = poll_s, max_poll_s, poll_s
        self.running: dict[str, TaskRecord] = {}
        self.unrecorded: list[JobResult] = []  # finished while the store was unreachable
        self._last_heartbeat = time.monotonic()
        self._last_room_check = 0.0

    def run(self, should_stop: Callable[[], bool]) -> None:
        log.info("dispatcher %s serving kinds %s", self.owner, ", ".join(self.kinds))
        while not should_stop():
            try:
                self.step()
            except Exception:
                # The store went away (restart, network): keep results, try again shortly.
                log.warning("store unavailable; retrying in %g s", STORE_RETRY_S, exc_info=True)
                time.sleep(STORE_RETRY_S)
        self.release_all()

    def step(self) -> None:
        self.record_pending()
        leased = self.lease()
        finished = self.pool.wait(0.0 if leased else self._idle_s)
        self.unrecorded.extend(finished)
        busy = leased or finished
        self._idle_s = self.poll_s if busy else min(self.max_poll_s, self._idle_s * 1.5)
        self.record_pending()
        self.heartbeat_if_due()

    def lease(self) -> int:
        leased, starved = 0, []
        for kind in self.kinds:
            free = self.pool.free_slots(kind)
            if free <= 0:
                starved.append(kind)
                continue
            max_attempts = self.retry.max_attempts
            for task in self.store.lease(self.owner, [kind], free, self.lease_s, max_attempts):
                job = self._job(task)
                if job is None:
                    continue
                self.running[task.id] = task
                self.pool.submit(job)
                leased += 1
        self._make_room_for_waiting(starved)
        return leased

    def _make_room_for_waiting(self, starved: list[str]) -> None:
        """Kinds without a free slot get room only if tasks of theirs wait (checked at most
        once a second): otherwise idle actors would be retired for kinds with no work."""
        if not starved or time.monotonic() - self._last_room_check < ROOM_CHECK_S:
            return
        self._last_room_check = time.monotonic()
        depth = self.store.queue_depth()
        for kind in starved:
            if depth.get(kind, {}).get("waiting", 0) > 0:
                self.pool.make_room(kind)

    def record_pending(self) -> None:
        while self.unrecorded:
            self.record(self.unrecorded[0])
            self.unrecorded.pop(0)

    def record(self, result: JobResult) -> None:
        task = self.running.get(result.task_id)
        if task is None:
            return
        if result.output is not None:
            if not self.store.complete(task.id, self.owner, result.output, result.ran_on):
                log.warning("task %s finished after its lease was lost; result dropped", task.id)
        else:
            error = result.error
            delay = self.retry.delay_after(task.attempts) if error.get("retryable") else None
            self.store.fail(task.id, self.owner, error["code"], error["message"], delay)
            retrying = "" if delay is None else f"; retrying in {delay:g} s"
            log.info(
                "task %s failed (%s): %s%s", task.id, error["code"], error["message"], retrying
            )
        del self.running[result.task_id]

    def heartbeat_if_due(self) -> None:
        if time.monotonic() - self._last_heartbeat < self.lease_s / 3:
            return
        self._last_heartbeat = time.monotonic()
        for task_id in list(self.running):
            if not self.store.heartbeat(task_id, self.owner, self.lease_s):
                log.warning("lost the lease on task %s (cancelled or expired)", task_id)

    def release_all(self) -> None:
        """On shutdown, hand running tasks back to the queue for another worker."""
        for task_id in list(self.running):
            try:
                self.store.release(task_id, self.owner)
            except Exception:
                log.warning("could not release task %s; its lease will expire", task_id)
        self.running.clear()

    def _job(self, task: TaskRecord) -> Job | None:
        input_key = None
        if task.input_file_id:
            source = self.store.get_file(task.project_id, task.input_file_id)
            if source is None:
                message = f"file {task.input_file_id} no longer exists"
                self.store.fail(task.id, self.owner, "input_unreadable", message, None)
                return None
            input_key = source.storage_key
        return Job(
            task_id=task.id,
            project_id=task.project_id,
            kind=task.kind,
            options=task.options,
            input_url=task.input_url,
            input_key=input_key,
            owner=self.owner,
        )
