"""Queue throughput: tasks leased and completed per second.

Several worker processes drain a queue of waiting tasks: lease a batch, then complete each
task with a small FileRecord. Compared:

* strobe-postgres  Strobe's PostgresStore (pool, `FOR UPDATE SKIP LOCKED`)
* bare-postgres    the baseline: one psycopg connection per worker, a hand-written
                   `SELECT … FOR UPDATE SKIP LOCKED` + `UPDATE` claim and an `UPDATE` +
                   file `INSERT` per completion, on the same tables in the same server
* strobe-sqlite    Strobe's SQLiteStore, for reference

Postgres runs in a throwaway cluster (tests/support/postgres.py) with its default,
durable settings (fsync, synchronous_commit on), as SQLite runs with synchronous=FULL.

    .venv/bin/python -m benchmarks.queue_throughput [--tasks 2000 --workers 4 --batch 10]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from pipeline.ids import now_iso
from pipeline.store import FileRecord, open_store
from pipeline.store.postgres import PostgresStore
from tests.support.postgres import create_database, postgres_server
from tests.support.records import file_record, output_for, task_record

LEASE_S, MAX_ATTEMPTS, KINDS = 60.0, 3, ["image"]
_INSERT_TASK = (
    "INSERT INTO tasks (id, project_id, kind, status, input_url, options, created, updated) "
    "VALUES (?,?,?,?,?,?,?,?)"
)
_INSERT_FILE = (
    "INSERT INTO files (id, project_id, object, kind, filename, mimetype, filesize, "
    "storage_key, info, task_id, created, updated) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
)


# --- workers (each in its own process) ----------------------------------------------------


def strobe_worker(url: str, owner: str, batch: int, start: Any, done: Any) -> None:
    store = open_store(url)
    count = 0
    start.wait(120)
    while tasks := store.lease(owner, KINDS, batch, LEASE_S, MAX_ATTEMPTS):
        for task in tasks:
            assert store.complete(task.id, owner, output_for(task), ran_on="bench")
        count += len(tasks)
    done.put((count, time.monotonic()))


def bare_worker(url: str, owner: str, batch: int, start: Any, done: Any) -> None:
    count = 0
    with psycopg.connect(url, autocommit=True) as db:
        start.wait(120)
        while True:
            with db.transaction():
                rows = db.execute(
                    "SELECT id, project_id, kind, status, options, created, updated, input_url "
                    "FROM tasks WHERE kind = ANY(%s) AND status = 'waiting' AND run_after <= %s "
                    "ORDER BY created, id LIMIT %s FOR UPDATE SKIP LOCKED",
                    (KINDS, time.time(), batch),
                ).fetchall()
                if rows:
                    db.execute(
                        "UPDATE tasks SET status = 'processing', lease_owner = %s, "
                        "lease_expires = %s, attempts = attempts + 1, updated = %s "
                        "WHERE id = ANY(%s)",
                        (owner, time.time() + LEASE_S, now_iso(), [r[0] for r in rows]),
                    )
            if not rows:
                break
            for task_id, project_id, *_ in rows:
                file_id = "file_" + task_id.removeprefix("tsk_")
                file = file_record(file_id=file_id, project_id=project_id, task_id=task_id)
                with db.transaction():
                    db.execute(
                        "UPDATE tasks SET status = 'ready', progress = 100, output_file_id = %s, "
                        "lease_owner = NULL, lease_expires = NULL, updated = %s "
                        "WHERE id = %s AND lease_owner = %s",
                        (file.id, now_iso(), task_id, owner),
                    )
                    db.execute(_INSERT_FILE, _file_row(file, task_id))
            count += len(rows)
    done.put((count, time.monotonic()))


# worker function, and whether it runs on Postgres (else SQLite)
VARIANTS: dict[str, tuple[Callable[..., None], bool]] = {
    "strobe-postgres": (strobe_worker, True),
    "bare-postgres": (bare_worker, True),
    "strobe-sqlite": (strobe_worker, False),
}


# --- one round: fill a fresh queue, let the workers drain it --------------------------------


def drain(worker: Callable[..., None], url: str, tasks: int, workers: int, batch: int) -> float:
    """Start the workers, release them at once; returns tasks per second."""
    context = multiprocessing.get_context("spawn")
    start, done = context.Barrier(workers + 1), context.Queue()
    processes = [
        context.Process(target=worker, args=(url, f"w{i}", batch, start, done))
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    start.wait(120)
    began = time.monotonic()
    finished = [done.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(30)
        assert process.exitcode == 0, f"a worker failed ({process.exitcode})"
    assert sum(count for count, _ in finished) == tasks, finished
    return tasks / (max(end for _, end in finished) - began)


def task_rows(tasks: int) -> list[tuple[Any, ...]]:
    made = (task_record(n=n) for n in range(tasks))
    return [
        (
            t.id,
            t.project_id,
            t.kind,
            t.status,
            t.input_url,
            json.dumps(t.options),
            t.created,
            t.updated,
        )
        for t in made
    ]


def _file_row(f: FileRecord, task_id: str) -> tuple[Any, ...]:
    info = json.dumps(f.info)
    return (
        f.id,
        f.project_id,
        f.object,
        f.kind,
        f.filename,
        f.mimetype,
        f.filesize,
        f.storage_key,
        info,
        task_id,
        f.created,
        f.updated,
    )


def postgres_queue(admin_url: str, tasks: int) -> str:
    url = create_database(admin_url)
    PostgresStore(url).close()  # the schema
    with psycopg.connect(url) as db, db.cursor() as cur:
        cur.executemany(_INSERT_TASK.replace("?", "%s"), task_rows(tasks))
        db.execute("ANALYZE tasks")
    return url


def sqlite_queue(directory: Path, tasks: int) -> str:
    path = directory / f"strobe-{time.monotonic_ns()}.db"
    open_store(f"sqlite:///{path}")  # the schema
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executemany(_INSERT_TASK, task_rows(tasks))
    return f"sqlite:///{path}"


def ready_count(url: str) -> int:
    if url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            return int(db.execute("SELECT COUNT(*) FROM tasks WHERE status='ready'").fetchone()[0])
    with psycopg.connect(url) as pg:
        row = pg.execute("SELECT COUNT(*) FROM tasks WHERE status='ready'").fetchone()
        return int(row[0]) if row else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    parser.add_argument("--batch", type=int, default=10, help="tasks leased at once")
    parser.add_argument("--rounds", type=int, default=5, help="the median round is reported")
    args = parser.parse_args(argv)

    rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with postgres_server(durable=True) as server, tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):  # interleaved, so drift in the machine hits every variant
            for name, (worker, on_postgres) in VARIANTS.items():
                if on_postgres:
                    url = postgres_queue(server.url(), args.tasks)
                else:
                    url = sqlite_queue(Path(tmp), args.tasks)
                rates[name].append(drain(worker, url, args.tasks, args.workers, args.batch))
                assert ready_count(url) == args.tasks, f"{name}: not every task is ready"

    print(
        f"queue throughput: {args.tasks} tasks, {args.workers} worker processes, "
        f"batches of {args.batch}, median of {args.rounds} rounds (lease + complete per second)"
    )
    median = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        spread = ", ".join(f"{v:.0f}" for v in values)
        print(f"  {name:16} {median[name]:8.0f} tasks/s   (rounds: {spread})")
    print("ratios: median of the per-round ratios (rounds run back to back, so less noisy)")
    for a, b in (("strobe-postgres", "bare-postgres"), ("strobe-sqlite", "strobe-postgres")):
        paired = [x / y for x, y in zip(rates[a], rates[b], strict=True)]
        spread = ", ".join(f"{r:.2f}" for r in paired)
        print(f"  {a} / {b} = {statistics.median(paired):.2f}   (rounds: {spread})")


if __name__ == "__main__":
    main()
