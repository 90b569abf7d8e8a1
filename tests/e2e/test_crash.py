"""A worker killed with -9 mid-task: every task still ends ready, each output exactly once."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import strobe_env
from tests.support.media import make_video
from tests.support.processes import Processes

pytestmark = pytest.mark.e2e
TASKS = 8
LEASE_S = 3  # short, so the dead worker's tasks come back quickly


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    env = strobe_env(
        STROBE_DATA_DIR=str(tmp_path / "data"),
        STROBE_LEASE_SECONDS=str(LEASE_S),
        STROBE_FETCH_TIMEOUT="20",
        STROBE_MAX_ATTEMPTS="3",
    )
    running = Processes(tmp_path, env)
    try:
        yield running
    finally:
        running.close()


def leases_by_owner(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT lease_owner, COUNT(*) FROM tasks WHERE status='processing' GROUP BY lease_owner"
        ).fetchall()
    return {owner: count for owner, count in rows if owner}


def test_killing_a_worker_mid_task_loses_nothing(
    processes: Processes, tmp_path: Path, media_dir: Path, http_base: str
) -> None:
    make_video(media_dir / "crash.mp4", width=160, height=90, seconds=1.0)
    url = processes.start_api()
    victim = processes.start("worker-a", "worker")
    processes.start("worker-b", "worker")
    db = tmp_path / "data" / "strobe.db"
    headers = {"Authorization": "Bearer sk_e2e_a"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        ids = [
            client.post(
                "/tasks", json={"url": f"{http_base}/slow/3/crash.mp4", "format": "jpeg"}
            ).json()["data"]["id"]
            for _ in range(TASKS)
        ]
        # Wait until the victim holds tasks, then crash it.
        deadline = time.monotonic() + 90
        while not any(f":{victim.pid}:" in owner for owner in leases_by_owner(db)):
            assert time.monotonic() < deadline, processes.log("worker-a")
            time.sleep(0.1)
        processes.kill9("worker-a")

        deadline = time.monotonic() + 180
        while True:
            tasks = [client.get(f"/tasks/{i}").json()["data"] for i in ids]
            if all(t["status"] in ("ready", "error") for t in tasks):
                break
            assert time.monotonic() < deadline, [t["status"] for t in tasks]
            time.sleep(0.5)
    assert [t["status"] for t in tasks] == ["ready"] * TASKS, [t["error"] for t in tasks]
    with sqlite3.connect(db) as conn:
        retried = conn.execute("SELECT COUNT(*) FROM tasks WHERE attempts > 1").fetchone()[0]
        assert conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == TASKS
    assert retried >= 1  # the victim's tasks really ran twice
    objects = tmp_path / "data" / "objects" / "prj_a"
    for task_id in ids:
        assert len(list((objects / task_id).iterdir())) == 1  # overwritten, not duplicated
