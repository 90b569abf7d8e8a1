"""Time budgets through a real `strobe serve`: a URL that sends its headers and then nothing
holds an actor only until the task's budget, the task ends `timeout`, and the same kind's
next task runs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.conftest import running_server
from tests.support.media import make_image

pytestmark = pytest.mark.e2e
BUDGET_S = 4
# The budget, the 10 s grace before a kill, an actor's start: far under the 120 s stall.
ENDS_WITHIN_S = 60


def wait_ended(client, task_id: str, within_s: float) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within_s
    while True:
        task = client.get(f"/tasks/{task_id}").json()["data"]
        if task["status"] in ("ready", "error"):
            return task
        assert time.monotonic() < deadline, f"still {task['status']} after {within_s} s"
        time.sleep(0.3)


def test_a_stalled_url_ends_in_timeout_and_frees_its_actor(
    tmp_path: Path, media_dir: Path, http_base: str
) -> None:
    make_image(media_dir / "stall.png", width=64, height=48)
    env = {
        "STROBE_TASK_TIMEOUT_S": str(BUDGET_S),
        "STROBE_FETCH_TIMEOUT": "120",  # the download's own limit is not what stops it
        "STROBE_MAX_ATTEMPTS": "1",
        "STROBE_ACTORS_PER_KIND": "1",  # one actor: the next task needs the stalled one's slot
    }
    with running_server(tmp_path, **env) as server, server.client() as client:
        started = time.monotonic()
        stalled = client.post(
            "/tasks", json={"url": f"{http_base}/stall/120/stall.png", "format": "png"}
        ).json()["data"]
        task = wait_ended(client, stalled["id"], ENDS_WITHIN_S)
        took = time.monotonic() - started
        assert (task["status"], task["error"]["code"]) == ("error", "timeout"), task
        assert "budget" in task["error"]["message"]
        assert took >= BUDGET_S  # not cut short either
        after = client.post(
            "/tasks", json={"url": f"{http_base}/stall.png", "format": "png", "width": 32}
        ).json()["data"]
        done = wait_ended(client, after["id"], ENDS_WITHIN_S)
        assert done["status"] == "ready", done
        assert done["output"]["width"] == 32
        metrics = client.get("/metrics").text
        assert "strobe_tasks_timed_out 1" in metrics.splitlines()
