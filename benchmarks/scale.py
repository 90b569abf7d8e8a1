"""Scaling: throughput with 1 and 2 Ray nodes, and scheduling overhead at 1,000 queued tasks.

Production-shaped: a throwaway PostgreSQL (durable defaults), local storage, `strobe api`
and one `strobe worker` on the Ray head, as deploy/ runs it (KubeRay and the cluster
launcher put one worker on the head; its actors SPREAD over the nodes). Each node is
pinned to its own core with `taskset` (`ray start --num-cpus=2`, see NODE_CPUS), so on a
2-core machine a second node really adds a core; the worker keeps STROBE_ACTORS_PER_KIND =
2 per node (`image` actors ask for 0.5 CPU). API, worker and Postgres are not pinned.

1. Throughput: the same fixed workload (`--tasks` `image` tasks from one uploaded noisy
   1920x1080 PNG, resized to a 320 px JPEG, ~0.1 s of CPU each) on a 1-node and then a
   2-node cluster, after a warm-up that starts the actors. tasks/s = tasks / (first POST
   to last completion); the 2-node/1-node ratio.
2. Scheduling overhead at `--queued` queued tasks (2-node cluster): with the worker
   stopped, enqueue trivial tasks (an 8x8 PNG to 4 px); start the worker; time the first
   lease to the last completion (ms per task). Then, separately, the dispatcher's own
   per-task work measured directly: store lease (1 task per call, as in steady state),
   get_file (file_id inputs), complete, on a queue of the same size; and a Ray actor no-op
   round trip carrying a Job (submit + ray.wait + ray.get, as the pool does).

    .venv/bin/python -m benchmarks.scale [--tasks 200 --queued 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from PIL import Image

from pipeline.executor import Job
from pipeline.store.postgres import PostgresStore
from tests.support.postgres import PostgresServer, create_database, postgres_server
from tests.support.processes import Processes
from tests.support.ray_cluster import RAY_ENV, ray_cluster
from tests.support.records import file_record, output_for, task_record

KEY, PROJECT = "sk_bench", "prj_bench"
WORKLOAD = {"format": "jpeg", "width": 320}
TRIVIAL = {"format": "png", "width": 4}
ACTORS_PER_NODE = 2  # image actors ask for 0.5 CPU each
# Each node is pinned to one real core; it advertises 2 Ray CPUs so that after its two image
# actors (1.0) a 1-CPU actor of any other kind still "fits". On a full node the pool retires
# idle actors to make room for kinds that have no work at all (see RESULTS.md, Scaling), and
# every task then pays an actor restart; the benchmark counts restarts to show it did not.
NODE_CPUS = 2
LEASE_S, MAX_ATTEMPTS = 60.0, 3


# --- a Strobe deployment on an n-node cluster -----------------------------------------------


class Deployment:
    def __init__(self, root: Path, database: str, address: str, nodes: int) -> None:
        self.database = database
        env = {
            "STROBE_API_KEYS": f"{KEY}:{PROJECT}",
            "STROBE_DATA_DIR": str(root / "data"),
            "STROBE_DATABASE_URL": database,
            "STROBE_STORAGE_URL": f"file://{root / 'objects'}",
            "STROBE_SECRET_KEY": "bench-secret",
            "STROBE_ACTORS_PER_KIND": str(ACTORS_PER_NODE * nodes),
            "STROBE_RAY_ADDRESS": address,
            **RAY_ENV,
        }
        self.processes = Processes(root, env)
        self.url = self.processes.start_api()
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
        )

    def start_worker(self) -> None:
        self.processes.start("worker", "worker")

    def stop_worker(self) -> None:
        self.processes.stop("worker")

    def upload(self, path: Path) -> str:
        reply = self.client.post(f"/files?filename={path.name}", content=path.read_bytes())
        return str(reply.json()["data"]["id"])

    def post(self, file_id: str, options: dict[str, Any], count: int) -> None:
        for _ in range(count):
            reply = self.client.post("/tasks", json={"file_id": file_id, **options})
            assert reply.status_code == 201, reply.text

    def counts(self) -> dict[str, int]:
        with psycopg.connect(self.database) as db:
            rows = db.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status").fetchall()
        return {status: int(count) for status, count in rows}

    def wait_ready(self, total: int, timeout_s: float = 900) -> None:
        deadline = time.monotonic() + timeout_s
        while (counts := self.counts()).get("ready", 0) < total:
            assert not counts.get("error"), f"tasks failed: {counts}\n{self.worker_log()}"
            assert time.monotonic() < deadline, f"stuck at {counts}\n{self.worker_log()}"
            time.sleep(0.05)

    def completion_times(self) -> list[float]:
        """Unix times at which the ready tasks were recorded, in order."""
        with psycopg.connect(self.database) as db:
            rows = db.execute("SELECT updated FROM tasks WHERE status = 'ready'").fetchall()
        return sorted(
            datetime.fromisoformat(row[0].replace("Z", "+00:00")).timestamp() for row in rows
        )

    def nodes_used(self) -> int:
        with psycopg.connect(self.database) as db:
            row = db.execute("SELECT COUNT(DISTINCT ran_on) FROM tasks").fetchone()
        return int(row[0]) if row else 0

    def actor_starts(self) -> tuple[int, int]:
        """(actors started, idle actors retired) according to the worker's log."""
        log = self.processes.log("worker")
        return log.count("starting actor"), log.count("retired an idle")

    def worker_log(self) -> str:
        return (
            self.processes.log("worker")[-3000:]
            if (self.processes.log_dir / "worker.log").exists()
            else ""
        )

    def close(self) -> None:
        self.client.close()
        self.processes.close()


def noisy_png(path: Path, width: int, height: int) -> Path:
    """Random pixels: PNG cannot compress them, so decoding costs real CPU."""
    pixels = np.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


# --- 1. throughput of a fixed workload ----------------------------------------------------------


def throughput(root: Path, server: PostgresServer, nodes: int, tasks: int) -> dict[str, float]:
    root.mkdir()
    picture = noisy_png(root / "in.png", 1920, 1080)
    load = os.getloadavg()[0]
    with ray_cluster(root, nodes=nodes, cpus_per_node=NODE_CPUS, cores=range(nodes)) as address:
        deployment = Deployment(root, create_database(server.url()), address, nodes)
        try:
            deployment.start_worker()
            file_id = deployment.upload(picture)
            warm = ACTORS_PER_NODE * nodes  # starts every actor before the clock runs
            deployment.post(file_id, WORKLOAD, warm)
            deployment.wait_ready(warm)
            began = time.time()
            deployment.post(file_id, WORKLOAD, tasks)
            deployment.wait_ready(warm + tasks)
            elapsed = deployment.completion_times()[-1] - began
            used = deployment.nodes_used()
            starts, retired = deployment.actor_starts()
        finally:
            deployment.close()
    rate = tasks / elapsed
    print(
        f"  {nodes} node(s): {tasks} tasks in {elapsed:6.1f} s = {rate:5.2f} tasks/s  "
        f"(actors on {used} node(s); {starts} actor starts, {retired} retired; "
        f"load average before {load:.1f})"
    )
    return {"rate": rate, "elapsed": elapsed, "load": load}


# --- 2. scheduling overhead at N queued tasks -------------------------------------------------


def queued_drain(root: Path, server: PostgresServer, queued: int) -> dict[str, float]:
    """Worker stopped, N trivial tasks queued, worker started: first lease to last completion."""
    root.mkdir()
    tiny = noisy_png(root / "tiny.png", 8, 8)
    nodes = 2
    with ray_cluster(root, nodes=nodes, cpus_per_node=NODE_CPUS, cores=range(nodes)) as address:
        deployment = Deployment(root, create_database(server.url()), address, nodes)
        try:
            file_id = deployment.upload(tiny)
            began = time.monotonic()
            deployment.post(file_id, TRIVIAL, queued)
            enqueue_s = time.monotonic() - began
            first_lease = _watch_first_lease(deployment.database)
            deployment.start_worker()
            deployment.wait_ready(queued)
            leased_at = first_lease()
            done = deployment.completion_times()
            starts, retired = deployment.actor_starts()
            deployment.stop_worker()
            result_ray = ray_round_trip(address, queued)
        finally:
            deployment.close()
    total = done[-1] - leased_at
    steady = (done[-1] - done[0]) / (len(done) - 1)
    result = {
        "enqueue_ms": 1000 * enqueue_s / queued,
        "per_task_ms": 1000 * total / queued,
        "steady_ms": 1000 * steady,
        "first_done_s": done[0] - leased_at,
        **result_ray,
    }
    print(
        f"  {queued} queued trivial tasks, 2 nodes, {ACTORS_PER_NODE * nodes} actors: "
        f"first lease -> last completion {total:.1f} s = {result['per_task_ms']:.1f} ms/task "
        f"({1000 / result['per_task_ms']:.0f} tasks/s); steady state (first to last "
        f"completion) {result['steady_ms']:.1f} ms/task; first completion "
        f"{result['first_done_s']:.1f} s after the first lease (actor start-up); "
        f"{starts} actor starts, {retired} retired"
    )
    print(
        f"  enqueue through the API (one client, sequential POSTs): "
        f"{result['enqueue_ms']:.1f} ms/task"
    )
    return result


def _watch_first_lease(database: str) -> Callable[[], float]:
    """Polls every 5 ms for the first task to leave `waiting`; returns a getter of its time."""
    seen: list[float] = []

    def watch() -> None:
        with psycopg.connect(database, autocommit=True) as db:
            while not seen:
                row = db.execute("SELECT 1 FROM tasks WHERE status <> 'waiting' LIMIT 1").fetchone()
                if row:
                    seen.append(time.time())
                time.sleep(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()

    def first() -> float:
        thread.join(5)
        return seen[0]

    return first


def store_parts(server: PostgresServer, queued: int) -> dict[str, float]:
    """The dispatcher's store calls per task, one at a time as in steady state."""
    database = create_database(server.url())
    store = PostgresStore(database)
    try:
        source = file_record(file_id="file_benchsource")
        store.create_file(source)
        for n in range(queued):
            store.create_task(task_record(n=n, input_file_id=source.id, options=TRIVIAL))
        leases, gets, completes = [], [], []
        while True:
            started = time.perf_counter()
            tasks = store.lease("bench", ["image"], 1, LEASE_S, MAX_ATTEMPTS)
            leases.append(time.perf_counter() - started)
            if not tasks:
                break
            started = time.perf_counter()
            store.get_file(source.project_id, source.id)
            gets.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert store.complete(tasks[0].id, "bench", output_for(tasks[0]), ran_on="bench")
            completes.append(time.perf_counter() - started)
    finally:
        store.close()
    parts = {
        "lease": statistics.median(leases),
        "get_file": statistics.median(gets),
        "complete": statistics.median(completes),
    }
    return {name: 1000 * value for name, value in parts.items()}


class _Echo:
    """The no-op stand-in for OperatorActor: returns the job's id."""

    def run(self, job: Job) -> str:
        return job.task_id


def ray_round_trip(address: str, calls: int) -> dict[str, float]:
    """A no-op actor call carrying a Job, submitted and collected the way the pool does it
    (`actor.run.remote`, `ray.wait`, `ray.get`), from a driver on the cluster's machine."""
    import ray

    os.environ.update(RAY_ENV)
    ray.init(address=address, logging_level="ERROR")
    try:
        echo = ray.remote(num_cpus=0)(_Echo)
        actor = echo.options(scheduling_strategy="SPREAD").remote()
        job = Job("tsk_x", PROJECT, "image", TRIVIAL, input_key="x/in.png", owner="bench")
        ray.get(actor.run.remote(job))
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            ref = actor.run.remote(job)
            ray.wait([ref], num_returns=1, timeout=10)
            ray.get(ref)
            times.append(time.perf_counter() - started)
        started = time.perf_counter()
        ray.available_resources()
        available = time.perf_counter() - started
    finally:
        ray.shutdown()
    return {"actor_call": 1000 * statistics.median(times), "available_resources": 1000 * available}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200, help="the fixed workload")
    parser.add_argument("--queued", type=int, default=1000)
    args = parser.parse_args(argv)
    assert (os.cpu_count() or 1) >= 2, "needs 2 cores: one per Ray node"

    with postgres_server(durable=True) as server, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"1. throughput: {args.tasks} image tasks (1920x1080 noisy PNG -> 320 px JPEG)")
        one = throughput(root / "one", server, 1, args.tasks)
        two = throughput(root / "two", server, 2, args.tasks)
        print(f"  2-node / 1-node = {two['rate'] / one['rate']:.2f}")

        print(f"2. scheduling overhead at {args.queued} queued tasks")
        drained = queued_drain(root / "queued", server, args.queued)
        parts = store_parts(server, args.queued)
    ray_parts = {k: drained[k] for k in ("actor_call", "available_resources")}
    dispatcher = parts["lease"] + parts["get_file"] + parts["complete"] + ray_parts["actor_call"]
    print("  dispatcher's own work per task, measured directly (medians):")
    for name, value in {**parts, **ray_parts}.items():
        print(f"    {name:20s} {value:6.2f} ms")
    print(
        f"    sum (lease + get_file + complete + actor call) = {dispatcher:.2f} ms/task: one "
        f"dispatcher, serially, tops out near {1000 / dispatcher:.0f} tasks/s"
    )
    print(
        f"  overhead share of the observed {drained['steady_ms']:.1f} ms/task (steady state): "
        f"{dispatcher / drained['steady_ms']:.0%}"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
