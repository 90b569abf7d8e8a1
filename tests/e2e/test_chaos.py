"""Chaos while tasks run: an actor process killed, a Ray node lost, the S3 server restarting
mid-upload, the API process restarting. Every task ends, none is duplicated, none hangs.

Inputs arrive through /slow/N/ URLs, so tasks sit in processing (their actors busy
downloading) when the fault is injected. Processes are only ever found among those this
test started (by session id, tests.support.processes.session_processes).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import strobe_env
from tests.support.media import make_video
from tests.support.outputs import (
    file_rows_sqlite,
    local_objects,
    once_problems,
    s3_objects,
)
from tests.support.processes import Processes, free_port
from tests.support.ray_cluster import RAY_ENV, local_ray_cpus, ray_nodes
from tests.support.s3 import new_bucket
from tests.support.s3_outage import restarting_endpoint
from tests.support.tasks import create, mismatched, wait_ended

pytestmark = pytest.mark.e2e
RUNNING_ACTOR = "ray::OperatorActor.run"  # Ray's process title while a method runs
# Light and whole-CPU kinds whose outputs are quick to make from a 1 s clip with sound.
BODIES: list[dict[str, Any]] = [
    {"kind": "image", "format": "jpeg", "width": 64},
    {"kind": "video", "format": "mp4", "width": 64},
    {"kind": "thumbnails", "count": 2, "width": 64},
    {"kind": "audio", "format": "mp3"},
    {"kind": "image", "format": "png", "width": 48},
    {"kind": "video", "format": "webm", "width": 48},
]
# Room for every kind here at once, so what is tested is the fault, not placement when CPUs
# are scarce (test_stranding and test_soak run on 2 CPUs for that).
CPUS = 4
SLOW_S = 3  # each input arrives after this long: the window in which the fault lands
# A retried task waits out its backoff and runs again; a killed actor or node also costs
# a new actor start (a few seconds). These 6 tasks end 10-20 s after the fault on a 2-core
# machine (60 s with a lost node); 120 s leaves room for a shared one. A stranded task
# never ends.
END_BOUND_S = 120.0
FAULT_WAIT_S = 90.0  # to see the first task running, after starting the processes
S3_DOWN_S = 6.0  # longer than boto3's own retries (3 attempts), so Strobe's must work
LEASE_S = 3


@pytest.fixture(scope="module")
def clip(media_dir: Path) -> str:
    make_video(media_dir / "chaos.mp4", width=160, height=90, seconds=1.0, audio=True)
    return "chaos.mp4"


def chaos_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return strobe_env(
        STROBE_DATA_DIR=str(tmp_path / "data"),
        STROBE_FETCH_TIMEOUT="20",  # the slow inputs must not time out
        STROBE_MAX_ATTEMPTS="3",
        STROBE_LEASE_SECONDS=str(LEASE_S),
        **extra,
    )


def wait_for(what: str, found: Callable[[], Any], logs: list[Path]) -> Any:
    deadline = time.monotonic() + FAULT_WAIT_S
    while not (value := found()):
        if time.monotonic() > deadline:
            tails = "\n".join(p.read_text(errors="replace")[-3000:] for p in logs if p.exists())
            raise AssertionError(f"never saw {what} in {FAULT_WAIT_S:g} s\n{tails}")
        time.sleep(0.1)
    return value


def serve_actors(processes: Processes) -> list[int]:
    """Actor processes of this test's `strobe serve` (in the session it leads) running a task."""
    return processes.descendants("serve", RUNNING_ACTOR)


def retried(db: Path, ids: list[str]) -> int:
    marks = ",".join("?" * len(ids))
    with sqlite3.connect(db) as conn:
        query = f"SELECT count(*) FROM tasks WHERE attempts > 1 AND id IN ({marks})"
        return int(conn.execute(query, ids).fetchone()[0])


def assert_all_ready_once(
    tasks: dict[str, dict[str, Any]], ids: list[str], stored: dict[str, set[str]], db: Path
) -> None:
    wrong = mismatched(tasks, dict.fromkeys(ids, "ready"))
    assert not wrong, wrong
    problems = once_problems(tasks, file_rows_sqlite(db, ids), stored)
    assert not problems, problems


def test_an_actor_process_killed_mid_task(
    processes: Processes, tmp_path: Path, clip: str, http_base: str
) -> None:
    data = tmp_path / "data"
    processes.env = chaos_env(tmp_path, **local_ray_cpus(CPUS))
    url = processes.start_api("serve", "serve", "--data-dir", str(data))
    logs = [tmp_path / "serve.log"]
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer sk_e2e_a"}) as client:
        source = f"{http_base}/slow/{SLOW_S}/{clip}"
        ids = [create(client, {"url": source, **body}) for body in BODIES]
        # Only an actor of this server: a process in the session `strobe serve` leads.
        running = wait_for("a running actor", lambda: serve_actors(processes), logs)
        processes.kill9_descendant("serve", running[0])
        tasks = wait_ended(client, ids, END_BOUND_S, logs)
    assert_all_ready_once(tasks, ids, local_objects(data / "objects", "prj_a"), data / "strobe.db")
    assert retried(data / "strobe.db", ids) >= 1  # the killed actor's task ran again


def test_the_second_node_of_two_lost_mid_task(
    processes: Processes, tmp_path: Path, clip: str, http_base: str
) -> None:
    data = tmp_path / "data"
    processes.env = chaos_env(tmp_path, **RAY_ENV)
    logs = [tmp_path / "worker.log", tmp_path / "api.log"]
    with ray_nodes(tmp_path, nodes=2, cpus_per_node=2, env=processes.env) as cluster:
        url = processes.start_api()
        processes.start("worker", "worker", STROBE_RAY_ADDRESS=cluster.address)
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer sk_e2e_a"}) as client:
            source = f"{http_base}/slow/{SLOW_S}/{clip}"
            ids = [create(client, {"url": source, **body}) for body in BODIES]
            wait_for("an actor running on node 2", lambda: cluster.pids(1, RUNNING_ACTOR), logs)
            cluster.kill_node(1)
            tasks = wait_ended(client, ids, END_BOUND_S, logs)
    assert_all_ready_once(tasks, ids, local_objects(data / "objects", "prj_a"), data / "strobe.db")
    assert retried(data / "strobe.db", ids) >= 1  # what ran on the lost node ran again


def test_the_s3_server_restarting_mid_upload(
    processes: Processes, tmp_path: Path, clip: str, media_dir: Path, s3_endpoint: str
) -> None:
    data = tmp_path / "data"
    bucket = new_bucket(s3_endpoint)
    with restarting_endpoint(s3_endpoint, down_s=S3_DOWN_S) as s3:
        processes.env = chaos_env(
            tmp_path,
            STROBE_STORAGE_URL=f"s3://{bucket}/outputs",
            STROBE_S3_ENDPOINT_URL=s3.url,
            STROBE_SECRET_KEY="chaos-secret",
            **local_ray_cpus(CPUS),
        )
        url = processes.start_api("serve", "serve", "--data-dir", str(data))
        logs = [tmp_path / "serve.log"]
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer sk_e2e_a"}) as client:
            # Inputs are in the bucket too: tasks read from it as well as write to it.
            upload = client.post("/files", files={"file": (clip, (media_dir / clip).read_bytes())})
            assert upload.status_code == 201, upload.text
            s3.arm("/outputs/prj_a/tsk_")  # the first output upload restarts the server
            file_id = upload.json()["data"]["id"]
            ids = [create(client, {"file_id": file_id, **body}) for body in BODIES]
            tasks = wait_ended(client, ids, END_BOUND_S, logs)
    assert s3.restarts == 1
    stored = s3_objects(s3_endpoint, bucket, "outputs/prj_a/")
    assert_all_ready_once(tasks, ids, stored, data / "strobe.db")


def test_the_api_restarting_while_tasks_run(
    processes: Processes, tmp_path: Path, clip: str, http_base: str
) -> None:
    data = tmp_path / "data"
    processes.env = chaos_env(tmp_path, **local_ray_cpus(CPUS))
    port = free_port()
    url = processes.start_api(port=port)
    processes.start("worker", "worker")
    logs = [tmp_path / "worker.log", tmp_path / "api.log"]
    source = f"{http_base}/slow/{SLOW_S}/{clip}"
    requests = [({"url": source, **body}, f"chaos-{n}") for n, body in enumerate(BODIES)]
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer sk_e2e_a"}) as client:
        ids = [create(client, body, **{"Idempotency-Key": key}) for body, key in requests]
        restarted = False

        def restart_once(tasks: dict[str, dict[str, Any]]) -> None:
            nonlocal restarted
            if not restarted and any(t["status"] == "processing" for t in tasks.values()):
                restarted = True
                processes.kill9("api")
                processes.start_api(port=port)

        tasks = wait_ended(client, ids, END_BOUND_S, logs, poll_s=0.2, during=restart_once)
        assert restarted
        # A client that retries its POSTs after the restart gets the same tasks back.
        again = [
            client.post("/tasks", json=body, headers={"Idempotency-Key": key})
            for body, key in requests
        ]
        listed = client.get("/tasks", params={"limit": 100}).json()["meta"]["total"]
    assert [r.json()["data"]["id"] for r in again] == ids
    assert all(r.headers.get("Idempotent-Replayed") == "true" for r in again)
    assert listed == len(ids)
    assert_all_ready_once(tasks, ids, local_objects(data / "objects", "prj_a"), data / "strobe.db")
