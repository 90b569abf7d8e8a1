"""What runs inside an operator actor, without Ray: the operator's lifecycle and its tasks.

The runtime owns the lifecycle (docs/ARCHITECTURE.md, "Runtime"): `setup()` is called before
a task until it has succeeded once, so a model fetched after the worker started is picked up
on the next task, and a failed setup fails that task with the operator's error (e.g.
`model_missing`). Several tasks may run at once (`Operator.concurrent_tasks`), one thread
each; each has a `TaskMonitor` the dispatcher reads (progress, the input's duration) and can
stop through.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from operators.base import Operator
from pipeline.config import Settings
from pipeline.contract.errors import TaskError
from pipeline.executor import Failure, Job, JobResult, TaskMonitor, execute
from pipeline.storage import Storage


@dataclass(frozen=True)
class TaskStatus:
    """A running task as its actor sees it: what the dispatcher polls."""

    fraction: float
    media_duration: float | None
    probed: bool


class OperatorHost:
    def __init__(self, operator: Operator, storage: Storage, settings: Settings) -> None:
        self.operator, self.storage, self.settings = operator, storage, settings
        self._setup_lock = threading.Lock()
        self._set_up = False
        self._tasks: dict[str, TaskMonitor] = {}

    def ensure_setup(self) -> Failure | None:
        """Set the operator up unless that already succeeded; the failure, if it failed."""
        with self._setup_lock:  # concurrent tasks wait for one setup, not run several
            if self._set_up:
                return None
            try:
                self.operator.setup()
            except TaskError as exc:
                return Failure.of(exc)
            self._set_up = True
            return None

    def run(self, job: Job) -> JobResult:
        monitor = TaskMonitor()
        self._tasks[job.task_id] = monitor
        try:
            failed = self.ensure_setup()
            if failed is not None:
                return JobResult(job.task_id, error=failed)
            result = execute(job, self.operator, self.storage, self.settings, monitor)
            if monitor.stop_with is not None and result.error is not None:
                # Stopped: report why it was stopped, whatever the stop broke on the way out.
                result = replace(result, output=None, error=monitor.stop_with)
            return result
        finally:
            del self._tasks[job.task_id]

    def status(self) -> dict[str, TaskStatus]:
        return {
            task_id: TaskStatus(m.fraction, m.media_duration, m.probed)
            for task_id, m in list(self._tasks.items())
        }

    def stop(self, task_id: str, failure: Failure) -> bool:
        """Ask a running task to stop with `failure`; False if it is not running here."""
        monitor = self._tasks.get(task_id)
        if monitor is None:
            return False
        monitor.stop(failure)
        return True
