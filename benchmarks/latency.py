"""End-to-end latency of a trivial task: POST /tasks until GET shows `ready`.

Starts `strobe serve` (API + embedded Ray workers) twice, once on SQLite and once on a
throwaway PostgreSQL, uploads one small PNG, then runs trivial image tasks (a 16 px PNG
from it) one after another, polling every 10 ms. Prints median and p99 per mode and the
Postgres/SQLite ratio.

    .venv/bin/python -m benchmarks.latency [--tasks 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.media import make_image
from tests.support.postgres import create_database, postgres_server
from tests.support.processes import Processes

KEY = "sk_bench"


def measure(data_dir: Path, tasks: int, **env: str) -> list[float]:
    processes = Processes(data_dir, {"STROBE_API_KEYS": f"{KEY}:prj_bench", **env})
    try:
        url = processes.start_api("serve", "serve", "--data-dir", str(data_dir))
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            picture = make_image(data_dir / "in.png", width=64, height=48).read_bytes()
            file_id = client.post("/files?filename=in.png", content=picture).json()["data"]["id"]
            run_one(client, file_id)  # warm-up: starts the actor
            return [run_one(client, file_id) for _ in range(tasks)]
    finally:
        processes.close()


def run_one(client: httpx.Client, file_id: str) -> float:
    started = time.perf_counter()
    task_id = client.post("/tasks", json={"file_id": file_id, "format": "png", "width": 16}).json()[
        "data"
    ]["id"]
    while True:
        status = client.get(f"/tasks/{task_id}").json()["data"]["status"]
        if status == "ready":
            return time.perf_counter() - started
        if status == "error":
            raise RuntimeError(f"task {task_id} failed")
        time.sleep(0.01)


def summary(name: str, latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    print(
        f"{name:10s} n={len(ordered):3d}  median {median * 1000:7.1f} ms  "
        f"p99 {p99 * 1000:7.1f} ms  min {ordered[0] * 1000:6.1f} ms"
    )
    return {"median": median, "p99": p99}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strobe-latency-") as tmp:
        root = Path(tmp)
        (root / "sqlite").mkdir()
        embedded = summary("sqlite", measure(root / "sqlite", args.tasks))
        with postgres_server(durable=True) as server:
            (root / "pg").mkdir()
            database = create_database(server.url())
            pg = summary("postgres", measure(root / "pg", args.tasks, STROBE_DATABASE_URL=database))
    print(
        f"postgres/sqlite  median x{pg['median'] / embedded['median']:.2f}  "
        f"p99 x{pg['p99'] / embedded['p99']:.2f}"
    )


if __name__ == "__main__":
    main()
