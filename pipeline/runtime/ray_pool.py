"""The one module that knows Ray: operator actors and the pool that feeds them."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

import ray
from ray.exceptions import RayActorError, RayTaskError

from operators.base import Resources, TaskError
from pipeline.config import Settings
from pipeline.executor import Job, JobResult, execute
from pipeline.runtime.placement import Shape, actor_shape, fits
from pipeline.runtime.progress import ThrottledProgress

log = logging.getLogger(__name__)
AVAILABLE_TTL_S = 0.5
CLUSTER_TTL_S = 10.0  # nodes come and go (autoscaling): look again now and then


def start_ray(settings: Settings) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        # "local": a fresh instance, never a cluster some `ray start` left on this machine.
        address=settings.ray_address or "local",
        include_dashboard=False,
        ignore_reinit_error=True,
        logging_level=logging.WARNING,
    )


def request_backlog(bundles: list[Shape]) -> None:
    """Ask the Ray autoscaler (v1 or v2, VMs or KubeRay) for room for these bundles. The
    request replaces the previous one; an empty list withdraws it (scale to zero)."""
    from ray.autoscaler.sdk import request_resources

    request_resources(bundles=bundles)


@ray.remote
class OperatorActor:
    """Loads one operator once (`setup`) and runs its tasks one at a time."""

    def __init__(self, kind: str, settings: Settings) -> None:
        from operators.registry import load_operator
        from pipeline.storage import open_storage
        from pipeline.store import open_store

        logging.basicConfig(level=logging.INFO)
        self.operator = load_operator(kind)()
        self.storage = open_storage(settings.storage_url, settings.s3_endpoint_url)
        self.store = open_store(settings.database_url)
        self.settings = settings
        self.node_id = ray.get_runtime_context().get_node_id()
        self.ready = False
        self._setup()

    def _setup(self) -> JobResult | None:
        """Load the operator's model; a failure (e.g. model_missing) fails tasks, not the actor,
        and is tried again on the next task (the model may have been fetched since)."""
        if self.ready:
            return None
        try:
            self.operator.setup()
        except TaskError as exc:
            return JobResult(
                "", error={"code": exc.code, "message": exc.message, "retryable": exc.retryable}
            )
        self.ready = True
        return None

    def run(self, job: Job) -> JobResult:
        failed = self._setup()
        if failed is not None:
            return replace(failed, task_id=job.task_id, ran_on=self.node_id)

        def write(percent: int) -> None:
            self.store.set_progress(job.task_id, job.owner, percent)

        progress = ThrottledProgress(write)
        result = execute(job, self.operator, self.storage, self.settings, progress)
        return replace(result, ran_on=self.node_id)


@dataclass
class _KindPool:
    resources: Resources
    idle: list[Any] = field(default_factory=list)
    size: int = 0


class RayActorPool:
    """Actors per kind, created on first use, at most `actors_per_kind` each, and only as
    many as the cluster has room for: when a kind has no room, an idle actor of another
    kind is retired to make some (several kinds share small nodes)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pools: dict[str, _KindPool] = {}
        self.in_flight: dict[Any, tuple[Job, Any]] = {}  # ObjectRef -> (job, actor)
        self._cluster: tuple[float, dict[str, float]] = (-CLUSTER_TTL_S, {})
        self._available: tuple[float, dict[str, float]] = (0.0, {})
        self._fallbacks_logged: set[tuple[str, str]] = set()

    def free_slots(self, kind: str) -> int:
        pool = self._pool(kind)
        room = fits(self.shape(kind), self._available_resources())
        creatable = min(self.settings.actors_per_kind - pool.size, room)
        return len(pool.idle) + max(0, creatable)

    def make_room(self, kind: str) -> None:
        """Called for a kind that has waiting tasks and no free slot: retire an idle actor of
        another kind, if that would let this kind start one."""
        pool = self._pool(kind)
        if not pool.idle and pool.size < self.settings.actors_per_kind:
            self._retire_an_idle_actor(besides=kind)

    def submit(self, job: Job) -> None:
        pool = self._pool(job.kind)
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
        except RayActorError as exc:
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
        except RayTaskError as exc:  # a bug escaped the executor; the actor lives on
            log.error("task %s raised in its actor: %s", job.task_id, exc)
            result = JobResult(
                job.task_id,
                error={"code": "internal", "message": f"internal error: {exc}", "retryable": False},
            )
        pool.idle.append(actor)
        return result

    def _pool(self, kind: str) -> _KindPool:
        if kind not in self.pools:
            from operators.registry import load_operator

            self.pools[kind] = _KindPool(resources=load_operator(kind).resources)
        return self.pools[kind]

    def shape(self, kind: str) -> Shape:
        """The Ray resources a new actor of `kind` asks for on the cluster as it is now."""
        resources = self._pool(kind).resources
        fetched_at, cluster = self._cluster
        if time.monotonic() - fetched_at > CLUSTER_TTL_S:
            cluster = dict(ray.cluster_resources())
            self._cluster = (time.monotonic(), cluster)
        shape = actor_shape(resources, cluster, require=self.settings.require_gpu)
        wanted = {"GPU": resources.num_gpus, **resources.custom}
        for name in (n for n, amount in wanted.items() if amount and n not in shape):
            if (kind, name) not in self._fallbacks_logged:  # say so once, never silently
                self._fallbacks_logged.add((kind, name))
                log.info("no node has %s: %s actors run without it (CPU fallback)", name, kind)
        return shape

    def _available_resources(self) -> dict[str, float]:
        # Asked of the cluster at most twice a second: the dispatcher polls every kind.
        fetched_at, available = self._available
        if time.monotonic() - fetched_at > AVAILABLE_TTL_S:
            available = dict(ray.available_resources())
            self._available = (time.monotonic(), available)
        return available

    def _retire_an_idle_actor(self, besides: str) -> None:
        for kind, pool in self.pools.items():
            if kind != besides and pool.idle:
                ray.kill(pool.idle.pop())
                pool.size -= 1
                self._available = (0.0, {})
                log.info("retired an idle %s actor to make room for %s", kind, besides)
                return

    def _new_actor(self, kind: str, pool: _KindPool) -> Any:
        shape = self.shape(kind)
        pool.size += 1
        self._available = (0.0, {})
        log.info("starting actor %d for %s (%s)", pool.size, kind, shape)
        custom = {k: v for k, v in shape.items() if k not in ("CPU", "GPU", "memory")}
        # SPREAD: on a cluster, a kind's actors land on different nodes instead of
        # piling onto the one this worker runs on (among the nodes that have its resources).
        return OperatorActor.options(  # type: ignore[attr-defined]
            num_cpus=shape.get("CPU", 0),
            num_gpus=shape.get("GPU", 0),
            memory=shape.get("memory"),
            resources=custom,
            scheduling_strategy="SPREAD",
        ).remote(kind, self.settings)
