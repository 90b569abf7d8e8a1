"""Routing by hardware on a two-node Ray cluster: video (which declares `nvenc`) lands on
the node that advertises `nvenc`, and runs on plain CPU nodes when none does."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from pipeline.client.http import StrobeClient
from tests.e2e.conftest import strobe_env
from tests.support.media import make_video
from tests.support.processes import Processes
from tests.support.ray_cluster import RAY_ENV, node_ids_with, ray_cluster

pytestmark = pytest.mark.e2e
TASKS = 4


def run_videos(
    processes: Processes, tmp_path: Path, node_resources: Sequence[Mapping[str, float]]
) -> tuple[set[str], set[str]]:
    """Run TASKS video tasks on a two-node cluster; (nodes they ran on, nodes with nvenc)."""
    data = tmp_path / "data"
    processes.env = strobe_env(STROBE_DATA_DIR=str(data), **RAY_ENV)
    clip = make_video(tmp_path / "clip.mp4", width=160, height=90, seconds=0.4)
    with ray_cluster(tmp_path, node_resources=node_resources) as address:
        url = processes.start_api()
        processes.start("worker", "worker", STROBE_RAY_ADDRESS=address)
        with StrobeClient(url, "sk_e2e_a") as client:
            file_id = client.upload(clip)["id"]
            ids = [
                client.create_task({"file_id": file_id, "format": "mp4", "width": 64 + 16 * n})[
                    "id"
                ]
                for n in range(TASKS)
            ]
            deadline = time.monotonic() + 180
            for task_id in ids:
                task = client.wait(task_id, timeout_s=max(1.0, deadline - time.monotonic()))
                assert task["status"] == "ready", (task, processes.log("worker"))
        nvenc_nodes = node_ids_with(address, "nvenc")
    with sqlite3.connect(data / "strobe.db") as db:
        marks = ",".join("?" * len(ids))
        ran_on = {r[0] for r in db.execute(f"SELECT ran_on FROM tasks WHERE id IN ({marks})", ids)}
    return ran_on, nvenc_nodes


def test_video_lands_on_the_node_that_advertises_nvenc(
    processes: Processes, tmp_path: Path
) -> None:
    ran_on, nvenc_nodes = run_videos(processes, tmp_path, [{}, {"nvenc": 2}])
    assert len(nvenc_nodes) == 1
    assert ran_on == nvenc_nodes


def test_video_falls_back_to_cpu_nodes_when_none_has_nvenc(
    processes: Processes, tmp_path: Path
) -> None:
    ran_on, nvenc_nodes = run_videos(processes, tmp_path, [{"other": 1}, {}])
    assert nvenc_nodes == set()
    assert len(ran_on) >= 1 and None not in ran_on  # all ran, on plain nodes
    assert "no node has nvenc: video actors run without it" in processes.log("worker")
