"""Cancellation and webhooks through real `strobe serve` processes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from pipeline.webhooks import verify
from tests.e2e.conftest import Server, running_server
from tests.e2e.test_image_tasks import wait_done
from tests.support.media import make_video
from tests.support.receiver import webhook_receiver

pytestmark = pytest.mark.e2e


def wait_status(client: httpx.Client, task_id: str, status: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while client.get(f"/tasks/{task_id}").json()["data"]["status"] != status:
        assert time.monotonic() < deadline, f"task {task_id} never reached {status}"
        time.sleep(0.05)


def test_cancelling_a_running_task_discards_its_result(
    server: Server, media_dir: Path, http_base: str
) -> None:
    make_video(media_dir / "cancel.mp4", width=160, height=90, seconds=1.0)
    with server.client() as client:
        task_id = client.post(
            "/tasks", json={"url": f"{http_base}/slow/3/cancel.mp4", "format": "png"}
        ).json()["data"]["id"]
        wait_status(client, task_id, "processing")
        cancelled = client.delete(f"/tasks/{task_id}").json()["data"]
        assert (cancelled["status"], cancelled["error"]["code"]) == ("error", "cancelled")
        time.sleep(4)  # the worker finishes its download and tries to complete
        task = client.get(f"/tasks/{task_id}").json()["data"]
    assert task["status"] == "error" and task["error"]["code"] == "cancelled"
    assert task["output"]["kind"] == "image" and "id" not in task["output"]


def test_webhook_survives_a_server_restart(tmp_path: Path, media_dir: Path, http_base: str) -> None:
    make_video(media_dir / "hooked.mp4", width=160, height=90, seconds=1.0)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # The receiver is down (503) for the first 3 deliveries; the server restarts meanwhile.
    with webhook_receiver(fail_first=3) as receiver:
        with running_server(data_dir) as first:
            with first.client() as client:
                body = {
                    "url": f"{http_base}/hooked.mp4",
                    "format": "jpeg",
                    "webhook_url": receiver.url,
                }
                task_id = client.post("/tasks", json=body).json()["data"]["id"]
                done, _ = wait_done(client, task_id)
                assert done["status"] == "ready"
            deadline = time.monotonic() + 30
            while receiver.refused < 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert receiver.refused >= 1 and not receiver.deliveries
        with running_server(data_dir) as second:
            deadline = time.monotonic() + 60
            while not receiver.deliveries and time.monotonic() < deadline:
                time.sleep(0.2)
            secret = (data_dir / "webhook_secret").read_text().strip()
    assert len(receiver.deliveries) == 1, f"refused {receiver.refused}"
    delivery = receiver.deliveries[0]
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    assert verify(secret, headers["strobe-timestamp"], delivery.body, headers["strobe-signature"])
    envelope = json.loads(delivery.body)
    assert envelope["data"]["id"] == task_id and envelope["data"]["status"] == "ready"
    assert envelope["data"]["output"]["url"].startswith(second.url)
