"""Workflows on real processes: `strobe api` and `strobe worker`s with Ray, SQLite and local
storage. The official SDK's automations client drives the first test; the second kills a
worker with -9 and the API with -9 in the middle of a run, and the run still completes with
each step's output once."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.e2e.conftest import strobe_env
from tests.support.media import make_video
from tests.support.models import write_models
from tests.support.processes import Processes, free_port

ittybit = pytest.importorskip("ittybit")
pytestmark = pytest.mark.e2e
LEASE_S = 3  # short, so a dead worker's step comes back quickly


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    env = strobe_env(
        STROBE_DATA_DIR=str(tmp_path / "data"),
        STROBE_MODELS_DIR=str(write_models(tmp_path / "models")),
        STROBE_LEASE_SECONDS=str(LEASE_S),
        STROBE_FETCH_TIMEOUT="20",
        STROBE_MAX_ATTEMPTS="3",
    )
    running = Processes(tmp_path, env)
    try:
        yield running
    finally:
        running.close()


def wait_for_run(client: httpx.Client, automation_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        runs = client.get("/runs", params={"automation_id": automation_id}).json()
        if runs and runs[0]["status"] != "processing":
            return runs[0]
        assert time.monotonic() < deadline, runs
        time.sleep(0.5)


def fetched(client: httpx.Client, task_id: str, path: Path) -> Path:
    output = client.get(f"/tasks/{task_id}").json()["output"]
    path.write_bytes(httpx.get(output["url"], timeout=30).content)
    return path


def test_an_upload_through_the_sdk_runs_the_automation_to_the_end(
    processes: Processes, media_dir: Path, http_base: str, tmp_path: Path
) -> None:
    make_video(media_dir / "flow.mp4", width=320, height=180, seconds=2.0, audio=True)
    url = processes.start_api()
    processes.start("worker", "worker")
    sdk = ittybit.Ittybit(base_url=url, api_key="sk_e2e_a")
    made = sdk.automations.create(
        name="every upload",
        trigger={"kind": "event", "event": "media.created"},
        workflow=[
            {"kind": "image", "ref": "thumbnail", "width": 160},
            {"kind": "video", "width": 160, "next": [{"kind": "subtitles", "ref": "subtitles"}]},
        ],
        status="active",
    )
    upload = sdk.files.create(url=f"{http_base}/flow.mp4")  # a URL import makes a media
    headers = {"Authorization": "Bearer sk_e2e_a", "Accept-Version": "2025-08-20"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        run = wait_for_run(client, made.id, 240)
        assert run["status"] == "ready", run
        assert run["input"]["file_id"] == upload.id
        thumbnail, video = run["steps"]
        with av.open(str(fetched(client, thumbnail["task_id"], tmp_path / "t.jpg"))) as jpeg:
            frame = next(jpeg.decode(video=0))
        assert (frame.width, frame.height) == (160, 90)
        subtitles = video["next"][0]
        task = client.get(f"/tasks/{subtitles['task_id']}").json()
        assert task["parent_id"] == video["task_id"] and task["run_id"] == run["id"]
        vtt = fetched(client, subtitles["task_id"], tmp_path / "s.vtt").read_text()
        assert vtt.startswith("WEBVTT")
        media = client.get(f"/media/{upload.media_id}").json()
        assert {"thumbnail", "subtitles"} <= set(media["urls"])

        again = client.post(f"/automations/{made.id}/run", json={"file_id": upload.id})
        assert again.status_code == 201, again.text
        deadline = time.monotonic() + 240
        while client.get(f"/runs/{again.json()['id']}").json()["status"] == "processing":
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert client.get(f"/runs/{again.json()['id']}").json()["status"] == "ready"
    sdk.automations.delete(made.id)
    assert [a.id for a in sdk.automations.list()] == []


def leases(db: Path) -> dict[str, str]:
    """kind -> lease owner of the step tasks running now."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT kind, lease_owner FROM tasks WHERE status='processing' AND run_id IS NOT NULL"
        ).fetchall()
    return {kind: owner for kind, owner in rows if owner}


def test_a_run_survives_kill_9_of_a_worker_and_of_the_api(
    processes: Processes, media_dir: Path, tmp_path: Path
) -> None:
    source = make_video(media_dir / "long.mp4", width=640, height=360, seconds=20.0, audio=True)
    port = free_port()
    url = processes.start_api(port=port)
    headers = {"Authorization": "Bearer sk_e2e_a", "Accept-Version": "2025-08-20"}
    client = httpx.Client(base_url=url, headers=headers, timeout=30)
    workflow = [
        {"kind": "video", "width": 480, "next": [{"kind": "image", "start": 5, "ref": "frame"}]},
        {"kind": "audio", "format": "mp3", "next": [{"kind": "audio", "format": "wav"}]},
    ]
    made = client.post("/automations", json={"workflow": workflow, "status": "paused"}).json()
    with source.open("rb") as body:
        file = client.post("/files", files={"file": ("long.mp4", body)}).json()
    client.patch(f"/automations/{made['id']}", json={"status": "active"})
    victim = processes.start("worker-a", "worker")
    run = client.post(f"/automations/{made['id']}/run", json={"file_id": file["id"]}).json()

    db = tmp_path / "data" / "strobe.db"
    deadline = time.monotonic() + 120
    while f":{victim.pid}:" not in leases(db).get("video", ""):
        assert time.monotonic() < deadline, processes.log("worker-a")
        time.sleep(0.1)
    processes.kill9("worker-a")  # mid-transcode
    processes.kill9("api")
    processes.start("worker-b", "worker")
    url = processes.start_api("api-again", port=port)  # the same address, a new process

    deadline = time.monotonic() + 300
    while (shown := client.get(f"/runs/{run['id']}").json())["status"] == "processing":
        assert time.monotonic() < deadline, shown
        time.sleep(0.5)
    client.close()
    assert shown["status"] == "ready", shown
    with sqlite3.connect(db) as conn:
        steps = conn.execute(
            "SELECT step, attempts FROM tasks WHERE run_id=? ORDER BY step", (run["id"],)
        ).fetchall()
        outputs = conn.execute(
            "SELECT COUNT(*) FROM files f JOIN tasks t ON f.task_id = t.id WHERE t.run_id=?",
            (run["id"],),
        ).fetchone()[0]
    assert [s for s, _ in steps] == ["0", "0.0", "1", "1.0"]  # each step's task once
    assert dict(steps)["0"] >= 2  # the transcode really ran again after the kill
    assert outputs == 4
    objects = tmp_path / "data" / "objects" / "prj_a"
    for task_id in shown["tasks"]:
        assert len(list((objects / task_id).iterdir())) == 1  # overwritten, not duplicated
