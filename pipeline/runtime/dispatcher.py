"""The worker loop: lease as many tasks as there are free actors, run, record, repeat.

Each step also watches what runs: progress goes from the actors to the store through here
(actors hold no database connection), a task past its time budget is asked to stop and
its actor killed if it does not, and the pool is told what the queue holds so it can start,
or make room for, the actors that work needs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.contract.errors import CANCELLED, INPUT_UNREADABLE, INTERNAL, TIMEOUT
from pipeline.executor import Failure, Job, JobResult
from pipeline.library import findings_for
from pipeline.runtime.host import TaskStatus
from pipeline.runtime.retry import RetryPolicy
from pipeline.store import LibraryPort, QueuePort, TaskRecord, WorkerReportsPort

log = logging.getLogger(__name__)
STORE_RETRY_S = 1.0
SCALE_EVERY_S = 1.0  # reading the queue depth: once a second is enough to start actors
WATCH_EVERY_S = 1.0  # progress and budgets
REPORT_EVERY_S = 5.0  # this worker's actors, for /metrics
WORKER_ALIVE_S = 30.0  # a worker whose last report is older is gone
STOP_GRACE_S = 10.0  # a task asked to stop that has not, by then, is killed with its actor

Budget = Callable[[str, Mapping[str, Any], float | None], float]


def no_budget(kind: str, options: Mapping[str, Any], media_s: float | None) -> float:
    return float("inf")


class DispatcherStore(QueuePort, WorkerReportsPort, LibraryPort, Protocol):
    """The store as a dispatcher uses it: the queue, the workers' reports, input files."""


class ActorPool(Protocol):
    def free_slots(self, kind: str) -> int:
        """Tasks of `kind` that ready actors can take now."""
        ...

    def submit(self, job: Job) -> None: ...

    def wait(self, timeout_s: float) -> list[JobResult]:
        """Results of jobs that finished, waiting up to `timeout_s` for the first one."""
        ...

    def scale(self, waiting: Mapping[str, int], workers: int) -> None:
        """Start (or make room for) actors for the kinds that have waiting tasks; `workers`
        dispatchers (this one included) share the queue."""
        ...

    def statuses(self) -> dict[str, TaskStatus]: ...

    def stop(self, task_id: str, failure: Failure) -> None: ...

    def kill(self, task_id: str, failure: Failure) -> None: ...

    def snapshot(self) -> dict[str, Any]: ...


@dataclass
class Running:
    """A task this worker holds, as the dispatcher watches it."""

    task: TaskRecord
    started: float
    budget_s: float
    percent: int = 0  # last written to the store
    probed: bool = False
    stopping_since: float | None = None
    stop: Failure | None = None


class Dispatcher:
    def __init__(
        self,
        store: DispatcherStore,
        pool: ActorPool,
        *,
        owner: str,
        kinds: list[str],
        lease_s: float,
        retry: RetryPolicy,
        budget: Budget = no_budget,
        stop_grace_s: float = STOP_GRACE_S,
        poll_s: float = 0.02,
        max_poll_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.pool, self.owner, self.kinds = store, pool, owner, kinds
        self.lease_s, self.retry, self.budget, self.clock = lease_s, retry, budget, clock
        self.stop_grace_s = stop_grace_s
        # Poll the queue quickly while work flows, backing off to max_poll_s when idle.
        self.poll_s, self.max_poll_s, self._idle_s = poll_s, max_poll_s, poll_s
        self.running: dict[str, Running] = {}
        self.unrecorded: list[JobResult] = []  # finished while the store was unreachable
        self.timed_out = 0
        self.workers = 1  # dispatchers sharing the queue, from their reports
        self._last = {"heartbeat": clock(), "scale": -1e9, "watch": -1e9, "report": -1e9}

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
        if self._due("watch", WATCH_EVERY_S):
            self.watch()
        if self._due("heartbeat", self.lease_s / 3):
            self.heartbeat()
        if self._due("scale", SCALE_EVERY_S):
            self.scale()
        if self._due("report", REPORT_EVERY_S):
            self.report()

    def lease(self) -> int:
        leased = 0
        for kind in self.kinds:
            free = self.pool.free_slots(kind)
            if free <= 0:
                continue
            max_attempts = self.retry.max_attempts
            for task in self.store.lease(self.owner, [kind], free, self.lease_s, max_attempts):
                job = self._job(task)
                if job is None:
                    continue
                budget_s = self.budget(task.kind, task.options, None)
                self.running[task.id] = Running(task, self.clock(), budget_s)
                self.pool.submit(job)
                leased += 1
        return leased

    def scale(self) -> None:
        """Tell the pool which kinds have tasks waiting (over all workers), so it starts the
        actors they need or makes room for them."""
        depth = self.store.queue_depth()
        waiting = {kind: depth.get(kind, {}).get("waiting", 0) for kind in self.kinds}
        self.pool.scale(waiting, self.workers)

    def watch(self) -> None:
        """Write progress the actors report; stop, then kill, tasks past their budget."""
        now = self.clock()
        statuses = self.pool.statuses()
        for task_id, run in list(self.running.items()):
            status = statuses.get(task_id)
            if status is not None:
                if status.probed and not run.probed:  # the input's length sets the budget
                    run.probed = True
                    run.budget_s = self.budget(
                        run.task.kind, run.task.options, status.media_duration
                    )
                percent = min(99, int(status.fraction * 100))
                if percent > run.percent and run.stop is None:
                    run.percent = percent
                    self.store.set_progress(task_id, self.owner, percent)
            if run.stop is None and now - run.started > run.budget_s:
                self._stop(run, self._timeout(run, now), now)
            elif run.stopping_since is not None and now - run.stopping_since > self.stop_grace_s:
                assert run.stop is not None
                self.pool.kill(task_id, run.stop)
                run.stopping_since = None  # its result comes back through wait()

    def _timeout(self, run: Running, now: float) -> Failure:
        self.timed_out += 1
        elapsed = now - run.started
        if not run.probed:  # still fetching or probing: the network is the likely cause
            message = f"the input was not fetched within the task's {run.budget_s:g} s budget"
            return Failure(TIMEOUT, message, retryable=True)
        message = (
            f"the task ran for {elapsed:.0f} s, past its {run.budget_s:.0f} s budget "
            f"(STROBE_TASK_TIMEOUT_S, STROBE_TASK_TIMEOUT_S_{run.task.kind.upper()})"
        )
        return Failure(TIMEOUT, message)

    def _stop(self, run: Running, failure: Failure, now: float) -> None:
        log.warning("stopping task %s: %s", run.task.id, failure.message)
        run.stop, run.stopping_since = failure, now
        self.pool.stop(run.task.id, failure)

    def record_pending(self) -> None:
        while self.unrecorded:
            self.record(self.unrecorded[0])
            self.unrecorded.pop(0)

    def record(self, result: JobResult) -> None:
        run = self.running.get(result.task_id)
        if run is None:
            return
        task = run.task
        if result.output is not None:
            if not self.store.complete(task.id, self.owner, result.output, result.ran_on):
                log.warning("task %s finished after its lease was lost; result dropped", task.id)
        else:
            error = result.error or Failure(INTERNAL, "the task ended with no output")
            delay = self.retry.delay_after(task.attempts) if error.retryable else None
            self.store.fail(task.id, self.owner, error.code, error.message, delay)
            retrying = "" if delay is None else f"; retrying in {delay:g} s"
            log.info("task %s failed (%s): %s%s", task.id, error.code, error.message, retrying)
        del self.running[result.task_id]

    def heartbeat(self) -> None:
        now = self.clock()
        for task_id, run in list(self.running.items()):
            if not self.store.heartbeat(task_id, self.owner, self.lease_s) and run.stop is None:
                # Cancelled, or expired and taken by another worker: free the actor.
                log.warning("lost the lease on task %s (cancelled or expired)", task_id)
                self._stop(run, Failure(CANCELLED, "the task's lease was lost"), now)

    def report(self) -> None:
        """This worker's actors and running tasks, for /metrics (read by the API)."""
        now = self.clock()
        oldest = max((now - run.started for run in self.running.values()), default=0.0)
        state = self.pool.snapshot() | {
            "running": len(self.running),
            "oldest_running_s": round(oldest, 1),
            "timed_out": self.timed_out,
        }
        self.store.report_worker(self.owner, state)
        self.workers = max(1, len(self.store.worker_reports(max_age_s=WORKER_ALIVE_S)))

    def release_all(self) -> None:
        """On shutdown, hand running tasks back to the queue for another worker."""
        for task_id in list(self.running):
            try:
                self.store.release(task_id, self.owner)
            except Exception:
                log.warning("could not release task %s; its lease will expire", task_id)
        self.running.clear()
        try:
            self.store.forget_worker(self.owner)
        except Exception:
            log.warning("could not remove this worker's report; it will age out")

    def _due(self, what: str, every_s: float) -> bool:
        if self.clock() - self._last[what] < every_s:
            return False
        self._last[what] = self.clock()
        return True

    def _job(self, task: TaskRecord) -> Job | None:
        input_key = None
        if task.input_file_id:
            source = self.store.get_file(task.project_id, task.input_file_id)
            if source is None:
                message = f"file {task.input_file_id} no longer exists"
                self.store.fail(task.id, self.owner, INPUT_UNREADABLE, message, None)
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
            findings=findings_for(self.store, task),
        )
