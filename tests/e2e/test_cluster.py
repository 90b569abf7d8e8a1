"""Production topology: PostgreSQL, an S3 server, a two-node Ray cluster, `strobe api` and two
`strobe worker` processes. Tasks complete, outputs land in the bucket, both nodes did work.

The tasks are transcodes of a few seconds each, not instant ones: the head node's actors
start first (Ray keeps warm processes there), and with tasks of a few milliseconds they
would finish the whole batch before the second node's actors are ready."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.e2e.conftest import strobe_env
from tests.support.media import make_video
from tests.support.postgres import create_database
from tests.support.processes import Processes
from tests.support.ray_cluster import RAY_ENV, ray_cluster
from tests.support.s3 import list_keys, new_bucket

pytestmark = pytest.mark.e2e
TASKS = 50


def test_fifty_tasks_across_two_nodes(
    processes: Processes,
    tmp_path: Path,
    postgres_url: str,
    s3_endpoint: str,
    media_dir: Path,
    http_base: str,
) -> None:
    make_video(media_dir / "cluster.mp4", width=320, height=180, seconds=4.0)
    bucket = new_bucket(s3_endpoint)
    database_url = create_database(postgres_url)
    processes.env = strobe_env(
        STROBE_DATA_DIR=str(tmp_path / "data"),
        STROBE_DATABASE_URL=database_url,
        STROBE_STORAGE_URL=f"s3://{bucket}/outputs",
        STROBE_S3_ENDPOINT_URL=s3_endpoint,
        STROBE_SECRET_KEY="cluster-secret",
        **RAY_ENV,
    )
    with ray_cluster(tmp_path) as address:
        url = processes.start_api()
        for name in ("worker-1", "worker-2"):
            processes.start(name, "worker", STROBE_RAY_ADDRESS=address)
        headers = {"Authorization": "Bearer sk_e2e_a"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            ids = [
                client.post(
                    "/tasks",
                    json={"url": f"{http_base}/cluster.mp4", "format": "mp4", "width": 320},
                ).json()["data"]["id"]
                for _ in range(TASKS)
            ]
            deadline = time.monotonic() + 300
            while True:
                listing = client.get("/tasks?status=ready&limit=100").json()
                if listing["meta"]["total"] == TASKS:
                    break
                assert time.monotonic() < deadline, processes.log("worker-1")
                time.sleep(1)
            task = client.get(f"/tasks/{ids[0]}").json()["data"]
    presigned = httpx.get(task["output"]["url"], timeout=30)
    assert presigned.status_code == 200 and presigned.content[4:8] == b"ftyp"  # MP4
    keys = list_keys(s3_endpoint, bucket)
    assert len(keys) == TASKS and all(key.startswith("outputs/prj_a/tsk_") for key in keys)
    with psycopg.connect(database_url) as conn:
        nodes = conn.execute(
            "SELECT DISTINCT ran_on FROM tasks WHERE id = ANY(%s)", (ids,)
        ).fetchall()
    assert len(nodes) == 2, nodes  # the work really spread over both Ray nodes
