"""PostgreSQL restarts while tasks run: the API and workers reconnect and nothing is lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import strobe_env
from tests.support.media import make_video
from tests.support.postgres import PostgresServer, create_database, postgres_server
from tests.support.processes import Processes

pytestmark = pytest.mark.e2e
TASKS = 6


@pytest.fixture
def database() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


def test_tasks_survive_a_database_restart(
    database: PostgresServer, tmp_path: Path, media_dir: Path, http_base: str
) -> None:
    make_video(media_dir / "restart.mp4", width=160, height=90, seconds=1.0)
    env = strobe_env(
        STROBE_DATABASE_URL=create_database(database.url()),
        STROBE_FETCH_TIMEOUT="20",
        STROBE_LEASE_SECONDS="10",
    )
    processes = Processes(tmp_path, env)
    try:
        url = processes.start_api("serve", "serve", "--data-dir", str(tmp_path / "data"))
        headers = {"Authorization": "Bearer sk_e2e_a"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            ids = [
                client.post(
                    "/tasks", json={"url": f"{http_base}/slow/2/restart.mp4", "format": "jpeg"}
                ).json()["data"]["id"]
                for _ in range(TASKS)
            ]
            deadline = time.monotonic() + 60
            while client.get("/tasks?status=processing").json()["meta"]["total"] == 0:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            database.restart()  # every connection of the API and the workers is cut
            deadline = time.monotonic() + 180
            while True:
                try:
                    tasks = [client.get(f"/tasks/{i}").json()["data"] for i in ids]
                except (httpx.HTTPError, KeyError, TypeError):
                    tasks = []  # the API may answer 5xx for a moment while it reconnects
                if tasks and all(t["status"] in ("ready", "error") for t in tasks):
                    break
                assert time.monotonic() < deadline, processes.log("serve")
                time.sleep(0.5)
    finally:
        processes.close()
    assert [t["status"] for t in tasks] == ["ready"] * TASKS, [t["error"] for t in tasks]
