"""The one module that knows Ray: operator actors and the pool that feeds them.

An actor goes `placing` (asked of Ray) -> `setting_up` (placed and started; its model
loading) -> `ready`; each step has a deadline, after which the actor is killed and the
kind tried again later. Tasks are handed only to ready actors, so a leased task never
waits on an actor Ray cannot place (docs/ARCHITECTURE.md, "Runtime").
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError

from operators.base import Operator
from operators.catalog import KINDS
from pipeline.config import Settings
from pipeline.contract.errors import INTERNAL, WORKER_LOST
from pipeline.executor import Failure, Job, JobResult
from pipeline.runtime.fleet import Actor, describe, free_room, plan_room
from pipeline.runtime.host import OperatorHost, TaskStatus
from pipeline.runtime.placement import Shape, actor_shape, fits, never_fits

log = logging.getLogger(__name__)
AVAILABLE_TTL_S = 0.5
CLUSTER_TTL_S = 10.0  # nodes come and go (autoscaling): look again now and then
SETTLE_S = 1.0  # Ray's view of free resources lags a placement or a kill by less than this
STATUS_INTERVAL_S = 1.0
BLOCKED_RETRY_S = 10.0  # after a placement or setup failure, wait before trying the kind again
CONTROL_CALLS = 2  # threads an actor keeps for status and stop besides its task slots


def start_ray(settings: Settings) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    local = not settings.ray_address
    ray.init(
        # "local": a fresh instance, never a cluster some `ray start` left on this machine.
        address=settings.ray_address or "local",
        num_cpus=settings.ray_num_cpus if local else None,
        include_dashboard=False,
        ignore_reinit_error=True,
        logging_level=logging.WARNING,
    )


def stop_ray() -> None:
    """Disconnect from Ray (and stop the local instance `start_ray` began, if any)."""
    ray.shutdown()


def request_backlog(bundles: list[Shape]) -> None:
    """Ask the Ray autoscaler (v1 or v2, VMs or KubeRay) for room for these bundles. The
    request replaces the previous one; an empty list withdraws it (scale to zero)."""
    from ray.autoscaler.sdk import request_resources

    request_resources(bundles=bundles)


@ray.remote
class OperatorActor:
    """One operator, set up once, running up to `concurrent_tasks` tasks at a time."""

    def __init__(self, operator_path: str, settings: Settings) -> None:
        from operators.registry import load_path
        from pipeline.storage import open_storage

        logging.basicConfig(level=logging.INFO)
        storage = open_storage(settings.storage_url, settings.s3_endpoint_url)
        self.host = OperatorHost(load_path(operator_path)(), storage, settings)
        self.node_id = ray.get_runtime_context().get_node_id()

    def ready(self) -> str:
        return self.node_id

    def setup(self) -> Failure | None:
        return self.host.ensure_setup()

    def run(self, job: Job) -> JobResult:
        return replace(self.host.run(job), ran_on=self.node_id)

    def status(self) -> dict[str, TaskStatus]:
        return self.host.status()

    def stop(self, task_id: str, failure: Failure) -> bool:
        return self.host.stop(task_id, failure)


class RayActorPool:
    """Actors per kind, started for the work the queue holds, as many as the cluster has
    room for (at most STROBE_ACTORS_PER_KIND per kind when set). A kind that has work and
    no room gets it from idle actors of other kinds, or, when it has no actor at all, by
    draining a busy one, so no kind waits on capacity that never comes."""

    def __init__(
        self,
        settings: Settings,
        operators: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from operators.registry import OPERATORS

        self.settings, self.clock = settings, clock
        self.operators = dict(OPERATORS if operators is None else operators)  # kind -> path
        self.actors: list[Actor] = []
        self.in_flight: dict[Any, tuple[Job, Actor]] = {}  # ObjectRef -> (job, actor)
        self.killed: dict[str, Failure] = {}  # task id -> what to report for its killed actor
        self.blocked: dict[str, str] = {}  # kind -> why its actors cannot start now
        self.starts = 0
        self._retry_at: dict[str, float] = {}
        self._room_owed = False  # the last room-making retired or drained actors
        self._starved_since: dict[str, float] = {}  # kind -> when it last had work and no actor
        self._classes: dict[str, type[Operator]] = {}
        # When read, the cluster's resources, each alive node's, and the alive nodes' ids.
        self._cluster: tuple[float, dict[str, float], list[dict[str, float]], list[str]] = (
            -1e9,
            {},
            [],
            [],
        )
        self._available: tuple[float, dict[str, float]] = (-1e9, {})
        self._fallbacks_logged: set[tuple[str, str]] = set()
        self._status_calls: dict[Any, Actor] = {}
        self._statuses: dict[str, TaskStatus] = {}
        self._last_status_call = -1e9

    # --- what the dispatcher uses ---------------------------------------------------------

    def free_slots(self, kind: str) -> int:
        self._advance_starting()
        return sum(actor.free() for actor in self.actors if actor.kind == kind)

    def submit(self, job: Job) -> None:
        actor = max((a for a in self.actors if a.kind == job.kind), key=Actor.free)
        assert actor.free() > 0, f"no ready {job.kind} actor has a free slot"
        actor.running.add(job.task_id)
        self.in_flight[actor.handle.run.remote(job)] = (job, actor)

    def wait(self, timeout_s: float) -> list[JobResult]:
        if not self.in_flight:
            time.sleep(timeout_s)
            return []
        refs = list(self.in_flight)
        first, _ = ray.wait(refs, num_returns=1, timeout=timeout_s)
        if not first:
            return []
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        return [self._collect(ref) for ref in done]

    def scale(self, waiting: Mapping[str, int], workers: int = 1) -> None:
        """Start actors for kinds with waiting tasks (a starved kind, with no actor, first);
        retire idle and drained ones. `workers` dispatchers share the queue and the
        cluster: each starts its share of what fits now, and fills in on the next call,
        when Ray shows what the others placed."""
        self._advance_starting()
        self._retire_idle(waiting)
        counts = {kind: sum(a.kind == kind for a in self.actors) for kind in waiting}
        now = self.clock()
        for kind in waiting:  # starved: work and no actor; served longest-starved first
            if waiting[kind] > 0 and not counts[kind]:
                self._starved_since.setdefault(kind, now)
            else:
                self._starved_since.pop(kind, None)
        order = sorted(waiting, key=lambda k: (counts[k] > 0, self._starved_since.get(k, now), k))
        holding = False
        for kind in order:
            if waiting[kind] <= 0 or self.clock() < self._retry_at.get(kind, 0.0):
                continue
            mine = [a for a in self.actors if a.kind == kind and not a.draining]
            spare = sum(a.slots - len(a.running) for a in mine)
            slots = self._operator(kind).concurrent_tasks
            wanted = math.ceil(max(0, math.ceil(waiting[kind] / workers) - spare) / slots)
            if self.settings.actors_per_kind:
                wanted = min(wanted, self.settings.actors_per_kind - len(mine))
            if workers > 1:
                wanted = min(
                    wanted, max(1, math.ceil(fits(self.shape(kind), self._room()) / workers))
                )
            # A kind whose actors are all draining still has actors: it must not start new
            # ones in the room being made for the starved kind.
            if holding and counts[kind]:
                continue
            for _ in range(wanted):
                if not self._start(kind, waiting, starved=not mine):
                    # Room is being made for this starved kind (actors retired or
                    # draining): no other kind grows into it meanwhile.
                    holding = holding or (not mine and self._room_owed)
                    break
                mine.append(self.actors[-1])

    def statuses(self) -> dict[str, TaskStatus]:
        """The running tasks' progress as their actors last told it (asked once a second,
        answered without blocking the dispatcher)."""
        if self._status_calls:
            done, _ = ray.wait(
                list(self._status_calls), num_returns=len(self._status_calls), timeout=0
            )
            for ref in done:
                self._status_calls.pop(ref)
                with contextlib.suppress(RayError):  # died: its tasks come back through wait()
                    self._statuses.update(ray.get(ref))
        if self.clock() - self._last_status_call >= STATUS_INTERVAL_S:
            self._last_status_call = self.clock()
            asked = set(self._status_calls.values())
            for actor in self.actors:
                if actor.running and actor not in asked:
                    self._status_calls[actor.handle.status.remote()] = actor
        running = {task for actor in self.actors for task in actor.running}
        self._statuses = {t: s for t, s in self._statuses.items() if t in running}
        return dict(self._statuses)

    def stop(self, task_id: str, failure: Failure) -> None:
        """Ask the task to stop at its next progress report."""
        actor = self._running(task_id)
        if actor is not None:
            actor.handle.stop.remote(task_id, failure)

    def kill(self, task_id: str, failure: Failure) -> None:
        """Kill the task's actor (it did not stop when asked): the task ends with `failure`,
        any other task on that actor comes back as `worker_lost` and is retried."""
        actor = self._running(task_id)
        if actor is not None:
            self.killed[task_id] = failure
            log.warning("killing the %s actor running %s: %s", actor.kind, task_id, failure.code)
            self._kill(actor)

    def snapshot(self) -> dict[str, Any]:
        """Actors per kind and state, why kinds are blocked, and the Ray nodes alive: for
        /metrics."""
        actors: dict[str, dict[str, int]] = {}
        for actor in self.actors:
            counts = actors.setdefault(actor.kind, {"ready": 0, "starting": 0, "busy": 0})
            counts["ready" if actor.phase == "ready" else "starting"] += 1
            counts["busy"] += bool(actor.running)
        return {
            "actors": actors,
            "blocked": dict(self.blocked),
            "actor_starts": self.starts,
            "nodes": self._node_ids(),
        }

    def close(self) -> None:
        """Kill every actor (the worker is stopping; its tasks were released)."""
        for actor in list(self.actors):
            self._kill(actor)
        self.actors.clear()

    def shape(self, kind: str) -> Shape:
        """The Ray resources a new actor of `kind` asks for on the cluster as it is now."""
        resources = self._operator(kind).resources or KINDS[kind].resources
        shape = actor_shape(resources, self._cluster_totals(), require=self.settings.require_gpu)
        wanted = {"GPU": resources.num_gpus, **resources.custom}
        for name in (n for n, amount in wanted.items() if amount and n not in shape):
            if (kind, name) not in self._fallbacks_logged:  # say so once, never silently
                self._fallbacks_logged.add((kind, name))
                log.info("no node has %s: %s actors run without it (CPU fallback)", name, kind)
        return shape

    # --- results --------------------------------------------------------------------------

    def _collect(self, ref: Any) -> JobResult:
        job, actor = self.in_flight.pop(ref)
        actor.running.discard(job.task_id)
        killed = self.killed.pop(job.task_id, None)
        try:
            result: JobResult = ray.get(ref)
        except RayTaskError as exc:  # a bug escaped the executor; the actor lives on
            log.error("task %s raised in its actor: %s", job.task_id, exc)
            cause = type(getattr(exc, "cause", None) or exc).__name__  # the log has the rest
            message = f"internal error ({cause}); the server's log has the details"
            result = JobResult(job.task_id, error=Failure(INTERNAL, message))
        except RayError as exc:  # the actor died: killed, out of memory, node lost
            self._forget(actor)
            if killed is None:
                log.warning("actor for %s died running %s: %s", job.kind, job.task_id, exc)
            message = f"the worker running this task died: {exc}"
            return JobResult(job.task_id, error=killed or Failure(WORKER_LOST, message, True))
        if not actor.running:
            actor.since = self.clock()  # idle from now
            if actor.draining:
                self._kill(actor)
        return result

    def _running(self, task_id: str) -> Actor | None:
        return next((a for a in self.actors if task_id in a.running), None)

    # --- starting and retiring actors -----------------------------------------------------

    def _start(self, kind: str, waiting: Mapping[str, int], *, starved: bool) -> bool:
        shape = self.shape(kind)
        self._room_owed = False
        never = never_fits(shape, self._cluster_nodes())
        if never is not None:
            self._block(kind, f"{never}: its tasks wait (STROBE_REQUIRE_GPU, node types)")
            return False
        if fits(shape, self._room()) < 1 and not self._make_room(kind, shape, waiting, starved):
            return False
        self.blocked.pop(kind, None)
        slots = self._operator(kind).concurrent_tasks
        custom = {k: v for k, v in shape.items() if k not in ("CPU", "GPU", "memory")}
        # SPREAD: on a cluster, a kind's actors land on different nodes instead of
        # piling onto the one this worker runs on (among the nodes that have its resources).
        handle = OperatorActor.options(  # type: ignore[attr-defined]
            num_cpus=shape.get("CPU", 0),
            num_gpus=shape.get("GPU", 0),
            memory=shape.get("memory"),
            resources=custom,
            scheduling_strategy="SPREAD",
            max_concurrency=slots + CONTROL_CALLS,
        ).remote(self.operators[kind], self.settings)
        actor = Actor(kind, handle, shape, slots, "placing", self.clock(), handle.ready.remote())
        self.actors.append(actor)
        self.starts += 1
        log.info("starting actor %d for %s (%s)", len(self._of(kind)), kind, shape)
        return True

    def _make_room(
        self, kind: str, shape: Shape, waiting: Mapping[str, int], starved: bool
    ) -> bool:
        """Retire idle actors of other kinds, or drain a busy one, so `shape` can fit; True
        if it fits now."""
        room = self._room()
        plan = plan_room(kind, shape, room, self.actors, waiting, starved=starved, now=self.clock())
        self._room_owed = bool(plan.retire or plan.drain or any(a.draining for a in self.actors))
        for actor in plan.retire:
            log.info("retiring an idle %s actor to make room for %s", actor.kind, kind)
            self._kill(actor)
        if plan.drain is not None:
            plan.drain.draining = True
            log.info("draining a %s actor to make room for %s", plan.drain.kind, kind)
        return plan.fits

    def _retire_idle(self, waiting: Mapping[str, int]) -> None:
        now = self.clock()
        for actor in list(self.actors):
            if actor.phase != "ready" or actor.running:
                continue
            unused = now - actor.since >= self.settings.actor_idle_s and not waiting.get(actor.kind)
            if actor.draining or unused:
                log.info("retiring an idle %s actor", actor.kind)
                self._kill(actor)

    def _advance_starting(self) -> None:
        """Move actors along placing -> setting_up -> ready; kill those past a deadline."""
        starting = {a.starting: a for a in self.actors if a.starting is not None}
        if not starting:
            return
        done, _ = ray.wait(list(starting), num_returns=len(starting), timeout=0)
        now = self.clock()
        for ref in done:
            actor = starting[ref]
            try:
                answer = ray.get(ref)
            except RayError as exc:
                self._forget(actor)
                self._block(actor.kind, f"its actor failed to start: {exc}")
                continue
            if actor.phase == "placing":
                actor.phase, actor.since, actor.placed = "setting_up", now, now
                actor.starting = actor.handle.setup.remote()
            else:
                if answer is not None:  # tasks report it (e.g. model_missing) and retry it
                    log.warning("%s setup failed: %s", actor.kind, answer.message)
                actor.phase, actor.since, actor.starting = "ready", now, None
                actor.ready_at = now
        for actor in [a for a in self.actors if a.starting is not None]:
            limit = (
                self.settings.placement_timeout_s
                if actor.phase == "placing"
                else self.settings.setup_timeout_s
            )
            if now - actor.since > limit:
                what = "placed" if actor.phase == "placing" else "set up"
                self._block(
                    actor.kind,
                    f"an actor needing {describe(actor.shape)} was not {what} within {limit:g} s",
                )
                self._kill(actor)

    def _block(self, kind: str, reason: str) -> None:
        if self.blocked.get(kind) != reason:
            log.warning("%s: %s", kind, reason)
        self.blocked[kind] = reason
        self._retry_at[kind] = self.clock() + BLOCKED_RETRY_S

    def _kill(self, actor: Actor) -> None:
        ray.kill(actor.handle, no_restart=True)
        actor.draining = True
        if not actor.running:  # with tasks, it is forgotten when their refs fail
            self._forget(actor)

    def _forget(self, actor: Actor) -> None:
        if actor in self.actors:
            self.actors.remove(actor)

    def _of(self, kind: str) -> list[Actor]:
        return [a for a in self.actors if a.kind == kind]

    # --- what the cluster holds -----------------------------------------------------------

    def _room(self) -> dict[str, float]:
        """Free resources as this pool counts them: Ray's view, less the actors asked for
        and not yet (or only just) placed (see fleet.free_room)."""
        now = self.clock()
        fetched_at, available = self._available
        if now - fetched_at > AVAILABLE_TTL_S:
            available = dict(ray.available_resources())
            self._available = (now, available)
        return free_room(available, self.actors, now=now, settle_s=SETTLE_S)

    def _cluster_totals(self) -> dict[str, float]:
        return self._cluster_view()[0]

    def _cluster_nodes(self) -> list[dict[str, float]]:
        return self._cluster_view()[1]

    def _cluster_view(self) -> tuple[dict[str, float], list[dict[str, float]]]:
        fetched_at, totals, nodes, _ = self._cluster
        if self.clock() - fetched_at > CLUSTER_TTL_S:
            totals = dict(ray.cluster_resources())
            alive = [n for n in ray.nodes() if n.get("Alive")]
            nodes = [dict(n["Resources"]) for n in alive]
            self._cluster = (self.clock(), totals, nodes, sorted(str(n["NodeID"]) for n in alive))
        return totals, nodes

    def _node_ids(self) -> list[str]:
        self._cluster_view()
        return self._cluster[3]

    def _operator(self, kind: str) -> type[Operator]:
        if kind not in self._classes:
            from operators.registry import load_path

            self._classes[kind] = load_path(self.operators[kind])
        return self._classes[kind]
