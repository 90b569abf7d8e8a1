"""The one module that knows Ray: operator actors and the pool that feeds them."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

import ray
from ray.exceptions import RayActorError, RayTaskError

from pipeline.config import Settings
from pipeline.executor import Job, JobResult, execute
from pipeline.runtime.progress import ThrottledProgress

log = logging.getLogger(__name__)


def start_ray(settings: Settings) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        address=settings.ray_address,
        include_dashboard=False,
        ignore_reinit_error=True,
        logging_level=logging.WARNING,
    )


@ray.remote
class OperatorActor:
    """Loads one operator once (`setup`) and runs its tasks one at a time."""

    def __init__(self, kind: str, settings: Settings) -> None:
        from operators.registry import load_operator
        from pipeline.storage import open_storage
        from pipeline.store import open_store

        logging.basicConfig(level=logging.INFO)
        self.operator = load_operator(kind)()
        self.operator.setup()
        self.storage = open_storage(settings.storage_url, settings.s3_endpoint_url)
        self.store = open_store(settings.database_url)
        self.settings = settings
        self.node_id = ray.get_runtime_context().get_node_id()

    def run(self, job: Job) -> JobResult:
        def write(percent: int) -> None:
            self.store.set_progress(job.task_id, job.owner, percent)

        progress = ThrottledProgress(write)
        result = execute(job, self.operator, self.storage, self.settings, progress)
        return replace(result, ran_on=self.node_id)


@dataclass
class _KindPool:
    idle: list[Any] = field(default_factory=list)
    size: int = 0


class RayActorPool:
    """Actors per kind, created on first use, at most `actors_per_kind` each."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pools: dict[str, _KindPool] = {}
        self.in_flight: dict[Any, tuple[Job, Any]] = {}  # ObjectRef -> (job, actor)

    def free_slots(self, kind: str) -> int:
        pool = self.pools.get(kind, _KindPool())
        return len(pool.idle) + self.settings.actors_per_kind - pool.size

    def submit(self, job: Job) -> None:
        pool = self.pools.setdefault(job.kind, _KindPool())
        actor = pool.idle.pop() if pool.idle else self._new_actor(job.kind, pool)
        self.in_flight[actor.run.remote(job)] = (job, actor)

    def wait(self, timeout_s: float) -> list[JobResult]:
        if not self.in_flight:
            time.sleep(timeout_s)
            return []
        refs = list(self.in_flight)
        first, _ = ray.wait(refs, num_returns=1, timeout=timeout_s)
        if not first:
            return []
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        return [self._collect(ref) for ref in ready]

    def _collect(self, ref: Any) -> JobResult:
        job, actor = self.in_flight.pop(ref)
        pool = self.pools[job.kind]
        try:
            result: JobResult = ray.get(ref)
        except (RayActorError, RayTaskError) as exc:
            # The actor died (OOM, crash, node lost): replace it and let the task retry.
            log.warning("actor for %s died running %s: %s", job.kind, job.task_id, exc)
            pool.size -= 1
            return JobResult(
                job.task_id,
                error={
                    "code": "worker_lost",
                    "message": f"the worker running this task died: {exc}",
                    "retryable": True,
                },
            )
        pool.idle.append(actor)
        return result

    def _new_actor(self, kind: str, pool: _KindPool) -> Any:
        from operators.registry import load_operator

        resources = load_operator(kind).resources
        pool.size += 1
        log.info(
            "starting actor %d for %s (%s CPU, %s GPU)",
            pool.size,
            kind,
            resources.num_cpus,
            resources.num_gpus,
        )
        # SPREAD: on a cluster, a kind's actors land on different nodes instead of
        # piling onto the one this worker runs on.
        return OperatorActor.options(  # type: ignore[attr-defined]
            num_cpus=resources.num_cpus,
            num_gpus=resources.num_gpus,
            scheduling_strategy="SPREAD",
        ).remote(kind, self.settings)
