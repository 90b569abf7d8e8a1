"""A workflow run against the same steps submitted by a client one after another.

Starts `strobe serve` (API + embedded Ray workers, SQLite, local storage), uploads a 60 s
640x360 video with sound, and runs four steps in two branches both ways:

    video (mp4, 320 wide) -> image (a frame at 30 s of the transcode)
    audio (mp3)           -> audio (wav of the mp3)

* **run**: one `POST /automations/{id}/run`, polled until the run ends;
* **client**: `POST /tasks` for each step in order, each waited on before the next, the
  `next` steps on their parent's output file, as a client without workflows does.

Every kind runs once before timing, so actor start-up is paid by neither. Prints each wall
time, the medians and client/run (above 1: the run is faster).

    .venv/bin/python -m benchmarks.workflow [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.media import make_video
from tests.support.processes import Processes

KEY = "sk_bench"
HEADERS = {"Authorization": f"Bearer {KEY}", "Accept-Version": "2025-08-20"}
BRANCHES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"kind": "video", "format": "mp4", "width": 320}, {"kind": "image", "start": 30}),
    ({"kind": "audio", "format": "mp3"}, {"kind": "audio", "format": "wav"}),
]
WORKFLOW = [{**parent, "next": [child]} for parent, child in BRANCHES]


def wait_task(client: httpx.Client, task_id: str) -> dict[str, Any]:
    while True:
        task = client.get(f"/tasks/{task_id}").json()
        if task["status"] == "ready":
            return task
        if task["status"] == "error":
            raise RuntimeError(f"task {task_id}: {task['error']}")
        time.sleep(0.05)


def task(client: httpx.Client, file_id: str, step: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/tasks", json={"file_id": file_id, **step})
    answer.raise_for_status()
    return wait_task(client, answer.json()["id"])


def by_client(client: httpx.Client, file_id: str) -> float:
    started = time.perf_counter()
    for parent, child in BRANCHES:
        made = task(client, file_id, parent)
        task(client, made["output"]["id"], child)
    return time.perf_counter() - started


def by_run(client: httpx.Client, automation_id: str, file_id: str) -> float:
    started = time.perf_counter()
    answer = client.post(f"/automations/{automation_id}/run", json={"file_id": file_id})
    answer.raise_for_status()
    run_id = answer.json()["id"]
    while (run := client.get(f"/runs/{run_id}").json())["status"] == "processing":
        time.sleep(0.05)
    if run["status"] != "ready":
        raise RuntimeError(f"run {run_id}: {run['steps']}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strobe-bench-workflow-") as tmp:
        data = Path(tmp)
        source = make_video(
            data / "in.mp4", width=640, height=360, seconds=60.0, fps=25, audio=True
        )
        processes = Processes(data, {"STROBE_API_KEYS": f"{KEY}:prj_bench"})
        try:
            url = processes.start_api("serve", "serve", "--data-dir", str(data / "strobe"))
            with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
                with source.open("rb") as body:
                    upload = client.post("/files", files={"file": ("in.mp4", body)})
                file_id = upload.json()["id"]
                automation = client.post("/automations", json={"workflow": WORKFLOW}).json()
                by_client(client, file_id)  # warm-up: every kind's actor started
                runs, clients = [], []
                for repeat in range(args.repeats):  # interleaved, so drift hits both
                    clients.append(by_client(client, file_id))
                    runs.append(by_run(client, automation["id"], file_id))
                    print(f"repeat {repeat + 1}: client {clients[-1]:.2f} s, run {runs[-1]:.2f} s")
        finally:
            processes.close()
    client_s, run_s = statistics.median(clients), statistics.median(runs)
    print(f"median: client one step at a time {client_s:.2f} s, workflow run {run_s:.2f} s")
    print(f"client / run = {client_s / run_s:.2f}")


if __name__ == "__main__":
    main()
