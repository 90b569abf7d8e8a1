"""API throughput: `strobe api` against a bare FastAPI app returning the same JSON, in one run.

wrk (2 threads, 64 connections by default, loopback) loads, one after another:

* `GET /tasks/{id}` on `strobe api` and on the bare app (same body, same route shape);
* `POST /tasks` on both (the bare app answers 201 with the same JSON, stores nothing);
* `GET /tasks/{id}` on both again, each request for one of 1,000 of those tasks at random,
  so that concurrent reads of one id (which PostgreSQL's coalesced reads share) are rare;
* the queue's lease + complete rate on the same store, right after (4 worker processes
  drain the tasks the POSTs made, as `benchmarks/queue_throughput.py` does);
* `GET /tasks/{id}` again while 8 worker processes lease and complete tasks (one at a time,
  `--work-ms` of "work" each), for its p99;
* last, with 100,000 tasks bulk-inserted: `GET /tasks` at page 1, page 900 and by cursor
  (`after` the last row of page 899, so the same rows as page 900).

Each `strobe api` variant (`--api-workers 1 2` → one process, then `--workers 2`) gets a
fresh data dir, SQLite and local storage (the single-machine default); `--postgres` also
runs them on a throwaway PostgreSQL (tests/support/postgres.py). Every run is bounded by
`--duration` seconds, every server is stopped by its PID. wrk comes from Debian
(`apt-get install -y wrk`); it must be on PATH.

    .venv/bin/python -m benchmarks.api_throughput [--duration 10 --api-workers 1 2 --postgres]

`--no-sqlite` skips the SQLite variants; `--requests-only` measures the GET and POST rows only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from pipeline.store import open_store
from tests.support.bulk import seed
from tests.support.processes import Processes, free_port
from tests.support.records import output_for

KEY, PROJECT = "sk_bench", "prj_bench"
TASK = {"kind": "image", "url": "https://example.com/in.jpg", "format": "jpeg", "width": 64}
LEASE_S, MAX_ATTEMPTS = 60.0, 3
_MANY_IDS_LUA = """ids = {{{ids}}}
request = function()
  return wrk.format("GET", "/tasks/" .. ids[math.random(#ids)])
end
"""
_POST_LUA = """wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
"""


# --- the bare baseline ----------------------------------------------------------------------


def bare_app(body_path: str) -> Any:
    """A FastAPI app that answers GET /tasks/{id} and POST /tasks with the stored JSON."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app = FastAPI()
    body = json.loads(Path(body_path).read_text())

    @app.get("/tasks/{task_id}")
    async def get_task(task_id: str) -> dict[str, Any]:
        return body  # type: ignore[no-any-return]

    @app.post("/tasks")
    async def create_task(task: dict[str, Any]) -> JSONResponse:
        return JSONResponse(body, status_code=201)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve_bare(body_path: str, port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app(body_path), host="127.0.0.1", port=port, log_level="warning")


# --- load -------------------------------------------------------------------------------------


def wrk(url: str, args: argparse.Namespace, lua: Path | None = None) -> dict[str, float]:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s"]
    command += ["--latency", "--timeout", "10s", "-H", f"Authorization: Bearer {KEY}"]
    if lua is not None:
        command += ["-s", str(lua)]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=args.duration + 30, check=True
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rate, "p50_ms": _latency(out, "50%"), "p99_ms": _latency(out, "99%"),
            "non_2xx": float(errors.group(1)) if errors else 0.0}  # fmt: skip


def _latency(out: str, label: str) -> float:
    found = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if found is None:
        return float("nan")
    value, unit = float(found.group(1)), found.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def drain(store_url: str, workers: int, kind: str, seconds: float, work_ms: float = 0.0,
          batch: int = 10) -> tuple[int, float]:  # fmt: skip
    """Worker processes lease and complete `kind` tasks until none wait or time is up;
    returns (tasks completed, seconds)."""
    context = multiprocessing.get_context("spawn")
    done = context.Queue()
    start = context.Event()
    procs = [
        context.Process(
            target=_worker,
            args=(store_url, f"bench-{n}", kind, batch, seconds, work_ms, start, done),
        )
        for n in range(workers)
    ]
    for p in procs:
        p.start()
    time.sleep(1.0)  # each opens its store
    began = time.perf_counter()
    start.set()
    counts = [done.get(timeout=seconds + 60) for _ in procs]
    elapsed = time.perf_counter() - began
    for p in procs:
        p.join(timeout=30)
    return sum(counts), elapsed


def _worker(url: str, owner: str, kind: str, batch: int, seconds: float, work_ms: float,
            start: Any, done: Any) -> None:  # fmt: skip
    store = open_store(url)
    count = 0
    start.wait(120)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (
        tasks := store.lease(owner, [kind], batch, LEASE_S, MAX_ATTEMPTS)
    ):
        for task in tasks:
            if work_ms:
                time.sleep(work_ms / 1000)
            store.complete(task.id, owner, output_for(task), ran_on="bench")
            count += 1
    done.put(count)


# --- one variant --------------------------------------------------------------------------


@contextlib.contextmanager
def api(store_url: str | None, api_workers: int, root: Path) -> Iterator[tuple[str, str]]:
    """`strobe api` on a fresh data dir; yields (its URL, the store URL)."""
    data = Path(tempfile.mkdtemp(prefix="api-", dir=root))
    env = {"STROBE_DATA_DIR": str(data), "STROBE_API_KEYS": f"{KEY}:{PROJECT}"}
    if store_url:
        env["STROBE_DATABASE_URL"] = store_url
    url_of_store = store_url or f"sqlite:///{data / 'strobe.db'}"
    procs = Processes(root, env)
    args = ("api", "--workers", str(api_workers)) if api_workers > 1 else ("api",)
    try:
        yield procs.start_api("api", *args), url_of_store
    finally:
        procs.close()


def measure(name: str, store_url: str | None, api_workers: int, args: argparse.Namespace,
            root: Path, bare: str) -> dict[str, Any]:  # fmt: skip
    results: dict[str, Any] = {"variant": name}
    headers = {"Authorization": f"Bearer {KEY}"}
    with api(store_url, api_workers, root) as (url, url_of_store):
        created = httpx.post(f"{url}/tasks", json=TASK, headers=headers).json()
        task_id = created["data"]["id"]
        results["get"] = wrk(f"{url}/tasks/{task_id}", args)
        results["bare_get"] = wrk(f"{bare}/tasks/{task_id}", args)
        lua = root / "post.lua"
        lua.write_text(_POST_LUA.format(body=json.dumps(TASK), key=KEY))
        results["post"] = wrk(f"{url}/tasks", args, lua)
        results["bare_post"] = wrk(f"{bare}/tasks", args, lua)
        many = root / "many.lua"
        ids = ", ".join(f'"{task_id}"' for task_id in _task_ids(url, headers, 1000))
        many.write_text(_MANY_IDS_LUA.format(ids=ids))
        results["get_many"] = wrk(f"{url}/tasks/x", args, many)
        results["bare_get_many"] = wrk(f"{bare}/tasks/x", args, many)
        if args.requests_only:
            return results
        # The tasks the POSTs made, drained by 4 workers: the queue's rate on this store.
        completed, seconds = drain(url_of_store, 4, "image", args.duration)
        results["lease_complete"] = {"tasks": completed, "rps": completed / seconds}
        # Refill the queue, then GET /tasks/{id} while 8 workers lease and complete.
        _post_many(url, headers, args.loaded_tasks)
        with ThreadPoolExecutor(1) as drainer:
            pending = drainer.submit(
                drain, url_of_store, 8, "image", args.duration + 5, args.work_ms, 1
            )
            time.sleep(2.0)  # workers started and leasing
            results["get_loaded"] = wrk(f"{url}/tasks/{task_id}", args)
            completed, seconds = pending.result(timeout=args.duration + 120)
        results["loaded_workers"] = {"tasks": completed, "rps": completed / seconds}
        # Last, so the queue runs above saw only the tasks the POSTs made.
        store = open_store(url_of_store)
        seed(store, {PROJECT: 100_000})
        with contextlib.suppress(AttributeError):
            store.close()  # type: ignore[attr-defined]
        results["list"] = _lists(url, args, headers)
    return results


def _lists(url: str, args: argparse.Namespace, headers: dict[str, str]) -> dict[str, Any]:
    at_900 = httpx.get(f"{url}/tasks", params={"page": 899}, headers=headers).json()
    after = at_900["meta"]["cursors"]["after"]  # the last row before page 900
    return {
        "page_1": wrk(f"{url}/tasks?page=1", args),
        "page_900": wrk(f"{url}/tasks?page=900", args),
        "cursor_900": wrk(f"{url}/tasks?after={after}", args),
    }


def _task_ids(url: str, headers: dict[str, str], count: int) -> list[str]:
    ids: list[str] = []
    with httpx.Client(headers=headers, timeout=30) as client:
        for page in range(1, count // 100 + 1):
            listed = client.get(f"{url}/tasks", params={"page": page, "limit": 100}).json()
            ids += [task["id"] for task in listed["data"]]
    return ids[:count]


def _post_many(url: str, headers: dict[str, str], count: int) -> None:
    with httpx.Client(headers=headers, timeout=30) as client:
        for _ in range(count):
            client.post(f"{url}/tasks", json=TASK).raise_for_status()


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--api-workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    parser.add_argument("--loaded-tasks", type=int, default=3000, help="queued for the p99 run")
    parser.add_argument("--work-ms", type=float, default=5.0, help="per task in the p99 run")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL variants only")
    parser.add_argument(
        "--requests-only",
        action="store_true",
        help="GET /tasks/{id} and POST /tasks only (no queue, loaded p99 or list runs)",
    )
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--serve-bare", nargs=2, metavar=("BODY", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare[0], int(args.serve_bare[1]))
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    root = Path(tempfile.mkdtemp(prefix="strobe-bench-api-"))
    variants: list[tuple[str, str | None, int]] = [
        (f"sqlite x{n}", None, n) for n in args.api_workers if not args.no_sqlite
    ]
    runs: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        bare = stack.enter_context(_bare(root))
        if args.postgres:
            from tests.support.postgres import create_database, postgres_server

            server = stack.enter_context(postgres_server(durable=True))
            for n in args.api_workers:
                variants.append((f"postgres x{n}", create_database(server.url()), n))
        for name, store_url, n in variants:
            runs.append(measure(name, store_url, n, args, root, bare))
            _report(runs[-1])
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))
    shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _bare(root: Path) -> Iterator[str]:
    """The bare app on a free port, answering with a task as `strobe api` shows it."""
    body = root / "task.json"
    body.write_text(json.dumps(_sample_task()))
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.api_throughput", "--serve-bare", str(body)]
    proc = subprocess.Popen([*command, str(port)], env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _sample_task() -> dict[str, Any]:
    """A waiting task's envelope as `strobe api` answers it (ids are the same length)."""
    stamp = "2026-12-04T00:00:00.000Z"
    task = {"id": "tsk_" + "a" * 22, "object": "task", "kind": "image",
            "input": TASK["url"], "output": {"kind": "image", "format": "jpeg", "width": 64},
            "status": "waiting", "progress": 0, "error": None, "created": stamp,
            "updated": stamp}  # fmt: skip
    base = "http://127.0.0.1:8000"
    meta = {"id": "req_" + "a" * 22, "org_id": None, "project_id": PROJECT, "method": "GET",
            "host": base, "path": f"/tasks/{task['id']}", "version": "2024-08-21",
            "status": 200, "type": "object"}  # fmt: skip
    links = {"self": f"{base}/tasks/{task['id']}", "parent": f"{base}/tasks"}
    return {"meta": meta, "data": task, "links": links}


def _report(r: dict[str, Any]) -> None:
    def line(label: str, m: dict[str, float]) -> str:
        return (f"  {label:<28} {m['rps']:>8.0f} req/s  p50 {m['p50_ms']:6.1f} ms  "
                f"p99 {m['p99_ms']:7.1f} ms  non-2xx {m['non_2xx']:.0f}")  # fmt: skip

    print(f"\n== {r['variant']}")
    print(line("GET /tasks/{id}", r["get"]))
    print(line("  bare FastAPI", r["bare_get"]))
    print(f"  ratio GET  {r['get']['rps'] / r['bare_get']['rps']:.2f}")
    print(line("POST /tasks", r["post"]))
    print(line("  bare FastAPI", r["bare_post"]))
    print(f"  ratio POST {r['post']['rps'] / r['bare_post']['rps']:.2f}")
    print(line("GET /tasks/{id}, 1,000 ids", r["get_many"]))
    print(line("  bare FastAPI", r["bare_get_many"]))
    print(f"  ratio GET, 1,000 ids  {r['get_many']['rps'] / r['bare_get_many']['rps']:.2f}")
    if "lease_complete" not in r:  # --requests-only
        return
    lc = r["lease_complete"]
    print(f"  lease+complete (4 workers)   {lc['rps']:>8.0f} tasks/s ({lc['tasks']} tasks)")
    print(f"  POST / lease+complete  {r['post']['rps'] / lc['rps']:.2f}")
    print(line("GET /tasks/{id}, 8 workers", r["get_loaded"]))
    lw = r["loaded_workers"]
    print(f"  the 8 workers meanwhile      {lw['rps']:>8.0f} tasks/s ({lw['tasks']} tasks)")
    for name, m in r["list"].items():
        print(line(f"GET /tasks {name} (100k)", m))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
